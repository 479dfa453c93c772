"""Pieces every citizen flow shares: the base class, the ID card, consent, the face check,
the licence photo, the mailing address, QR payment and the receipt.

`CitizenFlow` wraps every `step_*` of a subclass so that
- a typed failure deep inside a helper ends the flow with a clear `Error` view: helpers
  raise `FlowAbort(Abort(...))`; back-office failures (`flows.services.errors`) and
  device failures (`peripherals.errors`) are turned into an Error that says what
  happened and what to do next (see a hospital, pay the fines first, ask staff ...);
- a session resumed after a power cut re-reads the ID card before any later step shows
  personal data, and ends if the card on the reader is not the one the session belongs
  to (someone else may be standing at the kiosk).

The helpers are plain async functions taking the step's `ctx`; each shows its own
views. Citizen texts are i18n keys; the params of those keys are the only place
personal data reaches a view (the screen), never a log line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from enum import StrEnum
from typing import Any, Awaitable, Callable, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.availability import OfflinePolicy, policy_of
from flows.deps import FlowDeps
from flows.engine import Abort, AbortReason, Done, Flow, FlowContext, Next
from flows.errors import OperationTimeout
from flows.services.errors import ServiceError, ServiceRejected, ServiceUnavailable
from flows.services.models import MailingAddress, PaymentOrder, PaymentOrderRequest, WaybillRequest
from flows.services.validation import PROVINCES, id_number_problem
from flows.views import (
    Busy,
    Choice,
    ChoiceOption,
    Consent,
    ConsentAnswer,
    ConsentItem,
    Error,
    FieldKind,
    Form,
    FormField,
    Measuring,
    Msg,
    Prompt,
    msg,
)
from flows.vision_test import VisionTestAbandoned
from peripherals.errors import DeviceError

log = logging.getLogger(__name__)

S = TypeVar("S", bound=BaseModel)
Ctx = FlowContext[Any, FlowDeps]
StepResult = Next | Done | Abort

RETRY = ChoiceOption(key="retry", label=msg("button.retry"))
STAFF = ChoiceOption(key="staff", label=msg("button.call_staff"))
SKIP = ChoiceOption(key="skip", label=msg("button.skip"))


class FlowAbort(Exception):
    """Raised by a helper to end the flow with `abort` (the step wrapper returns it)."""

    def __init__(self, abort: Abort):
        super().__init__(abort.reason.value)
        self.abort = abort


def error_view(code: str, what: Msg, next_: Msg, options: tuple[ChoiceOption, ...] = ()) -> Error:
    return Error(code=code, what=what, next=next_, options=options)


def abort_with(reason: AbortReason, code: str, what: Msg, next_: Msg) -> FlowAbort:
    return FlowAbort(Abort(reason=reason, code=code, error=error_view(code, what, next_)))


def staff_needed(topic: str) -> FlowAbort:
    """The non-biometric / human path: staff check the ID in person at the counter."""
    return abort_with(AbortReason.STAFF_NEEDED, "staff_needed", msg("staff.called", topic=topic), msg("staff.go_to_counter"))


# --- the card holder ------------------------------------------------------------------------


class CardHolder(BaseModel):
    """What the flows keep from the ID card. Journaled as ONE personal (encrypted) field."""

    model_config = ConfigDict(frozen=True)

    id_number: str = Field(repr=False)
    name: str = Field(repr=False)
    sex: str = Field(default="", repr=False)
    birth_date: str = Field(repr=False)  # ISO date
    card_address: str = Field(default="", repr=False)
    card_type: str = "resident"

    @classmethod
    def from_card(cls, card: Any) -> "CardHolder":
        """`card.name` is the name the holder goes by: the English name on a foreign permanent resident card."""
        return cls(id_number=card.id_number, name=card.name, sex=card.sex, birth_date=card.birth_date.isoformat(),
                   card_address=getattr(card, "address", "") or "", card_type=card.card_type.value)

    @property
    def birth(self) -> dt.date:
        return dt.date.fromisoformat(self.birth_date)


class LicenceInfo(BaseModel):
    """The licence on file (the licence number is the ID number)."""

    licence_class: str
    valid_until: dt.date | None  # None: declared by the citizen while offline, checked by the back office later
    status: str

    @classmethod
    def from_record(cls, record: Any) -> "LicenceInfo":
        return cls(licence_class=record.licence_class, valid_until=record.valid_until, status=record.status)


class ApplicationInfo(BaseModel):
    """A licence application the traffic service accepted."""

    application_id: str
    fee_fen: int
    new_valid_until: dt.date | None = None

    @classmethod
    def from_application(cls, app: Any) -> "ApplicationInfo":
        return cls(application_id=app.application_id, fee_fen=app.fee_fen, new_valid_until=app.new_valid_until)


class WaybillInfo(BaseModel):
    waybill_id: str
    tracking_number: str
    postage_fen: int
    queued: bool = False  # in the outbox: ids unknown yet, the tracking number comes by SMS


# --- the base class -------------------------------------------------------------------------


ELIGIBILITY_CODES = {
    "renewal_window_not_open", "medical_requirements_not_met", "medical_certificate_expired", "licence_not_found",
    "licence_class_mismatch", "unpaid_fines", "vehicle_not_eligible", "inspection_required", "insurance_expired",
    "invalid_registration_date", "real_name_check_failed", "not_vehicle_owner", "vehicle_seized", "vehicle_scrapped",
    "vehicle_stolen", "certificate_not_ready", "certificate_already_released",
}
# What to do next after a refusal, by the back office's reason code.
REJECTION_NEXT = {
    "renewal_window_not_open": "error.next.renewal_window",
    "medical_requirements_not_met": "error.next.see_hospital",
    "medical_certificate_expired": "error.next.see_hospital",
    "licence_not_found": "error.next.counter",
    "licence_class_mismatch": "error.next.counter",
    "unpaid_fines": "error.next.pay_fines_first",
    "vehicle_not_eligible": "error.next.inspection_station",
    "inspection_required": "error.next.inspection_station",
    "insurance_expired": "error.next.renew_insurance",
    "invalid_registration_date": "error.next.check_registration",
    "real_name_check_failed": "error.next.counter",
    "not_vehicle_owner": "error.next.counter",
    "vehicle_seized": "error.next.counter",
    "vehicle_scrapped": "error.next.counter",
    "vehicle_stolen": "error.next.counter",
    "certificate_not_ready": "error.next.property_office",
    "certificate_already_released": "error.next.property_office",
}


def service_abort(e: ServiceError, accepted_ref: str | None = None, offline: OfflinePolicy | None = None) -> Abort:
    """The Error for a back-office failure; after an accepted submission it names the reference.

    A service that is not offered offline (`offline`, its policy) says so in its own words
    when the back office cannot be reached ("网络中断，暂不能缴款"), as its home tile does.
    """
    code = str(getattr(e, "code", "service_error"))
    service = e.service or "backoffice"
    if isinstance(e, ServiceUnavailable) and offline is not None and not offline.accepts_offline and not accepted_ref:
        return Abort(reason=AbortReason.SERVICE_FAILED, code=code,
                     error=error_view(code, msg(offline.reason), msg("availability.offline.come_back")))
    if isinstance(e, ServiceRejected):
        reason = AbortReason.NOT_ELIGIBLE if code in ELIGIBILITY_CODES else AbortReason.SERVICE_FAILED
        what = msg(f"error.rejected.{code}", service=service, field=e.field or "")
        nxt = REJECTION_NEXT.get(code, "error.next.ask_staff")
    else:
        reason = AbortReason.SERVICE_FAILED
        what = msg("error.backoffice_down.what" if isinstance(e, ServiceUnavailable) else "error.backoffice_bad.what",
                   service=service)
        nxt = "error.backoffice_down.next"
    next_ = msg("error.next.accepted_ask_staff", reference=accepted_ref) if accepted_ref else msg(nxt)
    return Abort(reason=reason, code=code, error=error_view(code, what, next_))


def device_abort(e: DeviceError) -> Abort:
    code = str(getattr(e, "code", "device_error"))
    device = str(e.kind or "device")
    return Abort(reason=AbortReason.DEVICE_FAULT, code=code,
                 error=error_view(code, msg("error.device.what", device=device), msg("error.device.next", device=device)))


def _guard(fn: Callable[[Any, Ctx], Awaitable[StepResult]]) -> Callable[[Any, Ctx], Awaitable[StepResult]]:
    @functools.wraps(fn)
    async def step(self: "CitizenFlow", ctx: Ctx) -> StepResult:
        try:
            await self._reverify(ctx)
            return await fn(self, ctx)
        except FlowAbort as e:
            return e.abort
        except ServiceError as e:
            log.warning("flow %s: step %s: back office %s (%s)", self.name, ctx.step, type(e).__name__, e.code)
            return service_abort(e, self.accepted_reference(ctx), policy_of(type(self)))
        except VisionTestAbandoned as e:
            return Abort(reason=AbortReason.STAFF_NEEDED, code=e.code,
                         error=error_view(e.code, msg("vision.abandoned"), msg("staff.go_to_counter")))
        except DeviceError as e:
            log.warning("flow %s: step %s: device %s (%s)", self.name, ctx.step, type(e).__name__, e.code)
            return device_abort(e)

    return step


class CitizenFlow(Flow[S, FlowDeps]):
    """Base of the citizen flows: error mapping and the resume identity check for every step."""

    id_step: ClassVar[str] = "read_id"  # the step that reads the card; later steps re-check it on resume

    def __init_subclass__(cls, **kw: Any) -> None:
        for attr, value in list(vars(cls).items()):
            if attr.startswith("step_") and asyncio.iscoroutinefunction(value) and not getattr(value, "_guarded", False):
                wrapped = _guard(value)
                wrapped._guarded = True  # type: ignore[attr-defined]
                setattr(cls, attr, wrapped)
        super().__init_subclass__(**kw)

    def __init__(self) -> None:
        self.card: Any = None  # the IdCard read in THIS process (photo for the face verifier); never journaled
        self._verified_after_resume = False

    def accepted_reference(self, ctx: Ctx) -> str | None:
        """The id of something the back office already accepted in this session (for error texts)."""
        return None

    async def _reverify(self, ctx: Ctx) -> None:
        """After a resume, the person at the kiosk proves with the same ID card that the errand is theirs."""
        holder: CardHolder | None = getattr(ctx.state, "holder", None)
        if not ctx.resumed or self._verified_after_resume or holder is None or ctx.step == self.id_step:
            return
        card = await read_card_once(ctx, msg("resume.place_id_card_again"))
        if card.id_number != holder.id_number:
            raise abort_with(AbortReason.CANCELLED, "different_card", msg("resume.different_card"), msg("resume.start_again"))
        self.card = card
        self._verified_after_resume = True


# --- ID card --------------------------------------------------------------------------------


CARD_LEVEL_ERRORS = ("no_card", "card_read_failed", "card_select_failed")


async def read_card_once(ctx: Ctx, prompt: Msg) -> Any:
    s = ctx.deps.settings
    return await ctx.call(lambda: ctx.deps.devices.read_card(s.card_wait_s),
                          view=Prompt(message=prompt, illustration="idcard"), timeout=s.card_wait_s + 10)


async def read_id_card(ctx: Ctx, *, purpose: str) -> tuple[Any, CardHolder]:
    """Read the card, letting the citizen place it again or call staff after a failed read."""
    s = ctx.deps.settings
    failures = 0
    while True:
        try:
            card = await read_card_once(ctx, msg("idcard.place", purpose=purpose))
        except DeviceError as e:
            if e.code not in CARD_LEVEL_ERRORS:
                raise  # the reader itself is faulty: device_fault
            failures += 1
            last = failures >= s.card_attempts
            answer = await ctx.ask(error_view(
                e.code, msg(f"idcard.{e.code}"), msg("idcard.ask_staff" if last else "idcard.try_again"),
                options=(STAFF,) if last else (RETRY, STAFF)))
            if answer == "staff":
                raise staff_needed("idcard") from None
            continue
        if e_code := _card_problem(card, s.current_date()):
            raise abort_with(AbortReason.NOT_ELIGIBLE, e_code, msg(f"idcard.{e_code}"), msg("idcard.ask_staff"))
        return card, CardHolder.from_card(card)


def _card_problem(card: Any, today: Any) -> str | None:
    if id_number_problem(card.id_number) is not None:
        return "card_not_supported"
    valid_to = card.valid_to
    if not isinstance(valid_to, str) and valid_to < today:
        return "id_card_expired"
    return None


# --- consent --------------------------------------------------------------------------------


async def ask_consent(ctx: Ctx, message: str, items: tuple[ConsentItem, ...]) -> ConsentAnswer:
    """Separate consent per purpose (PIPL Art. 29); the caller decides what a decline means."""
    return await ctx.ask(Consent(message=msg(message), items=items))


# --- face: see flows/face_check.py ---------------------------------------------------------


# --- licence photo --------------------------------------------------------------------------


class PhotoRecord(BaseModel):
    """The licence photo (JPEG, base64) kept in the journal as a personal field until the session ends."""

    jpeg_b64: str = Field(repr=False)
    width: int
    height: int


async def _photo_round(ctx: Ctx) -> Any:
    from peripherals.camera.errors import PhotoNotPossible

    devices = ctx.deps.devices
    for _ in range(ctx.deps.settings.photo_attempts):
        frame = await devices.frame()
        check = await devices.check_face(frame)
        if not check.passed:
            await ctx.show(Measuring(instruction=msg(f"face.issue.{check.reasons[0].value}"), device="camera"))
            continue
        try:
            return await devices.licence_photo(frame, check.face)
        except PhotoNotPossible as e:
            await ctx.show(Measuring(instruction=msg(f"face.issue.{(e.reasons or ['no_face'])[0]}"), device="camera"))
    return None


async def take_licence_photo(ctx: Ctx) -> PhotoRecord:
    """260 × 378 licence photo on white (peripherals.camera.photo); retry or call staff if none fits."""
    import base64

    answer = await ctx.ask(Choice(message=msg("photo.intro"),
                                  options=(ChoiceOption(key="start", label=msg("photo.take")), STAFF)))
    while True:
        if answer == "staff":
            raise staff_needed("photo")
        photo = await ctx.call(lambda: _photo_round(ctx), view=Measuring(instruction=msg("photo.look_at_camera"),
                                                                           device="camera"))
        if photo is not None:
            return PhotoRecord(jpeg_b64=base64.b64encode(photo.data).decode(), width=photo.width, height=photo.height)
        answer = await ctx.ask(error_view("photo_not_possible", msg("photo.failed"), msg("face.retry_or_staff"),
                                          options=(RETRY, STAFF)))


# --- mailing address ------------------------------------------------------------------------


ADDRESS_FIELDS = (
    FormField(name="recipient_name", label=msg("field.recipient_name"), min_length=2, max_length=60, personal=True),
    FormField(name="phone", label=msg("field.phone"), kind=FieldKind.PHONE, personal=True),
    FormField(name="province", label=msg("field.province"), max_length=20),
    FormField(name="city", label=msg("field.city"), min_length=2, max_length=30),
    FormField(name="district", label=msg("field.district"), min_length=2, max_length=30),
    FormField(name="street", label=msg("field.street"), min_length=2, max_length=120, personal=True),
    FormField(name="postcode", label=msg("field.postcode"), kind=FieldKind.DIGITS, required=False,
              min_length=6, max_length=6),
)


async def ask_address(ctx: Ctx, holder: CardHolder) -> MailingAddress:
    """A form prefilled with the card holder's name; checked by the same model the back office uses."""
    values: dict[str, Any] = {"recipient_name": holder.name}
    errors: dict[str, str] = {}
    while True:
        answer = await ctx.ask(Form(message=msg("address.enter"), fields=ADDRESS_FIELDS, values=values, errors=errors))
        clean = {k: v for k, v in answer.items() if v is not None}
        try:
            if clean.get("province") not in PROVINCES:
                errors = {"province": "error.address.invalid_province"}
            else:
                return MailingAddress(**clean)
        except ValidationError as e:
            errors = {}
            for err in e.errors():
                name = str(err["loc"][0]) if err["loc"] else ""
                errors.setdefault(name, f"error.address.{err['type']}")
        values = dict(clean)


