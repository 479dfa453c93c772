"""Transit-card top-up (交通卡充值): balance read, QR payment, issuer-authorised write-back.

Card on the reader → balance (and any earlier top-up of this card left unfinished, which is
finished first) → amount → review → QR payment (the order's reference is a pseudonym of
the card) → INITIALIZE FOR LOAD on the card, MAC2 from the issuer for the paid order
→ CREDIT FOR LOAD → the card's TAC confirmed with the issuer → receipt with the new balance.

Money is never lost (docs/flows.md "Card top-up"): every step is journaled; the write step
marks `write_started` before CREDIT FOR LOAD leaves; a torn write (the card left the
field, the answer was lost, the kiosk lost power) goes to `recover`, which asks for the
same card and reads GET TRANSACTION PROVE for the load's counter: a TAC means the card was
credited (confirm it), none means it was not (authorise again for the same paid order: the
issuer allows it only while the card's counter has not moved). A citizen who walks away
leaves a paid order or an authorised load at the issuer; the next kiosk the card is placed
on finds it (`pending_loads`) and finishes it before anything else.
"""

from __future__ import annotations

import functools
from enum import StrEnum

from pydantic import BaseModel

from flows.common_steps import RETRY, STAFF, CitizenFlow, FlowAbort, abort_with, error_view, pay_by_qr, print_receipt, yuan
from flows.availability import OfflinePolicy
from flows.deps import FlowDeps
from flows.engine import Abort, AbortReason, Done, FlowContext, Next
from flows.journal import Personal
from flows.services.errors import ServiceRejected
from flows.services.hall_models import LoadAuthorisationRequest, LoadConfirmation, topup_reference
from flows.views import Busy, Choice, ChoiceOption, Prompt, msg
from peripherals.cardreader.errors import CardRefused, CardWriteInterrupted, NoPurseCard, NotATransitCard

Ctx = FlowContext["TopUpState", FlowDeps]

AMOUNTS_FEN = (2_000, 5_000, 10_000, 20_000)
PURSE_LIMIT_FEN = 100_000  # a transit purse holds at most 1000 yuan


class TopUpState(BaseModel):
    card_number: Personal[str | None] = None
    balance_fen: int | None = None  # as read before the top-up
    amount_fen: int | None = None
    payment_order_id: str | None = None
    resumed_payment: bool = False  # finishing an earlier session's paid top-up
    attempt: int = 0  # authorisations asked for (each its own idempotency key)
    load_id: str | None = None
    online_counter: int | None = None
    balance_before_load: int | None = None
    when: str | None = None
    mac2: str | None = None
    write_started: bool = False
    recovered: bool = False  # the card's proof (GET TRANSACTION PROVE) finished a torn write
    tac: str | None = None


class TopUpOutcome(BaseModel):
    load_id: str
    amount_fen: int
    balance_fen: int
    payment_order_id: str
    recovered: bool  # the write was torn (or an earlier session's) and finished from the card's proof
    finished_earlier_payment: bool
    receipt_printed: bool


def masked(card_number: str) -> str:
    return "*" * 4 + card_number[-4:]


