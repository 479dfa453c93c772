"""Every endpoint through the real client against a real server and SQLite file."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from backoffice import seed
from backoffice.app import TZ
from backoffice.testing import CITIZEN_ID, CITIZEN_NAME, address, make_id, medical, pay
from flows.services import BackOffice, ServiceRejected
from flows.services.models import (
    FinePaymentRequest,
    FineQuery,
    InspectionExemptRequest,
    InvoiceRequest,
    LicenceQuery,
    LicenceReissueRequest,
    LicenceRenewalRequest,
    PaymentOrderRequest,
    RealNameCheck,
    WaybillRequest,
)

TODAY = dt.datetime.now(TZ).date()


def _plate_with_fines(count: int) -> str:
    for n in range(10_000, 10_500):
        plate = f"渝A{n}"
        if len(seed.fines_for_plate(plate, TODAY, TZ)) == count:
            return plate
    raise AssertionError("no such plate")  # pragma: no cover


def _exempt_request(plate: str, **changes) -> InspectionExemptRequest:
    values = dict(
        plate=plate, owner_id_number=CITIZEN_ID, vehicle_type="small_passenger", non_commercial=True,
        registration_date=TODAY - dt.timedelta(days=3 * 365 + 300),
        compulsory_insurance_until=TODAY + dt.timedelta(days=200),
    )
    values.update(changes)
    return InspectionExemptRequest(**values)


def _invoice(**changes) -> InvoiceRequest:
    values = dict(
        buyer_name=CITIZEN_NAME, buyer_id_number=CITIZEN_ID, amount_fen=10_000, item="房屋租赁服务",
        real_name_check=RealNameCheck(method="face", passed=True, reference="face-check-000001", score=0.93),
    )
    values.update(changes)
    return InvoiceRequest(**values)


async def test_client_implements_every_interface(client):
    assert isinstance(client, BackOffice)
    assert (await client.health()).status == "ok"


async def test_licence_lookup_is_deterministic_and_in_renewal_window(client):
    first = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    again = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    assert first == again
    assert first.status == "valid" and first.renewal_window_open
    assert first.yearly_exam_required  # born 1949: 70 or older


async def test_minor_has_no_licence(client):
    minor = make_id(f"500103{TODAY.year - 10}0101123")
    with pytest.raises(ServiceRejected) as info:
        await client.lookup_licence(LicenceQuery(id_number=minor))
    assert info.value.code == "licence_not_found" and info.value.status_code == 404


async def test_renewal_accepted_and_listed(client, server, keys):
    record = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    application = await client.renew_licence(
        LicenceRenewalRequest(id_number=CITIZEN_ID, licence_class=record.licence_class, medical=medical()),
        idempotency_key=keys("renewal"),
    )
    assert application.kind == "licence_renewal" and application.fee_fen == 1_000
    assert keys.submissions(server.url) == [
        {"idempotency_key": keys("renewal"), "kind": "licence_renewal", "id": application.application_id,
         "created_at": application.accepted_at.isoformat()}
    ]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"vision_left": 4.5}, "medical.vision_left"),
        ({"colour_vision": "red_green_deficient"}, "medical.colour_vision"),
        ({"hearing_right": False}, "medical.hearing_right"),
    ],
)
async def test_renewal_refused_on_medical_grounds(client, server, changes, field, keys):
    record = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    with pytest.raises(ServiceRejected) as info:
        await client.renew_licence(
            LicenceRenewalRequest(id_number=CITIZEN_ID, licence_class=record.licence_class, medical=medical(**changes)),
            idempotency_key=keys("renewal"),
        )
    assert (info.value.code, info.value.field, info.value.status_code) == ("medical_requirements_not_met", field, 422)
    assert keys.submissions(server.url) == []


async def test_renewal_refused_for_old_certificate_and_wrong_class(client, keys):
    record = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    old = medical(examined_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=200))
    with pytest.raises(ServiceRejected, match="older than 6 months") as info:
        await client.renew_licence(
            LicenceRenewalRequest(id_number=CITIZEN_ID, licence_class=record.licence_class, medical=old), idempotency_key=keys("renewal")
        )
    assert info.value.code == "medical_certificate_expired"
    other = "A1" if record.licence_class != "A1" else "C1"
    with pytest.raises(ServiceRejected) as info:
        await client.renew_licence(
            LicenceRenewalRequest(id_number=CITIZEN_ID, licence_class=other, medical=medical()), idempotency_key=keys("renewal")
        )
    assert info.value.code == "licence_class_mismatch"


async def test_reissue(client, server, keys):
    record = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    application = await client.reissue_licence(
        LicenceReissueRequest(id_number=CITIZEN_ID, licence_class=record.licence_class, photo_ref="photo-0002-abcdef"),
        idempotency_key=keys("reissue"),
    )
    assert application.kind == "licence_reissue" and application.new_valid_until == record.valid_until
    assert [s["kind"] for s in keys.submissions(server.url)] == ["licence_reissue"]


async def test_licence_errands_refuse_a_failed_real_name_check(client, keys):
    record = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    failed = RealNameCheck(method="face", passed=False, reference="face-check-000004", score=0.31)
    with pytest.raises(ServiceRejected) as info:
        await client.reissue_licence(LicenceReissueRequest(id_number=CITIZEN_ID, licence_class=record.licence_class,
                                                           photo_ref="photo-0002-abcdef", real_name_check=failed),
                                     idempotency_key=keys("reissue"))
    assert info.value.code == "real_name_check_failed"
    with pytest.raises(ServiceRejected) as info:
        await client.renew_licence(LicenceRenewalRequest(id_number=CITIZEN_ID, licence_class=record.licence_class,
                                                         medical=medical(), real_name_check=failed),
                                   idempotency_key=keys("renewal"))
    assert info.value.code == "real_name_check_failed"
    passed = RealNameCheck(method="face", passed=True, reference="face-check-000005", score=0.66)
    application = await client.reissue_licence(
        LicenceReissueRequest(id_number=CITIZEN_ID, licence_class=record.licence_class, photo_ref="photo-0002-abcdef",
                              real_name_check=passed), idempotency_key=keys("reissue-2"))
    assert application.kind == "licence_reissue"


async def test_fines_by_id_and_by_plate_agree(client):
    by_id = await client.list_fines(FineQuery(id_number=CITIZEN_ID))
    assert 0 <= len(by_id.fines) <= 3
    plate = seed.plate_for(CITIZEN_ID)
    assert by_id == await client.list_fines(FineQuery(plate=plate))
    counts = {len((await client.list_fines(FineQuery(id_number=make_id(f"50010319850101{n:03d}")))).fines) for n in range(40)}
    assert counts <= {0, 1, 2, 3} and len(counts) > 1


async def test_fine_payment_end_to_end(client, server, keys):
    fines = await client.list_fines(FineQuery(id_number=CITIZEN_ID))
    assert fines.fines and fines.unpaid_total_fen == sum(f.amount_fen for f in fines.fines)
    ids = [f.fine_id for f in fines.fines]
    order = await client.create_order(
        PaymentOrderRequest(amount_fen=fines.unpaid_total_fen, description="交通违法罚款"), idempotency_key=keys("order")
    )
    with pytest.raises(ServiceRejected) as info:
        await client.pay_fines(FinePaymentRequest(fine_ids=ids, payment_order_id=order.order_id), idempotency_key=keys("fines"))
    assert info.value.code == "payment_not_completed"
    pay(server.url, order.order_id)
    receipt = await client.pay_fines(FinePaymentRequest(fine_ids=ids, payment_order_id=order.order_id), idempotency_key=keys("fines"))
    assert receipt.total_fen == fines.unpaid_total_fen and receipt.fine_ids == ids
    after = await client.list_fines(FineQuery(id_number=CITIZEN_ID))
    assert all(f.paid for f in after.fines) and after.unpaid_total_fen == 0
    with pytest.raises(ServiceRejected) as info:
        await client.pay_fines(FinePaymentRequest(fine_ids=ids, payment_order_id=order.order_id), idempotency_key=keys("fines-again"))
    assert info.value.code == "fine_already_paid"


async def test_fine_payment_amount_must_match(client, server, keys):
    fines = await client.list_fines(FineQuery(plate=_plate_with_fines(2)))
    order = await client.create_order(PaymentOrderRequest(amount_fen=100, description="交通违法罚款"), idempotency_key=keys("order"))
    pay(server.url, order.order_id)
    with pytest.raises(ServiceRejected) as info:
        await client.pay_fines(
            FinePaymentRequest(fine_ids=[f.fine_id for f in fines.fines], payment_order_id=order.order_id), idempotency_key=keys("fines")
        )
    assert info.value.code == "amount_mismatch"


async def test_inspection_exempt_label(client, server, keys):
    label = await client.apply_inspection_exempt(_exempt_request(_plate_with_fines(0)), idempotency_key=keys("label"))
    assert label.inspection_year == 4 and label.fee_fen == 0 and label.valid_until > TODAY
    assert [s["kind"] for s in keys.submissions(server.url)] == ["inspection_exempt"]


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"vehicle_type": "van"}, "vehicle_not_eligible"),
        ({"non_commercial": False}, "vehicle_not_eligible"),
        ({"registration_date": TODAY.replace(year=TODAY.year - 6)}, "inspection_required"),
        ({"compulsory_insurance_until": TODAY - dt.timedelta(days=1)}, "insurance_expired"),
        ({"plate": _plate_with_fines(1)}, "unpaid_fines"),
    ],
)
async def test_inspection_exempt_refusals(client, changes, code, keys):
    with pytest.raises(ServiceRejected) as info:
        await client.apply_inspection_exempt(_exempt_request(**{"plate": _plate_with_fines(0), **changes}), idempotency_key=keys("label"))
    assert info.value.code == code


async def test_tax_invoice_and_pdf(client, keys):
    invoice = await client.issue_invoice(_invoice(), idempotency_key=keys("invoice"))
    assert len(invoice.invoice_number) == 20 and invoice.invoice_number.isdigit()
    assert invoice.net_fen + invoice.tax_fen == invoice.amount_fen == 10_000 and invoice.tax_fen == 291
    printed = "\n".join(invoice.printable_lines)
    assert CITIZEN_ID not in printed and CITIZEN_NAME not in printed and "002X" in printed
    pdf = await client.fetch_invoice_pdf(invoice.invoice_number)
    assert pdf.startswith(b"%PDF-") and invoice.invoice_number.encode("utf-16-be").hex().upper().encode() in pdf


async def test_tax_invoice_needs_a_passed_real_name_check(client, keys):
    failed = RealNameCheck(method="face", passed=False, reference="face-check-000002", score=0.2)
    with pytest.raises(ServiceRejected) as info:
        await client.issue_invoice(_invoice(real_name_check=failed), idempotency_key=keys("invoice"))
    assert info.value.code == "real_name_check_failed"
    staff = RealNameCheck(method="staff", passed=True, reference="staff-check-000003")
    assert (await client.issue_invoice(_invoice(real_name_check=staff), idempotency_key=keys("invoice"))).amount_fen == 10_000


async def test_waybill_and_tracking(client, keys):
    waybill = await client.create_waybill(WaybillRequest(address=address(), contents="机动车驾驶证"), idempotency_key=keys("waybill"))
    assert waybill.tracking_number.endswith("CN") and waybill.destination == "重庆市重庆市" and waybill.fee_fen == 1_500
    far = await client.create_waybill(
        WaybillRequest(address=address(province="北京市", city="北京市", district="朝阳区"), contents="发票"), idempotency_key=keys("waybill-far")
    )
    assert far.fee_fen == 2_000 and far.tracking_number != waybill.tracking_number
    tracking = await client.track(waybill.tracking_number)
    assert tracking.status == "created" and tracking.events[0].location == "重庆市"
    with pytest.raises(ServiceRejected) as info:
        await client.track("EA999999995CN")
    assert info.value.code == "tracking_number_not_found"


async def test_payment_order_lifecycle(client, server, keys):
    order = await client.create_order(PaymentOrderRequest(amount_fen=1_000, description="驾驶证工本费"), idempotency_key=keys("order"))
    assert order.status == "pending" and order.order_id in order.qr_payload
    assert (await client.get_order(order.order_id)).status == "pending"
    pay(server.url, order.order_id)
    paid = await client.get_order(order.order_id)
    assert paid.status == "paid" and paid.paid_at is not None
    with pytest.raises(ServiceRejected) as info:
        await client.cancel_order(order.order_id, idempotency_key=keys("cancel"))
    assert info.value.code == "order_already_paid"
    other = await client.create_order(PaymentOrderRequest(amount_fen=500, description="邮费"), idempotency_key=keys("order-2"))
    assert (await client.cancel_order(other.order_id, idempotency_key=keys("cancel-2"))).status == "cancelled"
    third = await client.create_order(PaymentOrderRequest(amount_fen=500, description="邮费"), idempotency_key=keys("order-3"))
    httpx.post(f"{server.url}/v1/_test/payments/{third.order_id}/expire", timeout=5).raise_for_status()
    assert (await client.get_order(third.order_id)).status == "expired"
    with pytest.raises(ServiceRejected) as info:
        await client.get_order("PO20000101999999")
    assert info.value.code == "payment_order_not_found"


async def test_payment_becomes_paid_after_configured_delay(start_backoffice, make_client, keys):
    server = start_backoffice(pay_after_s=0.2)
    client = make_client(server.url)
    order = await client.create_order(PaymentOrderRequest(amount_fen=1_000, description="驾驶证工本费"), idempotency_key=keys("order"))
    assert order.status == "pending"
    await asyncio.sleep(0.35)
    assert (await client.get_order(order.order_id)).status == "paid"


@pytest.mark.parametrize(
    "build, code, field",
    [
        (lambda: LicenceQuery.model_construct(id_number="110105194912310021"), "invalid_id_number", "id_number"),
        (lambda: FineQuery.model_construct(id_number=None, plate="渝I12345"), "invalid_plate", "plate"),
        (lambda: FineQuery.model_construct(id_number=None, plate=None), "invalid_query", None),
    ],
)
async def test_server_validates_what_the_client_did_not(client, build, code, field):
    request = build()
    call = client.lookup_licence if isinstance(request, LicenceQuery) else client.list_fines
    with pytest.raises(ServiceRejected) as info:
        await call(request)
    assert (info.value.code, info.value.field, info.value.status_code) == (code, field, 422)
    assert "110105194912310021" not in str(info.value)


async def test_server_validates_phone_and_licence_class(client, keys):
    bad_address = address().model_copy(update={"phone": "12345678901"})
    with pytest.raises(ServiceRejected) as info:
        await client.create_waybill(WaybillRequest(address=bad_address, contents="证件"), idempotency_key=keys("waybill"))
    assert (info.value.code, info.value.field) == ("invalid_phone", "address.phone")
    bad_class = LicenceRenewalRequest.model_construct(id_number=CITIZEN_ID, licence_class="Z9", medical=medical(), certificate_issued_at=None)
    with pytest.raises(ServiceRejected) as info:
        await client.renew_licence(bad_class, idempotency_key=keys("renewal"))
    assert info.value.code == "invalid_licence_class"


async def test_amounts_are_integer_fen(server):
    async with httpx.AsyncClient() as raw:
        response = await raw.post(
            f"{server.url}/v1/payments/orders", json={"amount_fen": 10.5, "description": "x"}, headers={"Idempotency-Key": "s20:order"}
        )
    assert response.status_code == 422 and response.json()["error"]["field"] == "amount_fen"
