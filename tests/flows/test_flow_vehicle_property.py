"""Vehicle licence (行驶证) and property-certificate mailing, in-process on the simulators and the
reference back office."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from kiosk.runflow import AnswersFile

from .flow_support import FAST_PAYMENT, example_answers, run_and_assert_wiped


def spec(flow: str, **answers) -> AnswersFile:
    return example_answers(flow, settings=FAST_PAYMENT, answers=answers)


@pytest.mark.timeout(60)
def test_vehicle_licence_lost_is_reissued_and_mailed(backoffice, tmp_path):
    r = run_and_assert_wiped("vehicle-licence", spec("vehicle-licence"), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert out["application_id"].startswith("VL") and out["total_fen"] == 1000 + 1500
    assert [s["kind"] for s in submissions(backoffice.url)] == ["vehicle_licence", "waybill", "payment_order"]
    printed = r.deps.sims["printer"].printed[-1]
    assert "机动车行驶证补领" in printed.texts[0] and any("工本费" in t for t in printed.texts)


@pytest.mark.timeout(60)
def test_someone_elses_plate_is_refused_before_anything_is_submitted(backoffice, tmp_path):
    r = run_and_assert_wiped("vehicle-licence", spec("vehicle-licence", plate={"plate": "渝A12345"}),
                             backoffice.url, tmp_path / "s")
    assert r.outcome.reason is AbortReason.NOT_ELIGIBLE and r.outcome.code == "not_vehicle_owner"
    assert r.result.views[-1].what.key == "error.rejected.not_vehicle_owner"
    assert submissions(backoffice.url) == []


@pytest.mark.timeout(60)
def test_a_malformed_plate_is_asked_again(backoffice, tmp_path):
    r = run_and_assert_wiped("vehicle-licence", spec("vehicle-licence", plate=[{"plate": "渝I123456"}, {"plate": "渝AH0290"}]),
                             backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED
    forms = [v for v in r.result.views if v.step == "plate" and v.kind.value == "form"]
    assert forms[1].errors == {"plate": "error.form.invalid_plate"}


@pytest.mark.timeout(60)
def test_property_certificate_is_released_once_and_the_clerk_gets_a_pickup_slip(backoffice, tmp_path):
    r = run_and_assert_wiped("property-certificate", spec("property-certificate"), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert len(out["pickup_code"]) == 8 and out["mailing_id"].startswith("PM")
    kinds = [s["kind"] for s in submissions(backoffice.url)]
    assert kinds == ["certificate_mailing", "waybill", "payment_order"]
    citizen, clerk = r.deps.sims["printer"].printed[-2:]
    assert out["tracking_number"] in " ".join(citizen.texts) and out["pickup_code"] not in " ".join(citizen.texts)
    assert any(out["pickup_code"] in t for t in clerk.texts)
    # the post clerk's check at the registration office
    ok = httpx.get(f"{backoffice.url}/v1/property/mailings/{out['mailing_id']}/pickup/{out['pickup_code']}")
    bad = httpx.get(f"{backoffice.url}/v1/property/mailings/{out['mailing_id']}/pickup/00000000")
    assert ok.status_code == 200 and bad.status_code == 404
    # a second session for the same certificate is told it is already on its way
    again = run_and_assert_wiped("property-certificate", spec("property-certificate"), backoffice.url, tmp_path / "t")
    assert again.outcome.code == "certificate_already_released"
    assert again.result.views[-1].next.key == "property.ask_office"


@pytest.mark.timeout(60)
def test_a_certificate_not_ready_is_refused_with_the_office_to_ask(backoffice, tmp_path):
    from backoffice.hall_seed import certificate_for
    from peripherals.idcard.id_number import complete

    sim_id = complete("50010319880315123")  # the ID card simulator's default card (王晓东)
    not_ready = next(f"{n:012d}" for n in range(260312000000, 260312100000)
                     if certificate_for(sim_id, f"BDC{n:012d}").status == "not_ready")
    r = run_and_assert_wiped("property-certificate", spec("property-certificate", reference={"reference": not_ready}),
                             backoffice.url, tmp_path / "s")
    assert r.outcome.reason is AbortReason.NOT_ELIGIBLE and r.outcome.code == "certificate_not_ready"
    assert submissions(backoffice.url) == []

