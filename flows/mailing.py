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
    ask_address,
    create_waybill,
    pay_by_qr,
    yuan,
)
from flows.engine import Next
from flows.errors import FlowDefinitionError
from flows.views import Msg, msg

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
        st = ctx.state
        reference = self.accepted_reference(ctx)
        assert st.address and reference
        st.waybill = await create_waybill(ctx, st.address, contents=self.mail_contents, reference=reference)
        return Next(step=self.Step("pay"), allow_back=False)

    async def step_pay(self, ctx: Ctx) -> StepResult:
        st = ctx.state
        reference = self.accepted_reference(ctx)
        assert st.waybill and reference
        order = await pay_by_qr(ctx, amount_fen=self.amount_due(ctx), description=self.payment_description,
                                reference=reference)
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
        return ctx.state.application.application_id if ctx.state.application else None

    def amount_due(self, ctx: Ctx) -> int:
        assert ctx.state.application and ctx.state.waybill
        return ctx.state.application.fee_fen + ctx.state.waybill.postage_fen

    def fee_receipt_lines(self, ctx: Ctx, *, between: tuple[str, ...] = ()) -> list[Any]:
        """受理编号, `between` (the errand's own lines), fee, postage, total, order, tracking number."""
        from peripherals.printer.models import ReceiptLine

        st = ctx.state
        return [
            ReceiptLine(text=f"受理编号：{st.application.application_id}"),
            *(ReceiptLine(text=t) for t in between),
            ReceiptLine(text=f"工本费：{yuan(st.application.fee_fen)}"),
            ReceiptLine(text=f"邮费：{yuan(st.waybill.postage_fen)}"),
            ReceiptLine(text=f"合计已付：{yuan(st.paid_fen)}", bold=True),
            ReceiptLine(text=f"支付订单：{st.payment_order_id}"),
            ReceiptLine(text=f"邮件号：{st.waybill.tracking_number}", bold=True),
        ]


def mailed_details(waybill: WaybillInfo, printed: bool) -> tuple[Msg, ...]:
    """The result view's details of a mailed errand: the tracking number, and a missing receipt."""
    details = (msg("result.tracking_number", tracking_number=waybill.tracking_number),)
    if not printed:
        details += (msg("result.receipt_not_printed"),)
    return details
