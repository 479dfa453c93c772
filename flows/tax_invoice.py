"""A tax invoice issued for a natural person (代开发票) after a face real-name check, printed or mailed.

ID card → separate consent for the face comparison (biometrics) and for the invoice
data → face real-name check: the live face (quality gate, then a `FaceVerifier` compares
it with the ID card photo) or, always offered, staff checking the ID in person (the
non-biometric alternative; face recognition may not be the only way, 人脸识别技术应用安全
管理办法 2025) → item, amount, tax rate → review → issue (idempotent; the back office
gets the check's method, result, score and a reference, never a face image) → printed
at once, or mailed (address → waybill → QR payment of the postage → receipt).

Tax due on the invoice is not collected here (the reference back office models the
invoice only).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from flows.availability import OfflinePolicy
from flows.common_steps import (
    CardHolder,
    WaybillInfo,
    abort_with,
    ask_consent,
    print_receipt,
    read_id_card,
    staff_needed,
    yuan,
)
from flows.face_check import real_name_check
from flows.deps import FlowDeps
from flows.engine import Abort, AbortReason, Done, FlowContext, Next
from flows.journal import Personal
from flows.mailing import MailingSteps
from flows.paper.citizen import print_paper_invoice
from flows.services.models import InvoiceRequest, MailingAddress, RealNameCheck
from flows.views import Busy, Choice, ChoiceOption, ConsentItem, FieldKind, Form, FormField, msg

Ctx = FlowContext["TaxState", FlowDeps]

TAX_RATES = (0, 1, 3, 6, 9, 13)


class TaxState(BaseModel):
    holder: Personal[CardHolder | None] = None
    face_passed: bool = False
    face_score: float | None = None
    face_reference: str | None = None
    face_method: str = "face"  # face | staff (the non-biometric alternative, confirmed with the staff PIN)
    biometrics: bool = True  # consent to the face comparison (separate, optional)
    item: str | None = None
    amount_fen: int | None = None
    tax_rate_percent: int = 3
    invoice_number: str | None = None
    tax_fen: int | None = None
    printable_lines: list[str] = []
    delivery: str | None = None  # print | mail
    address: Personal[MailingAddress | None] = None
    waybill: WaybillInfo | None = None
    payment_order_id: str | None = None
    paper_invoice: str | None = None  # 'CODE:NUMBER' when printed on the kiosk's pre-numbered paper


class TaxOutcome(BaseModel):
    invoice_number: str
    amount_fen: int
    tax_fen: int
    delivery: str
    real_name_method: str
    waybill_id: str | None
    tracking_number: str | None
    payment_order_id: str | None
    printed: bool
    paper_invoice: str | None = None


class TaxInvoice(MailingSteps[TaxState]):
    name = "tax-invoice"
    offline_policy = OfflinePolicy(reason="availability.offline.invoice")  # docs/offline.md
    version = 1
    State = TaxState
    mail_contents = "发票"
    payment_description = "发票邮寄费"

    class Step(StrEnum):
        READ_ID = "read_id"
        CONSENT = "consent"
        FACE = "face"
        DETAILS = "details"
        REVIEW = "review"
        ISSUE = "issue"
        DELIVERY = "delivery"
        ADDRESS = "address"
        MAIL = "mail"
        PAY = "pay"
        PRINT = "print"

    def accepted_reference(self, ctx: Ctx) -> str | None:
        return ctx.state.invoice_number

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="tax")
        return Next(step=self.Step.CONSENT)

    async def step_consent(self, ctx: Ctx) -> Next | Done | Abort:
        answer = await ask_consent(ctx, "tax.consent", (
            ConsentItem(key="biometrics", text=msg("consent.biometrics.face_compare"), required=False),
            ConsentItem(key="invoice", text=msg("consent.invoice_data"), required=True),
        ))
        if not answer.ok("invoice"):
            raise abort_with(AbortReason.CONSENT_DECLINED, "invoice_consent_declined", msg("tax.consent.declined"),
                             msg("error.next.counter"))
        ctx.state.biometrics = answer.ok("biometrics")
        return Next(step=self.Step.FACE)

    async def step_face(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state  # no consent to biometrics: staff check the citizen in person
        check = await real_name_check(ctx, topic="tax", card=self.card, biometrics=st.biometrics)
        st.face_passed, st.face_score, st.face_method, st.face_reference = (check.passed, check.score, check.method,
                                                                            check.reference)
        return Next(step=self.Step.DETAILS)

    async def step_details(self, ctx: Ctx) -> Next | Done | Abort:
        errors: dict[str, str] = {}
        while True:
            values = await ctx.ask(Form(message=msg("tax.details"), errors=errors, fields=(
                FormField(name="item", label=msg("field.invoice_item"), min_length=1, max_length=100),
                FormField(name="amount_yuan", label=msg("field.amount_yuan"), kind=FieldKind.NUMBER, minimum=0.01,
                          maximum=10_000_000),
                FormField(name="tax_rate_percent", label=msg("field.tax_rate_percent"), kind=FieldKind.NUMBER,
                          required=False, minimum=0, maximum=13),
            )))
            rate = values.get("tax_rate_percent")
            rate = 3 if rate is None else rate
            if rate not in TAX_RATES:
                errors = {"tax_rate_percent": "error.form.tax_rate"}
                continue
            ctx.state.item = values["item"]
            ctx.state.amount_fen = round(values["amount_yuan"] * 100)
            ctx.state.tax_rate_percent = int(rate)
            return Next(step=self.Step.REVIEW)

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        answer = await ctx.ask(Choice(
            message=msg("tax.review", buyer=st.holder.name if st.holder else "", item=st.item or "",
                        amount=yuan(st.amount_fen or 0), rate=st.tax_rate_percent),
            options=(ChoiceOption(key="issue", label=msg("tax.issue")),
                     ChoiceOption(key="edit", label=msg("button.edit")))))
        if answer == "edit":
            return Next(step=self.Step.DETAILS)
        return Next(step=self.Step.ISSUE, allow_back=False)

    async def step_issue(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.item and st.amount_fen and st.face_reference
        invoice = await ctx.submit(ctx.deps.tax.issue_invoice, InvoiceRequest(
            buyer_name=st.holder.name, buyer_id_number=st.holder.id_number, amount_fen=st.amount_fen, item=st.item,
            tax_rate_percent=st.tax_rate_percent,  # type: ignore[arg-type]
            real_name_check=RealNameCheck(method=st.face_method,  # type: ignore[arg-type]
                                          passed=st.face_passed, reference=st.face_reference, score=st.face_score),
        ), purpose="invoice", view=Busy(message=msg("tax.issuing")))
        st.invoice_number, st.tax_fen, st.printable_lines = invoice.invoice_number, invoice.tax_fen, invoice.printable_lines
        return Next(step=self.Step.DELIVERY, allow_back=False)

    async def step_delivery(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.delivery = await ctx.ask(Choice(message=msg("tax.delivery"), options=(
            ChoiceOption(key="print", label=msg("tax.delivery.print")),
            ChoiceOption(key="mail", label=msg("tax.delivery.mail")),
        )))
        return Next(step=self.Step.ADDRESS if ctx.state.delivery == "mail" else self.Step.PRINT)

    # address, mail and pay: MailingSteps

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        from peripherals.printer.models import Receipt, ReceiptLine

        st = ctx.state
        assert st.invoice_number and st.amount_fen is not None and st.tax_fen is not None and st.delivery
        if st.delivery == "print" and ctx.deps.paper is not None:  # the kiosk keeps pre-numbered invoice paper
            st.paper_invoice = await print_paper_invoice(ctx, st.invoice_number)
            return self._done(st, printed=st.paper_invoice is not None)
        if st.delivery == "print":
            receipt = Receipt(title=st.printable_lines[0] if st.printable_lines else "发票",
                              lines=[ReceiptLine(text=line) for line in st.printable_lines[1:]],
                              qr=st.invoice_number, footer="本发票由自助终端代开")
        else:
            assert st.waybill
            receipt = Receipt(title="发票邮寄回执", lines=[
                ReceiptLine(text=f"发票号码：{st.invoice_number}"),
                ReceiptLine(text=f"邮费已付：{yuan(st.waybill.postage_fen)}"),
                ReceiptLine(text=f"邮件号：{st.waybill.tracking_number}", bold=True),
            ], qr=st.waybill.tracking_number, footer="发票将邮寄到家，请凭邮件号查询")
        return self._done(st, printed=await print_receipt(ctx, receipt))

    def _done(self, st: TaxState, *, printed: bool) -> Done:
        assert st.invoice_number and st.amount_fen is not None and st.tax_fen is not None and st.delivery
        outcome = TaxOutcome(
            invoice_number=st.invoice_number, amount_fen=st.amount_fen, tax_fen=st.tax_fen, delivery=st.delivery,
            real_name_method=st.face_method, waybill_id=st.waybill.waybill_id if st.waybill else None,
            tracking_number=st.waybill.tracking_number if st.waybill else None,
            payment_order_id=st.payment_order_id, printed=printed, paper_invoice=st.paper_invoice,
        )
        details = (msg("result.tracking_number", tracking_number=st.waybill.tracking_number),) if st.waybill else ()
        if not printed:
            details += (msg("tax.invoice_not_printed" if st.delivery == "print" else "result.receipt_not_printed",
                            invoice_number=st.invoice_number),)
        return Done(outcome=outcome, message=msg("tax.done", invoice_number=st.invoice_number), details=details)