async def create_waybill(ctx: Ctx, address: MailingAddress, *, contents: str, reference: str | None) -> WaybillInfo:
    """A China Post waybill for the address (idempotent per session and step); returns the postage."""
    waybill = await ctx.submit(ctx.deps.post.create_waybill,
                               WaybillRequest(address=address, contents=contents, reference=reference),
                               purpose="waybill", view=Busy(message=msg("mail.creating_waybill")))
    return WaybillInfo(waybill_id=waybill.waybill_id, tracking_number=waybill.tracking_number, postage_fen=waybill.fee_fen)


# --- payment --------------------------------------------------------------------------------


async def _cancel_order_quietly(ctx: Ctx, order_id: str) -> None:
    """Best effort: a cancel that fails leaves the order to expire on its own."""
    try:
        await asyncio.wait_for(ctx.deps.payment.cancel_order(order_id, idempotency_key=ctx.idempotency_key("cancel")), 5)
    except (ServiceError, asyncio.TimeoutError):
        log.info("payment: cancelling the order failed; it will expire")


async def pay_by_qr(ctx: Ctx, *, amount_fen: int, description: str, reference: str | None) -> PaymentOrder:
    """Create a QR payment order (idempotent per session and step), show it, poll until paid.

    Cancel while the QR code is shown cancels the order; time running out cancels it too.
    A resumed step creates no second order: the same key returns the first one.
    """
    order = await ctx.submit(ctx.deps.payment.create_order,
                             PaymentOrderRequest(amount_fen=amount_fen, description=description, reference=reference),
                             purpose="order", view=Busy(message=msg("payment.creating")))
    return await await_payment(ctx, order)