class CardTopUp(CitizenFlow[TopUpState]):
    name = "card-topup"
    version = 1
    State = TopUpState
    offline_policy = OfflinePolicy(reason="availability.offline.topup")  # online only: docs/offline.md

    class Step(StrEnum):
        READ_CARD = "read_card"
        AMOUNT = "amount"
        REVIEW = "review"
        PAY = "pay"
        AUTHORISE = "authorise"
        WRITE = "write"
        RECOVER = "recover"
        CONFIRM = "confirm"
        PRINT = "print"

    def accepted_reference(self, ctx: Ctx) -> str | None:
        return ctx.state.payment_order_id  # once paid, every error names the order

    async def _card_on_reader(self, ctx: Ctx, prompt: str) -> tuple[str, int]:
        """The card number of the card placed (retry or staff when none comes)."""
        wait = ctx.deps.settings.card_wait_s
        while True:
            try:
                card = await ctx.call(lambda: ctx.deps.devices.read_purse(wait),
                                      view=Prompt(message=msg(prompt), illustration="card"), timeout=wait + 10)
                return card.card_number, card.balance_fen
            except (NoPurseCard, NotATransitCard) as e:
                answer = await ctx.ask(error_view(e.code, msg(f"topup.{e.code}"), msg("topup.try_again"),
                                                  options=(RETRY, STAFF)))
                if answer == "staff":
                    raise self._staff(ctx) from None

    def _staff(self, ctx: Ctx) -> FlowAbort:
        if ctx.state.payment_order_id:  # paid: the issuer keeps it; any kiosk finishes it with the card
            return abort_with(AbortReason.STAFF_NEEDED, "topup_unfinished", msg("topup.unfinished"),
                              msg("topup.unfinished_next", order_id=ctx.state.payment_order_id))
        return abort_with(AbortReason.STAFF_NEEDED, "staff_needed", msg("staff.called", topic="topup"),
                          msg("staff.go_to_counter"))

    async def step_read_card(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        st.card_number, st.balance_fen = await self._card_on_reader(ctx, "topup.place_card")
        number = st.card_number
        pending = await ctx.call(lambda: ctx.deps.cards.pending_loads(number), view=Busy(message=msg("topup.checking")))
        if pending.loads:
            earlier = pending.loads[0]
            st.amount_fen, st.payment_order_id, st.resumed_payment = earlier.amount_fen, earlier.payment_order_id, True
            await ctx.ask(Prompt(message=msg("topup.earlier_found", amount_fen=earlier.amount_fen)))
            if earlier.status == "authorised":
                st.load_id, st.online_counter, st.write_started = earlier.load_id, earlier.online_counter, True
                return Next(step=self.Step.RECOVER, allow_back=False)
            return Next(step=self.Step.AUTHORISE, allow_back=False)
        return Next(step=self.Step.AMOUNT)

    async def step_amount(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        room = PURSE_LIMIT_FEN - (st.balance_fen or 0)
        options = tuple(ChoiceOption(key=str(a), label=msg("topup.amount_option", amount_fen=a))
                        for a in AMOUNTS_FEN if a <= room)
        if not options:
            raise abort_with(AbortReason.NOT_ELIGIBLE, "purse_full", msg("topup.purse_full"), msg("topup.purse_full_next"))
        st.amount_fen = int(await ctx.ask(Choice(message=msg("topup.amount", balance_fen=st.balance_fen or 0),
                                                 options=options)))
        return Next(step=self.Step.REVIEW)

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        answer = await ctx.ask(Choice(
            message=msg("topup.review", card=masked(st.card_number or ""), amount_fen=st.amount_fen,
                        balance_fen=st.balance_fen),
            options=(ChoiceOption(key="pay", label=msg("topup.pay")),
                     ChoiceOption(key="change", label=msg("topup.change_amount")))))
        if answer == "change":
            return Next(step=self.Step.AMOUNT)
        return Next(step=self.Step.PAY, allow_back=False)

    async def step_pay(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.amount_fen and st.card_number
        order = await pay_by_qr(ctx, amount_fen=st.amount_fen, description="交通卡充值",
                                reference=topup_reference(st.card_number))
        st.payment_order_id = order.order_id
        return Next(step=self.Step.AUTHORISE, allow_back=False)

    async def step_authorise(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.amount_fen and st.payment_order_id and st.card_number
        wait = ctx.deps.settings.card_wait_s
        while True:
            try:
                init = await ctx.call(lambda: ctx.deps.devices.initialize_load(st.amount_fen, wait),
                                      view=Prompt(message=msg("topup.keep_card"), illustration="card"),
                                      timeout=wait + 10)
            except (NoPurseCard, NotATransitCard) as e:
                init = None
                code = e.code
            else:
                code = "" if init.card_number == st.card_number else "different_card"
            if not code:
                break
            answer = await ctx.ask(error_view(code, msg(f"topup.{code}"), msg("topup.same_card"),
                                              options=(RETRY, STAFF)))
            if answer == "staff":
                raise self._staff(ctx)
        st.attempt += 1
        st.balance_before_load = init.balance_fen
        st.when = ctx.deps.settings.now().strftime("%Y%m%d%H%M%S")
        await ctx.checkpoint()
        request = LoadAuthorisationRequest(
            card_number=init.card_number, payment_order_id=st.payment_order_id, amount_fen=st.amount_fen,
            balance_fen=init.balance_fen, online_counter=init.online_counter, key_version=init.key_version,
            random=init.random, mac1=init.mac1, terminal_id=init.terminal_id, when=st.when)
        try:
            auth = await ctx.submit(ctx.deps.cards.authorise_load, request, purpose=f"load-{st.attempt}",
                                    view=Busy(message=msg("topup.authorising")))
        except ServiceRejected as e:
            if e.code != "load_outcome_unknown":
                raise
            return Next(step=self.Step.RECOVER, allow_back=False)  # an earlier write may have reached the card
        st.load_id, st.online_counter, st.mac2, st.write_started = auth.load_id, auth.online_counter, auth.mac2, False
        return Next(step=self.Step.WRITE, allow_back=False)

    async def step_write(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.when and st.mac2
        if st.write_started:  # resumed after a crash mid-write: ask the card what happened
            return Next(step=self.Step.RECOVER, allow_back=False)
        st.write_started = True
        await ctx.checkpoint()  # before CREDIT FOR LOAD leaves: a crash from here on is a torn write
        when, mac2 = st.when, st.mac2
        try:
            st.tac = await ctx.call(lambda: ctx.deps.devices.credit_load(when, mac2),
                                    view=Busy(message=msg("topup.writing")))
        except (CardWriteInterrupted, CardRefused):
            return Next(step=self.Step.RECOVER, allow_back=False)
        return Next(step=self.Step.CONFIRM, allow_back=False)

    async def step_recover(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.card_number
        while True:
            number, _balance = await self._card_on_reader(ctx, "topup.place_card_again")
            if number == st.card_number:
                break
            answer = await ctx.ask(error_view("different_card", msg("topup.different_card"), msg("topup.same_card"),
                                              options=(RETRY, STAFF)))
            if answer == "staff":
                raise self._staff(ctx)
        if st.online_counter is None:  # no load was authorised yet
            return Next(step=self.Step.AUTHORISE, allow_back=False)
        counter, wait = st.online_counter, ctx.deps.settings.card_wait_s
        proof = await ctx.call(lambda: ctx.deps.devices.load_proof(counter, wait),
                               view=Busy(message=msg("topup.checking_card")), timeout=wait + 10)
        if proof is None:  # the card was not credited: write again under a fresh authorisation
            st.write_started = False
            return Next(step=self.Step.AUTHORISE, allow_back=False)
        st.tac, st.recovered = proof, True
        return Next(step=self.Step.CONFIRM, allow_back=False)

    async def step_confirm(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.load_id and st.tac
        load_id = st.load_id
        await ctx.submit(functools.partial(ctx.deps.cards.confirm_load, load_id), LoadConfirmation(tac=st.tac),
                         purpose="confirm", view=Busy(message=msg("topup.confirming")))
        return Next(step=self.Step.PRINT, allow_back=False)

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        from peripherals.printer.models import Receipt, ReceiptLine

        st = ctx.state
        assert st.load_id and st.amount_fen and st.payment_order_id and st.card_number
        balance = (st.balance_before_load if st.balance_before_load is not None else st.balance_fen or 0) + st.amount_fen
        recovered = st.recovered or st.attempt > 1
        receipt = Receipt(title="交通卡充值", footer="充值已写入卡内，请妥善保管本凭条", lines=[
            ReceiptLine(text=f"卡号：{masked(st.card_number)}"),
            ReceiptLine(text=f"充值金额：{yuan(st.amount_fen)}", bold=True),
            ReceiptLine(text=f"卡内余额：{yuan(balance)}", bold=True),
            ReceiptLine(text=f"支付订单：{st.payment_order_id}"),
            ReceiptLine(text=f"充值流水：{st.load_id}")])
        printed = await print_receipt(ctx, receipt)
        outcome = TopUpOutcome(load_id=st.load_id, amount_fen=st.amount_fen, balance_fen=balance,
                               payment_order_id=st.payment_order_id, recovered=recovered,
                               finished_earlier_payment=st.resumed_payment, receipt_printed=printed)
        return Done(outcome=outcome, message=msg("topup.done", amount_fen=st.amount_fen, balance_fen=balance),
                    details=(msg("result.receipt_not_printed"),) if not printed else ())
