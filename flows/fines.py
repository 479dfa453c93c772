"""Paying traffic fines: look them up (by the driver's ID card or by a plate), choose, pay by QR, receipt.

The fines are settled with a *paid* payment order (the back office checks the amount and
that the order is not used twice), so the order of steps is: choose → pay (QR, polled) →
settle (idempotent) → receipt. A failure after the money was taken names the payment
order, so staff can finish the settlement.

Simplification: paying by plate is allowed for every fine; fines that carry penalty
points would in practice need the driver's own licence to record the points (that is
the traffic system's rule, enforced there).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ValidationError

from flows.availability import OfflinePolicy
from flows.common_steps import CardHolder, CitizenFlow, pay_by_qr, print_receipt, read_id_card, yuan
from flows.deps import FlowDeps
from flows.engine import Abort, Done, FlowContext, Next
from flows.journal import Personal
from flows.services.models import FinePaymentRequest, FineQuery
from flows.views import Busy, Choice, ChoiceOption, Form, FormField, msg

Ctx = FlowContext["FinesState", FlowDeps]


class FinesState(BaseModel):
    method: str | None = None  # id_card | plate
    holder: Personal[CardHolder | None] = None
    plate: Personal[str | None] = None
    fine_ids: list[str] = []
    total_fen: int = 0
    payment_order_id: str | None = None
    receipt_number: str | None = None


class FinesOutcome(BaseModel):
    receipt_number: str | None  # None: there was nothing to pay
    fine_ids: list[str]
    total_fen: int
    payment_order_id: str | None
    receipt_printed: bool


class TrafficFines(CitizenFlow[FinesState]):
    name = "traffic-fines"
    offline_policy = OfflinePolicy(reason="availability.offline.fines")  # docs/offline.md
    version = 1
    State = FinesState

    class Step(StrEnum):
        METHOD = "method"
        READ_ID = "read_id"
        PLATE = "plate"
        CHOOSE = "choose"
        PAY = "pay"
        SETTLE = "settle"
        PRINT = "print"

    def accepted_reference(self, ctx: Ctx) -> str | None:
        return ctx.state.payment_order_id

    async def step_method(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.method = await ctx.ask(Choice(message=msg("fines.lookup_by"), options=(
            ChoiceOption(key="id_card", label=msg("fines.by_id_card")),
            ChoiceOption(key="plate", label=msg("fines.by_plate")),
        )))
        return Next(step=self.Step.READ_ID if ctx.state.method == "id_card" else self.Step.PLATE)

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="fines")
        return Next(step=self.Step.CHOOSE)

    async def step_plate(self, ctx: Ctx) -> Next | Done | Abort:
        errors: dict[str, str] = {}
        while True:
            values = await ctx.ask(Form(message=msg("fines.enter_plate"), errors=errors, fields=(
                FormField(name="plate", label=msg("field.plate"), min_length=7, max_length=10, personal=True),)))
            try:
                ctx.state.plate = FineQuery(plate=values["plate"]).plate
                return Next(step=self.Step.CHOOSE)
            except ValidationError:
                errors = {"plate": "error.form.invalid_plate"}

    async def step_choose(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        query = FineQuery(id_number=st.holder.id_number) if st.holder else FineQuery(plate=st.plate)
        found = await ctx.call(lambda: ctx.deps.traffic.list_fines(query), view=Busy(message=msg("fines.looking_up")))
        unpaid = [f for f in found.fines if not f.paid][: ctx.deps.settings.fines_max]
        if not unpaid:
            return Done(outcome=FinesOutcome(receipt_number=None, fine_ids=[], total_fen=0, payment_order_id=None,
                                             receipt_printed=False), message=msg("fines.none_unpaid"))
        total = sum(f.amount_fen for f in unpaid)
        options = [ChoiceOption(key="all", label=msg("fines.pay_all", count=len(unpaid), total=yuan(total)))]
        options += [ChoiceOption(key=f.fine_id, label=msg("fines.one", plate=f.plate, date=f.occurred_at.date().isoformat(),
                                                          amount=yuan(f.amount_fen), points=f.points,
                                                          code=f.violation_code))
                    for f in unpaid]
        answer = await ctx.ask(Choice(message=msg("fines.choose", count=len(unpaid), total=yuan(total)),
                                      options=tuple(options)))
        chosen = unpaid if answer == "all" else [f for f in unpaid if f.fine_id == answer]
        st.fine_ids = [f.fine_id for f in chosen]
        st.total_fen = sum(f.amount_fen for f in chosen)
        return Next(step=self.Step.PAY)

    async def step_pay(self, ctx: Ctx) -> Next | Done | Abort:
        order = await pay_by_qr(ctx, amount_fen=ctx.state.total_fen, description="交通违法罚款", reference=None)
        ctx.state.payment_order_id = order.order_id
        return Next(step=self.Step.SETTLE, allow_back=False)

    async def step_settle(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.payment_order_id
        receipt = await ctx.submit(ctx.deps.traffic.pay_fines,
                                   FinePaymentRequest(fine_ids=st.fine_ids, payment_order_id=st.payment_order_id),
                                   purpose="fines", view=Busy(message=msg("fines.settling")))
        st.receipt_number = receipt.receipt_number
        return Next(step=self.Step.PRINT, allow_back=False)

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        from peripherals.printer.models import Receipt, ReceiptLine

        st = ctx.state
        assert st.receipt_number and st.payment_order_id
        receipt = Receipt(
            title="交通违法罚款缴纳凭证",
            lines=[ReceiptLine(text=f"缴款编号：{st.receipt_number}"),
                   *[ReceiptLine(text=f"决定书/违法编号：{fid}") for fid in st.fine_ids],
                   ReceiptLine(text=f"合计：{yuan(st.total_fen)}", bold=True),
                   ReceiptLine(text=f"支付订单：{st.payment_order_id}")],
            footer="请妥善保管本凭证",
        )
        printed = await print_receipt(ctx, receipt)
        outcome = FinesOutcome(receipt_number=st.receipt_number, fine_ids=st.fine_ids, total_fen=st.total_fen,
                               payment_order_id=st.payment_order_id, receipt_printed=printed)
        details = () if printed else (msg("result.receipt_not_printed"),)
        return Done(outcome=outcome, message=msg("fines.done", receipt_number=st.receipt_number, total=yuan(st.total_fen)),
                    details=details)