async def await_payment(ctx: Ctx, order: PaymentOrder) -> PaymentOrder:
    """Show the order's QR code and poll until it is paid (see pay_by_qr)."""
    s = ctx.deps.settings
    amount_fen = order.amount_fen

    async def poll() -> PaymentOrder:
        current = await ctx.deps.payment.get_order(order.order_id)
        while current.status == "pending":
            await asyncio.sleep(s.payment_poll_s)
            current = await ctx.deps.payment.get_order(order.order_id)
        return current

    qr_view = Measuring(instruction=msg("payment.scan_qr", amount_fen=amount_fen, qr=order.qr_payload,
                                        order_id=order.order_id), device="payment")
    try:
        final = await ctx.call(poll, view=qr_view, timeout=s.payment_timeout_s)
    except OperationTimeout:
        await _cancel_order_quietly(ctx, order.order_id)
        raise abort_with(AbortReason.STEP_TIMEOUT, "payment_timeout", msg("payment.timeout"),
                         msg("payment.not_charged")) from None
    except ServiceError as e:
        raise abort_with(AbortReason.SERVICE_FAILED, "payment_status_unknown",
                         msg("payment.status_unknown", service=e.service or "payment"),
                         msg("payment.ask_staff_with_order", order_id=order.order_id)) from None
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise  # shutdown: keep the order, the journaled session may resume
    except BaseException:
        await _cancel_order_quietly(ctx, order.order_id)  # the citizen pressed Cancel
        raise
    if final.status != "paid":
        raise abort_with(AbortReason.SERVICE_FAILED, f"payment_{final.status}", msg(f"payment.{final.status}"),
                         msg("payment.not_charged"))
    return final


# --- receipt --------------------------------------------------------------------------------


async def print_receipt(ctx: Ctx, receipt: Any) -> bool:
    """Print; on a printer fault offer retry or going without (the errand itself is done). True if printed."""
    while True:
        try:
            await ctx.call(lambda: ctx.deps.devices.print_receipt(receipt), view=Busy(message=msg("print.printing")),
                           timeout=ctx.deps.settings.print_timeout_s)
            return True
        except DeviceError as e:
            answer = await ctx.ask(error_view(e.code, msg("print.failed", code=e.code), msg("print.failed_next"),
                                              options=(RETRY, SKIP)))
            if answer == "skip":
                return False


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


class Delivery(StrEnum):
    MAIL = "mail"
    PRINT = "print"
