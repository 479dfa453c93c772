"""What licence renewal and licence reissue share: a new licence card, mailed home.

Built on `flows.mailing.FeeErrand` (an application with a fee, mailed home), which the
vehicle licence shares too. Both look up the card holder's licence (a revoked one ends the errand at once), take the
licence photo, submit an application the traffic service accepts with a fee, mail the
card (`MailingSteps`: the waybill and the payment carry the application id, the payment
is fee + postage) and print the same receipt lines under their own title and footer.

With the back office unreachable (docs/offline.md) both are accepted provisionally: the
citizen picks the class printed on the licence they hold instead of the look-up, the
application, waybill and payment order wait in the outbox under the session's
provisional reference, and the receipt tells how to pay later and how the decision comes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flows.availability import OfflineMode, OfflinePolicy
from flows.common_steps import (
    ApplicationInfo,
    Ctx,
    LicenceInfo,
    S,
    StepResult,
    abort_with,
    take_licence_photo,
)
from flows.engine import AbortReason, Next
from flows.mailing import FeeErrand, require_steps
from flows.offline_steps import accepts_offline, is_offline, provisional_reference, require_offline_ok, submit_or_queue
from flows.outbox import Delivered
from flows.services.errors import ServiceUnavailable
from flows.services.models import LicenceQuery, LicenceRecord
from flows.views import Choice, ChoiceOption, Msg, Prompt, msg

# The classes a citizen can pick from their licence card when the look-up is not possible.
OFFLINE_CLASSES = ("C1", "C2", "C3", "C4", "B1", "B2", "A1", "A2", "A3", "D", "E", "F", "M", "N", "P", "C5", "C6")

LICENCE_OFFLINE_POLICY = OfflinePolicy(mode=OfflineMode.PROVISIONAL, instead="availability.offline.licence",
                                       fee_fen=1_000, pay_within_days=7)


class LicenceErrand(FeeErrand[S]):
    """`step_photo` (→ review) and the mailing steps of a fee errand; the State has `holder`,
    `licence`, `photo`, `photo_ref`, `application`, `provisional_ref`, the mailing fields, `paid_fen`
    and `pay_later`."""

    mail_contents = "机动车驾驶证"
    offline_policy: ClassVar[OfflinePolicy] = LICENCE_OFFLINE_POLICY

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if hasattr(cls, "Step") and hasattr(cls, "State"):
            require_steps(cls, ("photo", "review"), "LicenceErrand")

    async def step_photo(self, ctx: Ctx) -> StepResult:
        ctx.state.photo = await take_licence_photo(ctx)
        ctx.state.photo_ref = "photo-" + ctx.idempotency_key("photo")[:20]
        return Next(step=self.Step("review"))

    async def licence_or_declared(self, ctx: Ctx, *, looking_up: Msg, revoked: Msg) -> tuple[LicenceRecord | None, LicenceInfo]:
        """The licence on file; offline (and this errand accepts it) the class the citizen reads off their card."""
        if not (is_offline(ctx) and accepts_offline(self)):
            try:
                record = await licence_on_file(ctx, looking_up=looking_up, revoked=revoked)
                return record, LicenceInfo.from_record(record)
            except ServiceUnavailable:
                if not accepts_offline(self):
                    raise
        choice = await ctx.ask(Choice(message=msg("offline.licence_class"), options=tuple(
            ChoiceOption(key=c, label=msg("offline.licence_class.option", licence_class=c)) for c in OFFLINE_CLASSES)))
        return None, LicenceInfo(licence_class=str(choice), valid_until=None, status="declared")

    async def submit_application(self, ctx: Ctx, kind: str, make_request: Any, *, purpose: str, view: Msg) -> None:
        """Queue the application under the session's provisional reference; keep the answer if one comes."""
        st = ctx.state
        st.provisional_ref = provisional_reference(ctx)
        sent = await submit_or_queue(ctx, kind, make_request(st.provisional_ref), purpose=purpose,
                                     reference=st.provisional_ref, view=Prompt(message=view))
        if isinstance(sent, Delivered):
            st.application = ApplicationInfo.from_application(sent.result)
        else:
            require_offline_ok(ctx, self)
            st.application = None

    def licence_receipt(self, ctx: Ctx, *, title: str, footer: str) -> Any:
        """The receipt (no ID number on it): paid and mailed, or provisional with how to pay later."""
        from peripherals.printer.models import Receipt

        st = ctx.state
        return Receipt(title=title, lines=self.fee_receipt_lines(ctx, between=(f"准驾车型：{st.licence.licence_class}",)),
                       qr=self.receipt_qr(ctx), footer=footer)

    def outcome_fields(self, ctx: Ctx) -> dict[str, Any]:
        """The outcome fields both errands share (ids are None while the write is still queued)."""
        st = ctx.state
        app, wb = st.application, st.waybill
        return dict(
            application_id=app.application_id if app else None, licence_class=st.licence.licence_class,
            fee_fen=self.fee_fen(ctx), postage_fen=wb.postage_fen,
            total_fen=st.paid_fen if st.paid_fen is not None else st.pay_later.amount_fen,
            payment_order_id=st.payment_order_id, waybill_id=wb.waybill_id or None,
            tracking_number=wb.tracking_number or None, provisional_reference=st.provisional_ref,
            pay_by=st.pay_later.pay_by if st.pay_later else None, queued=not app or wb.queued or bool(st.pay_later),
        )

    def done_message(self, ctx: Ctx, done: str, provisional: str) -> Msg:
        """`done` with the application id, or while it waits in the outbox `provisional` with the reference."""
        st = ctx.state
        if st.application:
            return msg(done, application_id=st.application.application_id)
        return msg(provisional, reference=st.provisional_ref)


async def licence_on_file(ctx: Ctx, *, looking_up: Msg, revoked: Msg) -> LicenceRecord:
    """The card holder's licence from the traffic service; a revoked licence ends the errand here."""
    holder = ctx.state.holder
    assert holder is not None
    record = await ctx.call(lambda: ctx.deps.traffic.lookup_licence(LicenceQuery(id_number=holder.id_number)),
                            view=Prompt(message=looking_up))
    if record.status == "revoked":
        raise abort_with(AbortReason.NOT_ELIGIBLE, "licence_revoked", revoked, msg("error.next.counter"))
    return record
