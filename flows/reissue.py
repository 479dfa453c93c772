"""Reissue of a lost or damaged driving licence (Order 162 Art. 69: the ID card only, no exam).

ID card → licence on file (a revoked, expired or lapsed licence cannot be reissued here:
an expired one is renewed instead, with the medical check) → consent to the licence
photo, and separately (optional) to the face comparison → real-name check: the live face
against the card holder (flows/face_check.py), or staff in person with their PIN — always
offered, and the only way without the face consent (a reissued licence goes to whoever
applies, so the applicant must be the holder: 本人办理) → lost or damaged → licence photo
(or call staff) → review → submit (idempotent, with the check's method, decision, score and
reference) → mailing address → waybill → QR payment of fee + postage → receipt.
"""

from __future__ import annotations

import datetime as dt

from enum import StrEnum

from pydantic import BaseModel

from flows.common_steps import (
    ApplicationInfo,
    CardHolder,
    LicenceInfo,
    PhotoRecord,
    WaybillInfo,
    abort_with,
    ask_consent,
    print_receipt,
    read_id_card,
    staff_needed,
)
from flows.deps import FlowDeps
from flows.face_check import real_name_check
from flows.engine import Abort, AbortReason, Done, FlowContext, Next
from flows.journal import Personal
from flows.licence_errand import LicenceErrand
from flows.mailing import mailed_details
from flows.offline_steps import PayLater
from flows.medical_rules import Errand, certificate_required
from flows.services.models import LicenceReissueRequest, MailingAddress, RealNameCheck
from flows.views import Choice, ChoiceOption, ConsentItem, Prompt, msg

Ctx = FlowContext["ReissueState", FlowDeps]

assert not certificate_required(Errand.REISSUE_LOST)  # Art. 69: why this flow has no medical check


class ReissueState(BaseModel):
    holder: Personal[CardHolder | None] = None
    licence: Personal[LicenceInfo | None] = None
    biometrics: bool = False  # consent to the face comparison (separate, optional)
    real_name: RealNameCheck | None = None  # method, decision, score, reference: no image
    reason: str | None = None  # lost | damaged
    photo: Personal[PhotoRecord | None] = None
    photo_ref: str | None = None
    application: ApplicationInfo | None = None
    address: Personal[MailingAddress | None] = None
    waybill: WaybillInfo | None = None
    payment_order_id: str | None = None
    paid_fen: int | None = None
    provisional_ref: str | None = None
    pay_later: PayLater | None = None


class ReissueOutcome(BaseModel):
    """Ids the back office gives are None while their write still waits in the outbox."""

    application_id: str | None
    licence_class: str
    reason: str
    fee_fen: int
    postage_fen: int
    total_fen: int
    payment_order_id: str | None
    waybill_id: str | None
    tracking_number: str | None
    receipt_printed: bool
    provisional_reference: str | None = None
    pay_by: dt.date | None = None
    queued: bool = False
    real_name_method: str | None = None  # face | staff


class LicenceReissue(LicenceErrand[ReissueState]):
    name = "licence-reissue"
    version = 1
    State = ReissueState
    payment_description = "驾驶证补证工本费及邮费"

    class Step(StrEnum):
        READ_ID = "read_id"
        ELIGIBILITY = "eligibility"
        CONSENT = "consent"
        FACE = "face"
        REASON = "reason"
        PHOTO = "photo"
        REVIEW = "review"
        SUBMIT = "submit"
        ADDRESS = "address"
        MAIL = "mail"
        PAY = "pay"
        PRINT = "print"

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="reissue")
        return Next(step=self.Step.ELIGIBILITY)

    async def step_eligibility(self, ctx: Ctx) -> Next | Done | Abort:
        record, info = await self.licence_or_declared(ctx, looking_up=msg("reissue.looking_up"),
                                                      revoked=msg("reissue.revoked"))
        if record is None:  # offline: the back office checks the licence when the application reaches it
            ctx.state.licence = info
            return Next(step=self.Step.CONSENT)
        if record.status == "expired" or record.valid_until < ctx.deps.settings.current_date():
            raise abort_with(AbortReason.NOT_ELIGIBLE, "licence_expired", msg("reissue.expired"),
                             msg("reissue.use_renewal"))
        ctx.state.licence = LicenceInfo.from_record(record)
        return Next(step=self.Step.CONSENT)

    async def step_consent(self, ctx: Ctx) -> Next | Done | Abort:
        answer = await ask_consent(ctx, "reissue.consent", (
            ConsentItem(key="photo", text=msg("consent.photo.licence_photo"), required=True),
            ConsentItem(key="biometrics", text=msg("consent.biometrics.face_compare"), required=False),
        ))
        if not answer.ok("photo"):
            raise staff_needed("photo")  # staff take the photo at the counter
        ctx.state.biometrics = answer.ok("biometrics")
        return Next(step=self.Step.FACE)

    async def step_face(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.real_name = await real_name_check(ctx, topic="reissue", card=self.card,
                                                    biometrics=ctx.state.biometrics)
        return Next(step=self.Step.REASON)

    async def step_reason(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.reason = await ctx.ask(Choice(message=msg("reissue.reason"), options=(
            ChoiceOption(key="lost", label=msg("reissue.reason.lost")),
            ChoiceOption(key="damaged", label=msg("reissue.reason.damaged")),
        )))
        return Next(step=self.Step.PHOTO)

    # photo: LicenceErrand

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.licence and st.reason
        answer = await ctx.ask(Choice(
            message=msg("reissue.review", licence_class=st.licence.licence_class, reason=st.reason),
            options=(ChoiceOption(key="submit", label=msg("button.submit")),
                     ChoiceOption(key="retake_photo", label=msg("reissue.retake_photo")))))
        if answer == "retake_photo":
            return Next(step=self.Step.PHOTO)
        return Next(step=self.Step.SUBMIT, allow_back=False)

    async def step_submit(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.licence and st.photo_ref and st.reason

        def request(ref: str | None) -> LicenceReissueRequest:
            return LicenceReissueRequest(id_number=st.holder.id_number, licence_class=st.licence.licence_class,
                                         reason=st.reason, photo_ref=st.photo_ref,  # type: ignore[arg-type]
                                         provisional_reference=ref, real_name_check=st.real_name)

        await self.submit_application(ctx, "reissue_licence", request, purpose="reissue", view=msg("reissue.submitting"))
        return Next(step=self.Step.ADDRESS, allow_back=False)

    # address, mail and pay: MailingSteps

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.waybill and st.licence and (st.application or st.provisional_ref) and st.reason
        assert st.pay_later or (st.payment_order_id and st.paid_fen is not None)
        receipt = self.licence_receipt(ctx, title="驾驶证遗失补证" if st.reason == "lost" else "驾驶证损毁换证",
                                       footer="补发的驾驶证将邮寄到家，请凭邮件号查询")
        printed = await print_receipt(ctx, receipt)
        outcome = ReissueOutcome(**self.outcome_fields(ctx), reason=st.reason, receipt_printed=printed,
                                 real_name_method=st.real_name.method if st.real_name else None)
        return Done(outcome=outcome, message=self.done_message(ctx, "reissue.done", "reissue.done_provisional"),
                    details=mailed_details(st.waybill, printed, st.pay_later))
