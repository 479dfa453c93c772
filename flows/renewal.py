"""Driving-licence renewal with the kiosk's own medical check (Order 162 Art. 63, 14).

ID card → licence on file and the renewal window (Art. 63: within 90 days before expiry;
more than a year past expiry the licence is cancelled, Art. 79(八); Art. 65 age bars) →
separate consent for biometrics and for health data (PIPL Art. 29) → face real-name check
(flows/face_check.py: quality gate, liveness challenges, the live face against the card
holder; staff in person with their PIN is always offered) → vision per eye on the eye tester (GB 11533, 4 of 5 per line) →
colour plates → hearing left/right → height → Order 162 Art. 14 verdict
(`flows.medical_rules.evaluate`; a failure ends the errand naming what failed and
pointing to a hospital certificate) → blood pressure (advisory only) → licence photo →
review → submit (idempotent) → mailing address → waybill → QR payment of fee + postage →
receipt with the tracking number.

Height (and weight): measured by the height-weight station (peripherals/height,
flows/medical_steps.py); staff type the height only when the station cannot measure.
"""

from __future__ import annotations

import datetime as dt
import random
from enum import StrEnum

from pydantic import BaseModel

from flows.common_steps import (
    RETRY,
    SKIP,
    ApplicationInfo,
    CardHolder,
    LicenceInfo,
    PhotoRecord,
    WaybillInfo,
    abort_with,
    ask_consent,
    error_view,
    print_receipt,
    read_id_card,
    staff_needed,
)
from flows.face_check import real_name_check
from flows.deps import FlowDeps
from flows.engine import Abort, AbortReason, Done, FlowContext, Next
from flows.journal import Personal
from flows.licence_errand import LicenceErrand
from flows.mailing import mailed_details
from flows.medical_steps import hearing_test, measure_height
from flows.offline_steps import PayLater
from flows.medical_rules import (
    BpAdviceLevel,
    ColourVision,
    MedicalResults,
    RenewalWindow,
    age_on,
    bp_advice,
    classes_barred_by_age,
    evaluate,
    renewal_window,
)
from flows.services.models import (
    BloodPressure,
    LicenceRenewalRequest,
    MailingAddress,
    RealNameCheck,
)
from flows.services.models import MedicalResults as MedicalSubmission
from flows.views import Choice, ChoiceOption, ConsentItem, Measuring, Prompt, msg
from flows.colour.index import NOTHING, PlatesMissing, load_pool
from flows.vision_test import measure_eye, run_colour_test, session_plates
from peripherals.errors import DeviceError
from peripherals.eye.models import Eye

Ctx = FlowContext["RenewalState", FlowDeps]


class VisionRecord(BaseModel):
    left: float | None
    right: float | None
    corrected: bool


class HearingRecord(BaseModel):
    left: bool
    right: bool


class BpRecord(BaseModel):
    systolic: int
    diastolic: int
    pulse: int | None
    advisory: str  # normal | advice | referral


class RenewalState(BaseModel):
    holder: Personal[CardHolder | None] = None
    licence: Personal[LicenceInfo | None] = None
    consent_biometrics: bool = False
    consent_health: bool = False
    face_passed: bool = False
    real_name: RealNameCheck | None = None  # method, decision, score, reference: no image
    vision: Personal[VisionRecord | None] = None
    colour: Personal[ColourVision | None] = None
    hearing: Personal[HearingRecord | None] = None
    height_cm: Personal[float | None] = None
    weight_kg: Personal[float | None] = None
    height_source: str | None = None  # "station" | "staff" (typed by staff: the station could not measure)
    examined_at: dt.datetime | None = None
    bp: Personal[BpRecord | None] = None
    photo: Personal[PhotoRecord | None] = None
    photo_ref: str | None = None
    application: ApplicationInfo | None = None
    address: Personal[MailingAddress | None] = None
    waybill: WaybillInfo | None = None
    payment_order_id: str | None = None
    paid_fen: int | None = None
    provisional_ref: str | None = None  # the kiosk's reference (flows.outbox.reference)
    pay_later: PayLater | None = None  # set when the payment order could not be created at the kiosk


