"""The steps of a citizen flow that mails its result home: address → mail → pay (→ print).

Renewal, reissue, the vehicle licence, the inspection label, the property certificate and
the mailed tax invoice end the same way: the
back office has accepted a submission (`accepted_reference`), the citizen types a mailing
address, a China Post waybill is created for it, one QR payment covers what is due, and
the receipt (each flow's own `step_print`) names the tracking number. One implementation
of those steps keeps the idempotency keys, barriers and message keys the same in every
flow; a flow supplies the waybill's contents, the payment's description and, when it
charges more than the postage, `amount_due`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flows.common_steps import (
    CitizenFlow,
    Ctx,
    S,
    StepResult,
    WaybillInfo,
    abort_with,
    ask_address,
    await_payment,
    yuan,
)
from flows.engine import AbortReason, Next
from flows.errors import FlowDefinitionError
from flows.offline_steps import PayLater, offline_postage, pay_later, policy_of, require_offline_ok, submit_or_queue
from flows.outbox import Delivered
from flows.services.models import PaymentOrderRequest, WaybillRequest
from flows.views import Busy, Msg, msg

MAILING_STEPS = ("address", "mail", "pay", "print")


def require_steps(cls: type, names: tuple[str, ...], by: str) -> None:
    """A flow inheriting shared steps must have them (and the step they lead to) in its `Step` enum."""
    missing = [n for n in names if n not in {s.value for s in cls.Step}]  # type: ignore[attr-defined]
    if missing:
        raise FlowDefinitionError(f"{cls.__name__}: {by} needs the steps {missing} in `Step`")


class MailingSteps(CitizenFlow[S]):
    """`step_address`, `step_mail` and `step_pay`; the flow's `Step` has address, mail, pay and print.

    The waybill and the payment order carry `accepted_reference(ctx)` (what the back office
    accepted before the address step). The State needs `holder`, `address`, `waybill` and
    `payment_order_id`; `paid_fen` is kept when the State has that field.
    """

    mail_contents: ClassVar[str]  # the waybill's declared contents
    payment_description: ClassVar[str]  # the payment order's description

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if hasattr(cls, "Step") and hasattr(cls, "State"):
            require_steps(cls, MAILING_STEPS, "MailingSteps")
            for attr in ("mail_contents", "payment_description"):
                if not getattr(cls, attr, ""):
                    raise FlowDefinitionError(f"{cls.__name__}: set `{attr}`")

    def amount_due(self, ctx: Ctx) -> int:
        """What the QR payment asks for: the postage (flows with a fee add it)."""
        assert ctx.state.waybill
        return ctx.state.waybill.postage_fen

    async def step_address(self, ctx: Ctx) -> StepResult:
        assert ctx.state.holder
        ctx.state.address = await ask_address(ctx, ctx.state.holder)
        return Next(step=self.Step("mail"))

    async def step_mail(self, ctx: Ctx) -> StepResult:
        """The waybill through the outbox; queued, the published postage stands in until it is created."""
        st = ctx.state
        reference = self.accepted_reference(ctx)
        assert st.address and reference
        request = WaybillRequest(address=st.address, contents=self.mail_contents, reference=reference)
        sent = await submit_or_queue(ctx, "create_waybill", request, purpose="waybill", reference=reference,
                                     view=Busy(message=msg("mail.creating_waybill")))
        if isinstance(sent, Delivered):
            w = sent.result
            st.waybill = WaybillInfo(waybill_id=w.waybill_id, tracking_number=w.tracking_number, postage_fen=w.fee_fen)
        else:
            require_offline_ok(ctx, self)
            st.waybill = WaybillInfo(waybill_id="", tracking_number="", postage_fen=offline_postage(ctx, st.address.province),
                                     queued=True)
        return Next(step=self.Step("pay"), allow_back=False)

    async def step_pay(self, ctx: Ctx) -> StepResult:
        """Pay now by QR when the order could be created; otherwise pay later with the printed QR."""
        st = ctx.state
        reference = self.accepted_reference(ctx)
        assert st.waybill and reference
        amount = self.amount_due(ctx)
        request = PaymentOrderRequest(amount_fen=amount, description=self.payment_description, reference=reference)
        sent = await submit_or_queue(ctx, "create_order", request, purpose="order", reference=reference,
                                     view=Busy(message=msg("payment.creating")))
        if not isinstance(sent, Delivered):
            require_offline_ok(ctx, self)
            if "pay_later" not in type(st).model_fields:
                raise abort_with(AbortReason.SERVICE_FAILED, "offline_not_available",
                                 msg("availability.offline.online_only"), msg("availability.offline.come_back"))
            st.pay_later = pay_later(ctx, amount, reference, policy_of(type(self)).pay_within_days)
            return Next(step=self.Step("print"), allow_back=False)
        order = await await_payment(ctx, sent.result)
        st.payment_order_id = order.order_id
        if "paid_fen" in type(st).model_fields:
            st.paid_fen = order.amount_fen
        return Next(step=self.Step("print"), allow_back=False)


class FeeErrand(MailingSteps[S]):
    """An application the back office accepted with a fee, its result mailed home.

    The State has `application` (`ApplicationInfo`: id and fee), the mailing fields and
    `paid_fen`; the waybill and the payment carry the application id, and one QR payment
    covers fee + postage. Driving-licence renewal and reissue (`LicenceErrand`) and the
    vehicle licence share it.
    """

    def accepted_reference(self, ctx: Ctx) -> str | None:
        """The application id; while the application waits in the outbox, the provisional reference."""
        st = ctx.state
        return st.application.application_id if st.application else getattr(st, "provisional_ref", None)

    def fee_fen(self, ctx: Ctx) -> int:
        """The fee the back office set, or offline the published one (the policy's `fee_fen`)."""
        st = ctx.state
        return st.application.fee_fen if st.application else policy_of(type(self)).fee_fen

    def amount_due(self, ctx: Ctx) -> int:
        assert ctx.state.waybill
        return self.fee_fen(ctx) + ctx.state.waybill.postage_fen

    def fee_receipt_lines(self, ctx: Ctx, *, between: tuple[str, ...] = ()) -> list[Any]:
        """受理编号 (or 临时受理号), `between` (the errand's own lines), fee, postage, total or what is
        still to pay and by when, order, tracking number (or that it comes by SMS)."""
        from peripherals.printer.models import ReceiptLine

        st = ctx.state
        ref, later = getattr(st, "provisional_ref", None), getattr(st, "pay_later", None)
        lines = [ReceiptLine(text=f"受理编号：{st.application.application_id}")] if st.application else []
        if ref and (not st.application or later or st.waybill.queued):
            lines.append(ReceiptLine(text=f"临时受理号：{ref}", bold=True))
        lines += [*(ReceiptLine(text=t) for t in between), ReceiptLine(text=f"工本费：{yuan(self.fee_fen(ctx))}"),
                  ReceiptLine(text=f"邮费：{yuan(st.waybill.postage_fen)}")]
        if later:
            lines += [ReceiptLine(text=f"待缴：{yuan(later.amount_fen)}", bold=True),
                      ReceiptLine(text=f"请于{later.pay_by.isoformat()}前扫描下方二维码缴费")]
        else:
            lines += [ReceiptLine(text=f"合计已付：{yuan(st.paid_fen)}", bold=True),
                      ReceiptLine(text=f"支付订单：{st.payment_order_id}")]
        if st.waybill.queued:
            lines.append(ReceiptLine(text="邮件号：将以短信告知"))
        else:
            lines.append(ReceiptLine(text=f"邮件号：{st.waybill.tracking_number}", bold=True))
        if not st.application:
            lines.append(ReceiptLine(text="网络中断，申请已暂存，恢复后自动提交；审核结果以短信或邮寄通知告知"))
        return lines

    def receipt_qr(self, ctx: Ctx) -> str:
        """The pay-later QR when something is still to pay, else the tracking number (or the reference)."""
        st = ctx.state
        later = getattr(st, "pay_later", None)
        return later.qr if later else (st.waybill.tracking_number or getattr(st, "provisional_ref", None) or "")


def mailed_details(waybill: WaybillInfo, printed: bool, later: PayLater | None = None) -> tuple[Msg, ...]:
    """The result view's details of a mailed errand: the tracking number (or when it comes), what is
    still to pay and by when, and a missing receipt."""
    if waybill.queued:
        details: tuple[Msg, ...] = (msg("result.tracking_by_sms"),)
    else:
        details = (msg("result.tracking_number", tracking_number=waybill.tracking_number),)
    if later is not None:
        details += (msg("result.pay_later", amount_fen=later.amount_fen, pay_by=later.pay_by.isoformat()),)
    if not printed:
        details += (msg("result.receipt_not_printed"),)
    return details
