"""Replacement or reissue of a vehicle licence (机动车行驶证 补领 / 换领) — mailed home.

ID card (the owner) → plate → the vehicle record in the traffic police's register (the
plate must be registered to this ID; a seized, scrapped or stolen vehicle gets no new
licence) → reason (lost: 补领; damaged or worn out: 换领) → review → apply (idempotent;
the back office checks ownership, status and unpaid fines again) → mailing address →
waybill → one QR payment of fee + postage → receipt. The mailing, payment and receipt lines
are `flows.mailing.FeeErrand`'s, shared with driving-licence renewal and reissue.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ValidationError

from flows.common_steps import (
    ApplicationInfo,
    CardHolder,
    WaybillInfo,
    abort_with,
    print_receipt,
    read_id_card,
)
from flows.availability import OfflinePolicy
from flows.deps import FlowDeps
from flows.engine import Abort, AbortReason, Done, FlowContext, Next
from flows.journal import Personal
from flows.mailing import FeeErrand, mailed_details
from flows.services.hall_models import VehicleLicenceRequest, VehicleQuery
from flows.services.models import FineQuery, MailingAddress
from flows.views import Busy, Choice, ChoiceOption, Form, FormField, Prompt, msg

Ctx = FlowContext["VehicleLicenceState", FlowDeps]

REASONS = ("lost", "damaged", "worn")
NO_LICENCE_STATUS = {"seized": "vehicle_seized", "scrapped": "vehicle_scrapped", "stolen": "vehicle_stolen"}


class VehicleLicenceState(BaseModel):
    holder: Personal[CardHolder | None] = None
    plate: Personal[str | None] = None
    vehicle_type: str | None = None
    brand: str | None = None
    registration_date: dt.date | None = None
    reason: str | None = None
    application: ApplicationInfo | None = None
    address: Personal[MailingAddress | None] = None
    waybill: WaybillInfo | None = None
    payment_order_id: str | None = None
    paid_fen: int | None = None


class VehicleLicenceOutcome(BaseModel):
    application_id: str
    reason: str
    fee_fen: int
    postage_fen: int
    total_fen: int
    payment_order_id: str
    waybill_id: str
    tracking_number: str
    receipt_printed: bool


async def ask_plate(ctx: Ctx, message: str) -> str:
    """A plate typed on the plate keyboard, normalised and checked like the back office does."""
    errors: dict[str, str] = {}
    while True:
        values = await ctx.ask(Form(message=msg(message), errors=errors, fields=(
            FormField(name="plate", label=msg("field.plate"), min_length=7, max_length=10, personal=True),)))
        try:
            plate = FineQuery(plate=values["plate"]).plate
        except ValidationError:
            errors = {"plate": "error.form.invalid_plate"}
            continue
        assert plate is not None
        return plate


class VehicleLicence(FeeErrand[VehicleLicenceState]):
    name = "vehicle-licence"
    version = 1
    State = VehicleLicenceState
    mail_contents = "机动车行驶证"
    payment_description = "行驶证补换领工本费及邮费"
    offline_policy = OfflinePolicy(reason="availability.offline.vehicle_licence")  # online only: docs/offline.md

    class Step(StrEnum):
        READ_ID = "read_id"
        PLATE = "plate"
        VEHICLE = "vehicle"
        REASON = "reason"
        REVIEW = "review"
        SUBMIT = "submit"
        ADDRESS = "address"
        MAIL = "mail"
        PAY = "pay"
        PRINT = "print"

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="vehicle_licence")
        return Next(step=self.Step.PLATE)

    async def step_plate(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.plate = await ask_plate(ctx, "vehicle_licence.plate")
        return Next(step=self.Step.VEHICLE)

    async def step_vehicle(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.plate
        query = VehicleQuery(plate=st.plate, owner_id_number=st.holder.id_number)
        record = await ctx.call(lambda: ctx.deps.vehicles.lookup_vehicle(query),
                                view=Prompt(message=msg("vehicle_licence.looking_up")))
        if record.status in NO_LICENCE_STATUS:
            code = NO_LICENCE_STATUS[record.status]
            raise abort_with(AbortReason.NOT_ELIGIBLE, code, msg(f"error.rejected.{code}", service="traffic", field=""),
                             msg("error.next.counter"))
        st.vehicle_type, st.brand, st.registration_date = record.vehicle_type, record.brand, record.registration_date
        return Next(step=self.Step.REASON)

    async def step_reason(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.reason = await ctx.ask(Choice(message=msg("vehicle_licence.reason"), options=tuple(
            ChoiceOption(key=r, label=msg(f"vehicle_licence.reason.{r}")) for r in REASONS)))
        return Next(step=self.Step.REVIEW)

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        answer = await ctx.ask(Choice(
            message=msg("vehicle_licence.review", plate=st.plate or "", brand=st.brand or "",
                        registered=str(st.registration_date), reason=st.reason or ""),
            options=(ChoiceOption(key="submit", label=msg("button.submit")),
                     ChoiceOption(key="edit", label=msg("button.change_details")))))
        if answer == "edit":
            return Next(step=self.Step.PLATE)
        return Next(step=self.Step.SUBMIT, allow_back=False)

    async def step_submit(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.plate and st.reason
        request = VehicleLicenceRequest(plate=st.plate, owner_id_number=st.holder.id_number,
                                        reason=st.reason)  # type: ignore[arg-type]
        app = await ctx.submit(ctx.deps.vehicles.apply_vehicle_licence, request, purpose="vehicle_licence",
                               view=Busy(message=msg("vehicle_licence.submitting")))
        st.application = ApplicationInfo(application_id=app.application_id, fee_fen=app.fee_fen)
        return Next(step=self.Step.ADDRESS, allow_back=False)

    # address, mail and pay: MailingSteps (through FeeErrand: fee + postage, the application id as reference)

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        from peripherals.printer.models import Receipt

        st = ctx.state
        assert st.application and st.waybill and st.payment_order_id and st.paid_fen is not None and st.reason
        receipt = Receipt(title="机动车行驶证补领" if st.reason == "lost" else "机动车行驶证换领",
                          lines=self.fee_receipt_lines(ctx, between=(f"车辆品牌：{st.brand}",)),
                          qr=st.waybill.tracking_number, footer="新的行驶证将邮寄到家，请凭邮件号查询")
        printed = await print_receipt(ctx, receipt)
        outcome = VehicleLicenceOutcome(
            application_id=st.application.application_id, reason=st.reason, fee_fen=st.application.fee_fen,
            postage_fen=st.waybill.postage_fen, total_fen=st.paid_fen, payment_order_id=st.payment_order_id,
            waybill_id=st.waybill.waybill_id, tracking_number=st.waybill.tracking_number, receipt_printed=printed,
        )
        return Done(outcome=outcome, message=msg("vehicle_licence.done", application_id=st.application.application_id),
                    details=mailed_details(st.waybill, printed))
