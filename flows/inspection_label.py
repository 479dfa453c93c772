"""The 6-year inspection-exempt label (六年免检 检验标志), applied for and mailed home.

Rules (flows/services/inspection_rules.py, enforced again by the back office): non-operating
small and mini passenger cars (vans excluded) get the label by post, without an on-site
inspection, in the cycle years of the policy in force — since the 2022 reform years 2,
4 and 8, with on-site inspections at years 6 and 10 (before it: years 2 and 4) —
provided the compulsory traffic insurance (交强险) is valid and the vehicle's traffic
violations are settled.

ID card (the owner) → vehicle details (plate, registration date, insurance end date) →
vehicle type → use → eligibility (the rules above, checked here for a clear answer and
again by the back office; unpaid fines looked up) → review → apply (idempotent) →
mailing address → waybill → QR payment of the postage → receipt.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ValidationError

from flows.availability import OfflineMode, OfflinePolicy
from flows.common_steps import (
    CardHolder,
    WaybillInfo,
    abort_with,
    print_receipt,
    read_id_card,
    yuan,
)
from flows.deps import FlowDeps
from flows.engine import Abort, AbortReason, Done, FlowContext, Next
from flows.services.inspection_rules import EXEMPT_TYPES, Decision, cycle_year, decide
from flows.journal import Personal
from flows.mailing import MailingSteps, mailed_details
from flows.offline_steps import PayLater, is_offline, provisional_reference, submit_or_queue
from flows.outbox import Delivered
from flows.services.errors import ServiceUnavailable
from flows.services.models import FineQuery, InspectionExemptRequest, MailingAddress
from flows.views import Busy, Choice, ChoiceOption, FieldKind, Form, FormField, msg

Ctx = FlowContext["InspectionState", FlowDeps]

VEHICLE_TYPES = ("small_passenger", "mini_passenger", "van", "truck", "motorcycle", "other")
inspection_year = cycle_year  # the even year of the 2-yearly cycle this label stands for


class InspectionState(BaseModel):
    holder: Personal[CardHolder | None] = None
    plate: Personal[str | None] = None
    registration_date: dt.date | None = None
    insurance_until: dt.date | None = None
    vehicle_type: str | None = None
    non_commercial: bool | None = None
    application_id: str | None = None
    label_number: str | None = None
    label_valid_until: dt.date | None = None
    inspection_year: int | None = None
    address: Personal[MailingAddress | None] = None
    waybill: WaybillInfo | None = None
    payment_order_id: str | None = None
    paid_fen: int | None = None
    provisional_ref: str | None = None  # the kiosk's reference while the application waits in the outbox
    pay_later: PayLater | None = None


class InspectionOutcome(BaseModel):
    """Ids the back office gives are None while their write still waits in the outbox."""

    application_id: str | None
    label_number: str | None
    inspection_year: int | None
    label_valid_until: dt.date | None
    postage_fen: int
    payment_order_id: str | None
    waybill_id: str | None
    tracking_number: str | None
    receipt_printed: bool
    provisional_reference: str | None = None
    pay_by: dt.date | None = None
    queued: bool = False


class InspectionLabel(MailingSteps[InspectionState]):
    name = "inspection-label"
    # docs/offline.md: accepted offline; the back office checks unpaid fines when the application arrives
    offline_policy = OfflinePolicy(mode=OfflineMode.PROVISIONAL, instead="availability.offline.label")
    version = 1
    State = InspectionState
    mail_contents = "机动车检验标志"
    payment_description = "检验标志邮费"

    class Step(StrEnum):
        READ_ID = "read_id"
        VEHICLE = "vehicle"
        VEHICLE_TYPE = "vehicle_type"
        USE = "use"
        ELIGIBILITY = "eligibility"
        REVIEW = "review"
        APPLY = "apply"
        ADDRESS = "address"
        MAIL = "mail"
        PAY = "pay"
        PRINT = "print"

    def accepted_reference(self, ctx: Ctx) -> str | None:
        return ctx.state.application_id or ctx.state.provisional_ref

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="inspection")
        return Next(step=self.Step.VEHICLE)

    async def step_vehicle(self, ctx: Ctx) -> Next | Done | Abort:
        errors: dict[str, str] = {}
        while True:
            values = await ctx.ask(Form(message=msg("inspection.vehicle"), errors=errors, fields=(
                FormField(name="plate", label=msg("field.plate"), min_length=7, max_length=10, personal=True),
                FormField(name="registration_date", label=msg("field.registration_date"), kind=FieldKind.DATE),
                FormField(name="insurance_until", label=msg("field.insurance_until"), kind=FieldKind.DATE),
            )))
            try:
                ctx.state.plate = FineQuery(plate=values["plate"]).plate
            except ValidationError:
                errors = {"plate": "error.form.invalid_plate"}
                continue
            if values["registration_date"] > ctx.deps.settings.current_date():
                errors = {"registration_date": "error.form.date_in_future"}
                continue
            ctx.state.registration_date = values["registration_date"]
            ctx.state.insurance_until = values["insurance_until"]
            return Next(step=self.Step.VEHICLE_TYPE)

    async def step_vehicle_type(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.vehicle_type = await ctx.ask(Choice(message=msg("inspection.vehicle_type"), options=tuple(
            ChoiceOption(key=t, label=msg(f"inspection.type.{t}")) for t in VEHICLE_TYPES)))
        return Next(step=self.Step.USE)

    async def step_use(self, ctx: Ctx) -> Next | Done | Abort:
        answer = await ctx.ask(Choice(message=msg("inspection.use"), options=(
            ChoiceOption(key="private", label=msg("inspection.use.private")),
            ChoiceOption(key="commercial", label=msg("inspection.use.commercial")),
        )))
        ctx.state.non_commercial = answer == "private"
        return Next(step=self.Step.ELIGIBILITY)

    async def step_eligibility(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.registration_date and st.insurance_until and st.plate
        today = ctx.deps.settings.current_date()
        if st.vehicle_type not in EXEMPT_TYPES or not st.non_commercial:
            raise abort_with(AbortReason.NOT_ELIGIBLE, "vehicle_not_eligible", msg("inspection.not_exempt_type"),
                             msg("error.next.inspection_station"))
        decision, year, _policy = decide(st.registration_date, today)
        if decision is Decision.ON_SITE:
            raise abort_with(AbortReason.NOT_ELIGIBLE, "inspection_required", msg("inspection.on_site_year", year=year),
                             msg("error.next.inspection_station"))
        if st.insurance_until < today:
            raise abort_with(AbortReason.NOT_ELIGIBLE, "insurance_expired", msg("inspection.insurance_expired"),
                             msg("error.next.renew_insurance"))
        plate = st.plate
        if is_offline(ctx):  # the back office refuses the application (and notifies) if fines are unpaid
            return Next(step=self.Step.REVIEW)
        try:
            fines = await ctx.call(lambda: ctx.deps.traffic.list_fines(FineQuery(plate=plate)),
                                   view=Busy(message=msg("inspection.checking_fines")))
        except ServiceUnavailable:
            return Next(step=self.Step.REVIEW)
        unpaid = [f for f in fines.fines if not f.paid]
        if unpaid:
            raise abort_with(AbortReason.NOT_ELIGIBLE, "unpaid_fines",
                             msg("inspection.unpaid_fines", count=len(unpaid), total=yuan(fines.unpaid_total_fen)),
                             msg("error.next.pay_fines_first"))
        return Next(step=self.Step.REVIEW)

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        answer = await ctx.ask(Choice(
            message=msg("inspection.review", plate=st.plate or "", registered=str(st.registration_date),
                        insurance_until=str(st.insurance_until)),
            options=(ChoiceOption(key="apply", label=msg("button.submit")),
                     ChoiceOption(key="edit", label=msg("button.edit")))))
        if answer == "edit":
            return Next(step=self.Step.VEHICLE)
        return Next(step=self.Step.APPLY, allow_back=False)

    async def step_apply(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.plate and st.registration_date and st.insurance_until and st.vehicle_type
        st.provisional_ref = provisional_reference(ctx)
        request = InspectionExemptRequest(
            plate=st.plate, owner_id_number=st.holder.id_number, vehicle_type=st.vehicle_type,  # type: ignore[arg-type]
            non_commercial=bool(st.non_commercial), registration_date=st.registration_date,
            compulsory_insurance_until=st.insurance_until, provisional_reference=st.provisional_ref,
        )
        sent = await submit_or_queue(ctx, "apply_inspection_exempt", request, purpose="label",
                                     reference=st.provisional_ref, view=Busy(message=msg("inspection.applying")))
        if isinstance(sent, Delivered):
            label = sent.result
            st.application_id, st.label_number = label.application_id, label.label_number
            st.label_valid_until, st.inspection_year = label.valid_until, label.inspection_year
        return Next(step=self.Step.ADDRESS, allow_back=False)

    # address, mail and pay: MailingSteps

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        from peripherals.printer.models import Receipt, ReceiptLine

        st = ctx.state
        assert st.waybill and (st.application_id or st.provisional_ref) and (st.payment_order_id or st.pay_later)
        if st.application_id:
            assert st.label_number and st.label_valid_until and st.inspection_year
            lines = [ReceiptLine(text=f"受理编号：{st.application_id}"),
                     ReceiptLine(text=f"检验标志号：{st.label_number}"),
                     ReceiptLine(text=f"有效期至：{st.label_valid_until.isoformat()}")]
        else:
            lines = [ReceiptLine(text=f"临时受理号：{st.provisional_ref}", bold=True),
                     ReceiptLine(text="网络中断，申请已暂存，恢复后自动提交；审核结果以短信或邮寄通知告知")]
        if st.pay_later:
            lines += [ReceiptLine(text=f"待缴邮费：{yuan(st.pay_later.amount_fen)}", bold=True),
                      ReceiptLine(text=f"请于{st.pay_later.pay_by.isoformat()}前扫描下方二维码缴费")]
        else:
            lines.append(ReceiptLine(text=f"邮费已付：{yuan(st.paid_fen or 0)}"))
        lines.append(ReceiptLine(text="邮件号：将以短信告知") if st.waybill.queued
                     else ReceiptLine(text=f"邮件号：{st.waybill.tracking_number}", bold=True))
        qr = st.pay_later.qr if st.pay_later else (st.waybill.tracking_number or st.provisional_ref or "")
        receipt = Receipt(title="免检车辆检验标志申领", lines=lines, qr=qr, footer="检验标志将邮寄到家，请凭邮件号查询")
        printed = await print_receipt(ctx, receipt)
        outcome = InspectionOutcome(
            application_id=st.application_id, label_number=st.label_number, inspection_year=st.inspection_year,
            label_valid_until=st.label_valid_until, postage_fen=st.waybill.postage_fen,
            payment_order_id=st.payment_order_id, waybill_id=st.waybill.waybill_id or None,
            tracking_number=st.waybill.tracking_number or None, receipt_printed=printed,
            provisional_reference=st.provisional_ref, pay_by=st.pay_later.pay_by if st.pay_later else None,
            queued=not st.application_id or st.waybill.queued or bool(st.pay_later),
        )
        message = (msg("inspection.done", label_number=st.label_number) if st.application_id
                   else msg("inspection.done_provisional", reference=st.provisional_ref))
        return Done(outcome=outcome, message=message, details=mailed_details(st.waybill, printed, st.pay_later))