class RenewalOutcome(BaseModel):
    """Ids the back office gives are None while their write still waits in the outbox."""

    application_id: str | None
    licence_class: str
    new_valid_until: dt.date | None
    fee_fen: int
    postage_fen: int
    total_fen: int
    payment_order_id: str | None
    waybill_id: str | None
    tracking_number: str | None
    bp_advisory: str | None
    receipt_printed: bool
    provisional_reference: str | None = None
    pay_by: dt.date | None = None
    queued: bool = False  # something of this errand waits in the outbox


def _rng(ctx: Ctx) -> random.Random:
    seed = ctx.deps.settings.rng_seed
    return random.Random(seed) if seed is not None else random.SystemRandom()


class LicenceRenewal(LicenceErrand[RenewalState]):
    name = "licence-renewal"
    version = 1
    State = RenewalState
    payment_description = "驾驶证换证工本费及邮费"

    class Step(StrEnum):
        READ_ID = "read_id"
        ELIGIBILITY = "eligibility"
        CONSENT = "consent"
        FACE = "face"
        VISION = "vision"
        COLOUR = "colour"
        HEARING = "hearing"
        HEIGHT = "height"
        BP = "bp"
        PHOTO = "photo"
        REVIEW = "review"
        SUBMIT = "submit"
        ADDRESS = "address"
        MAIL = "mail"
        PAY = "pay"
        PRINT = "print"

    # -- identity and eligibility ----------------------------------------------------------

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="renewal")
        return Next(step=self.Step.ELIGIBILITY)

    async def step_eligibility(self, ctx: Ctx) -> Next | Done | Abort:
        holder = ctx.state.holder
        assert holder is not None
        record, info = await self.licence_or_declared(ctx, looking_up=msg("renewal.looking_up"),
                                                      revoked=msg("renewal.revoked"))
        today = ctx.deps.settings.current_date()
        if record is None:  # offline: the back office checks the window when the application reaches it
            if info.licence_class in classes_barred_by_age(age_on(holder.birth, today)):
                raise abort_with(AbortReason.NOT_ELIGIBLE, "class_barred_by_age",
                                 msg("renewal.class_barred_by_age", licence_class=info.licence_class),
                                 msg("error.next.counter"))
            ctx.state.licence = info
            return Next(step=self.Step.CONSENT)
        window = renewal_window(record.valid_until, today)
        if window is RenewalWindow.TOO_EARLY:
            opens = (record.valid_until - dt.timedelta(days=90)).isoformat()
            raise abort_with(AbortReason.NOT_ELIGIBLE, "renewal_window_not_open",
                             msg("renewal.window.too_early", opens_on=opens), msg("renewal.window.come_back", opens_on=opens))
        if window is RenewalWindow.LAPSED:
            raise abort_with(AbortReason.NOT_ELIGIBLE, "licence_lapsed", msg("renewal.window.lapsed"),
                             msg("error.next.counter"))
        if record.licence_class in classes_barred_by_age(age_on(holder.birth, today)):
            raise abort_with(AbortReason.NOT_ELIGIBLE, "class_barred_by_age",
                             msg("renewal.class_barred_by_age", licence_class=record.licence_class),
                             msg("error.next.counter"))
        ctx.state.licence = LicenceInfo.from_record(record)
        return Next(step=self.Step.CONSENT)

    async def step_consent(self, ctx: Ctx) -> Next | Done | Abort:
        answer = await ask_consent(ctx, "renewal.consent", (
            ConsentItem(key="biometrics", text=msg("consent.biometrics.face_and_photo"), required=False),
            ConsentItem(key="health", text=msg("consent.health.medical_check"), required=True),
        ))
        if not answer.ok("health"):
            raise abort_with(AbortReason.CONSENT_DECLINED, "health_consent_declined",
                             msg("renewal.consent.health_declined"), msg("renewal.consent.use_certificate"))
        if not answer.ok("biometrics"):
            raise staff_needed("identity")  # staff check the ID and take the photo in person
        ctx.state.consent_biometrics = ctx.state.consent_health = True
        return Next(step=self.Step.FACE)

    async def step_face(self, ctx: Ctx) -> Next | Done | Abort:
        """Applied in person (本人办理): the live face against the card holder, or staff in person."""
        ctx.state.real_name = await real_name_check(ctx, topic="renewal", card=self.card)
        ctx.state.face_passed = ctx.state.real_name.passed
        return Next(step=self.Step.VISION)

    # -- the medical check -----------------------------------------------------------------

    async def step_vision(self, ctx: Ctx) -> Next | Done | Abort:
        glasses = await ctx.ask(Choice(message=msg("vision.intro"), options=(
            ChoiceOption(key="without_glasses", label=msg("vision.without_glasses")),
            ChoiceOption(key="with_glasses", label=msg("vision.with_glasses")),
        )))
        s = ctx.deps.settings
        tester = ctx.deps.devices.eye_tester()
        rng = _rng(ctx)
        levels: dict[Eye, float | None] = {}
        for eye in (Eye.RIGHT, Eye.LEFT):  # the paper chart's order
            result = await ctx.call(lambda: measure_eye(tester, eye, s.acuity, rng),
                                    view=Measuring(instruction=msg("vision.look_into_tester", eye=eye.value), device="eye"),
                                    timeout=s.eye_timeout_s)
            levels[eye] = result.level
        ctx.state.vision = VisionRecord(left=levels[Eye.LEFT], right=levels[Eye.RIGHT],
                                        corrected=glasses == "with_glasses")
        return Next(step=self.Step.COLOUR)

    async def step_colour(self, ctx: Ctx) -> Next | Done | Abort:
        """Generated plates (flows/colour), a random set per session; the rule is COLOUR_PLATE_RULE."""
        try:
            demo, screening, reserve = session_plates(load_pool(ctx.deps.settings.colour_plates_dir), _rng(ctx))
        except PlatesMissing:
            raise staff_needed("colour_plates") from None

        async def ask(plate) -> str:
            return await ctx.ask(Choice(message=msg("colour.what_number"), image=plate.image, options=tuple(
                ChoiceOption(key=o, label=msg("colour.option.nothing") if o == NOTHING else
                             msg("colour.option.figure", figure=o)) for o in plate.options)))

        result = await run_colour_test(ask, demo=demo, screening=screening, reserve=reserve)
        ctx.state.colour = result.outcome
        return Next(step=self.Step.HEARING)

    async def step_hearing(self, ctx: Ctx) -> Next | Done | Abort:
        """Order 162 Art. 14(二)4 as HEARING_TEST_RULE: real tones left/right (flows/medical_steps.py)."""
        result = await hearing_test(ctx, _rng(ctx))
        ctx.state.hearing = HearingRecord(left=result.left, right=result.right)
        return Next(step=self.Step.HEIGHT)

    async def step_height(self, ctx: Ctx) -> Next | Done | Abort:
        """Measured by the height-weight station; staff type it only when the station cannot measure."""
        record = await measure_height(ctx)
        ctx.state.height_cm = record.height_cm
        ctx.state.weight_kg = record.weight_kg
        ctx.state.height_source = record.source
        ctx.state.examined_at = ctx.deps.settings.now()
        self._judge(ctx)
        return Next(step=self.Step.BP)

    def _judge(self, ctx: Ctx) -> None:
        """Order 162 Art. 14(二): stop here, naming what failed, unless every criterion passes."""
        st = ctx.state
        assert st.vision and st.hearing and st.licence
        evaluation = evaluate(st.licence.licence_class, MedicalResults(
            vision_left=st.vision.left, vision_right=st.vision.right, corrected=st.vision.corrected,
            colour_vision=st.colour, hearing_left=st.hearing.left, hearing_right=st.hearing.right,
            height_cm=st.height_cm,
        ))
        if evaluation.failed:
            failed = ",".join(r.criterion.value for r in evaluation.failed)
            raise abort_with(AbortReason.NOT_ELIGIBLE, "medical_requirements_not_met",
                             msg("renewal.medical.failed", criteria=failed), msg("renewal.medical.see_hospital"))
        if not evaluation.passed:
            refer = ",".join(r.criterion.value for r in evaluation.needs_examiner)
            raise abort_with(AbortReason.NOT_ELIGIBLE, "examiner_needed",
                             msg("renewal.medical.examiner_needed", criteria=refer), msg("renewal.medical.see_hospital"))

    async def step_bp(self, ctx: Ctx) -> Next | Done | Abort:
        """Advisory only (not an Order 162 criterion): a fault or a refusal skips it."""
        answer = await ctx.ask(Choice(message=msg("bp.intro"), options=(
            ChoiceOption(key="start", label=msg("bp.start")), SKIP)))
        s = ctx.deps.settings
        while answer != "skip":
            def progress(p) -> None:
                ctx.show_threadsafe(Measuring(instruction=msg(f"bp.phase.{p.phase.value}"),
                                              progress_fraction=min(1.0, max(0.0, p.fraction or 0.0)), device="bp"))
            try:
                reading = await ctx.call(lambda: ctx.deps.devices.measure_bp(progress, s.bp_timeout_s),
                                         view=Measuring(instruction=msg("bp.keep_still"), device="bp"),
                                         timeout=s.bp_timeout_s + 10)
            except DeviceError as e:
                answer = await ctx.ask(error_view(e.code, msg("bp.failed", code=e.code), msg("bp.failed_next"),
                                                  options=(RETRY, SKIP)))
                continue
            reading = reading.in_mmhg()
            advice = bp_advice(reading.systolic, reading.diastolic)
            ctx.state.bp = BpRecord(systolic=round(reading.systolic), diastolic=round(reading.diastolic),
                                    pulse=round(reading.pulse) if reading.pulse is not None else None,
                                    advisory="normal" if advice.level is BpAdviceLevel.NONE else advice.level.value)
            await ctx.ask(Prompt(message=msg(advice.message_key, systolic=ctx.state.bp.systolic,
                                             diastolic=ctx.state.bp.diastolic, pulse=ctx.state.bp.pulse or 0)))
            break
        return Next(step=self.Step.PHOTO)

    # photo: LicenceErrand

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.licence and st.vision and st.hearing
        answer = await ctx.ask(Choice(
            message=msg("renewal.review", licence_class=st.licence.licence_class,
                        vision_left=st.vision.left or 0, vision_right=st.vision.right or 0,
                        corrected=st.vision.corrected, colour=str(st.colour), height_cm=st.height_cm or 0,
                        bp=f"{st.bp.systolic}/{st.bp.diastolic}" if st.bp else "-"),
            options=(ChoiceOption(key="submit", label=msg("button.submit")),
                     ChoiceOption(key="retake_photo", label=msg("renewal.retake_photo")))))
        if answer == "retake_photo":
            return Next(step=self.Step.PHOTO)
        return Next(step=self.Step.SUBMIT, allow_back=False)

    # -- submission and receipt (address, mail and pay: MailingSteps) --------------------

    async def step_submit(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.licence and st.vision and st.hearing and st.photo_ref and st.examined_at
        assert st.vision.left is not None and st.vision.right is not None and st.colour and st.height_cm
        request = lambda ref: LicenceRenewalRequest(  # noqa: E731
            id_number=st.holder.id_number, licence_class=st.licence.licence_class, provisional_reference=ref,
            real_name_check=st.real_name, medical=MedicalSubmission(
                vision_left=st.vision.left, vision_right=st.vision.right, corrected=st.vision.corrected,
                colour_vision=st.colour.value, hearing_left=st.hearing.left, hearing_right=st.hearing.right,
                height_cm=round(st.height_cm),
                blood_pressure=BloodPressure(systolic=st.bp.systolic, diastolic=st.bp.diastolic, pulse=st.bp.pulse,
                                             advisory=st.bp.advisory) if st.bp else None,  # type: ignore[arg-type]
                photo_ref=st.photo_ref, examined_at=st.examined_at,
            ),
        )
        await self.submit_application(ctx, "renew_licence", request, purpose="renewal", view=msg("renewal.submitting"))
        return Next(step=self.Step.ADDRESS, allow_back=False)

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.waybill and st.licence and (st.application or st.provisional_ref)
        assert st.pay_later or (st.payment_order_id and st.paid_fen is not None)
        receipt = self.licence_receipt(ctx, title="驾驶证期满换证（自助体检）", footer="新驾驶证将邮寄到家，请凭邮件号查询")
        printed = await print_receipt(ctx, receipt)
        outcome = RenewalOutcome(
            **self.outcome_fields(ctx), new_valid_until=st.application.new_valid_until if st.application else None,
            bp_advisory=st.bp.advisory if st.bp else None, receipt_printed=printed,
        )
        details = mailed_details(st.waybill, printed, st.pay_later)
        if st.bp and st.bp.advisory != "normal":
            details += (msg(f"bp.{st.bp.advisory}.reminder"),)
        return Done(outcome=outcome, message=self.done_message(ctx, "renewal.done", "renewal.done_provisional"),
                    details=details)
