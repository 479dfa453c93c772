"""Mailing of a property certificate (不动产权证书寄递) for the planning and natural-resources bureau.

The bureau hands the hall's post office sealed envelopes with finished certificates; a
citizen who does not want to queue at the registration office asks for theirs to be
mailed. ID card → the acceptance number on their receipt (受理号 BDC…) → the certificate
record from the bureau's back office (ready? already collected or being mailed?) →
review → mailing request (idempotent; the bureau releases the envelope and gives a
pickup code) → mailing address → waybill (its reference is the bureau's mailing id) →
QR payment of the postage → two slips: the citizen's receipt with the tracking number,
and the pickup code the post clerk shows the registration office for the sealed envelope.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from flows.common_steps import CardHolder, WaybillInfo, abort_with, print_receipt, read_id_card, yuan
from flows.availability import OfflinePolicy
from flows.deps import FlowDeps
from flows.engine import Abort, AbortReason, Done, FlowContext, Next
from flows.journal import Personal
from flows.mailing import MailingSteps, mailed_details
from flows.services.hall_models import CertificateMailingRequest, CertificateQuery
from flows.services.models import MailingAddress
from flows.views import Busy, Choice, ChoiceOption, FieldKind, Form, FormField, Prompt, msg

Ctx = FlowContext["PropertyCertificateState", FlowDeps]

NOT_RELEASABLE = {"not_ready": "certificate_not_ready", "collected": "certificate_already_released",
                  "mailing_requested": "certificate_already_released"}


class PropertyCertificateState(BaseModel):
    holder: Personal[CardHolder | None] = None
    reference: Personal[str | None] = None  # BDC + 12 digits
    certificate_number: Personal[str | None] = None
    office: str | None = None
    mailing_id: str | None = None
    pickup_code: Personal[str | None] = None  # releases the sealed envelope: sealed in the journal like personal data
    address: Personal[MailingAddress | None] = None
    waybill: WaybillInfo | None = None
    payment_order_id: str | None = None
    paid_fen: int | None = None


class PropertyCertificateOutcome(BaseModel):
    mailing_id: str
    pickup_code: str
    office: str
    postage_fen: int
    payment_order_id: str
    waybill_id: str
    tracking_number: str
    receipt_printed: bool


class PropertyCertificate(MailingSteps[PropertyCertificateState]):
    name = "property-certificate"
    version = 2  # 2: the pickup code is sealed in the journal
    State = PropertyCertificateState
    mail_contents = "不动产权证书"
    payment_description = "不动产权证书邮费"
    offline_policy = OfflinePolicy(reason="availability.offline.property")  # online only: docs/offline.md

    class Step(StrEnum):
        READ_ID = "read_id"
        REFERENCE = "reference"
        CERTIFICATE = "certificate"
        REVIEW = "review"
        REQUEST = "request"
        ADDRESS = "address"
        MAIL = "mail"
        PAY = "pay"
        PRINT = "print"

    def accepted_reference(self, ctx: Ctx) -> str | None:
        return ctx.state.mailing_id

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="property_certificate")
        return Next(step=self.Step.REFERENCE)

    async def step_reference(self, ctx: Ctx) -> Next | Done | Abort:
        values = await ctx.ask(Form(message=msg("property.reference"), fields=(
            FormField(name="reference", label=msg("field.property_reference"), kind=FieldKind.DIGITS,
                      min_length=12, max_length=12, personal=True),)))
        ctx.state.reference = "BDC" + values["reference"]
        return Next(step=self.Step.CERTIFICATE)

    async def step_certificate(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.reference
        query = CertificateQuery(id_number=st.holder.id_number, reference=st.reference)
        record = await ctx.call(lambda: ctx.deps.property.lookup_certificate(query),
                                view=Prompt(message=msg("property.looking_up")))
        if record.status in NOT_RELEASABLE:
            code = NOT_RELEASABLE[record.status]
            raise abort_with(AbortReason.NOT_ELIGIBLE, code, msg(f"error.rejected.{code}", service="property", field=""),
                             msg("property.ask_office", office=record.office))
        st.certificate_number, st.office = record.certificate_number, record.office
        return Next(step=self.Step.REVIEW)

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        answer = await ctx.ask(Choice(
            message=msg("property.review", certificate_number=st.certificate_number or "", office=st.office or ""),
            options=(ChoiceOption(key="submit", label=msg("button.submit")),
                     ChoiceOption(key="edit", label=msg("button.change_details")))))
        if answer == "edit":
            return Next(step=self.Step.REFERENCE)
        return Next(step=self.Step.REQUEST, allow_back=False)

    async def step_request(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.reference
        mailing = await ctx.submit(ctx.deps.property.request_certificate_mailing,
                                   CertificateMailingRequest(id_number=st.holder.id_number, reference=st.reference),
                                   purpose="mailing", view=Busy(message=msg("property.requesting")))
        st.mailing_id, st.pickup_code, st.office = mailing.mailing_id, mailing.pickup_code, mailing.office
        return Next(step=self.Step.ADDRESS, allow_back=False)

    # address, mail and pay: MailingSteps (the waybill carries the bureau's mailing id)

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        from peripherals.printer.models import Receipt, ReceiptLine

        st = ctx.state
        assert st.mailing_id and st.pickup_code and st.office and st.waybill and st.payment_order_id
        citizen = Receipt(
            title="不动产权证书寄递", qr=st.waybill.tracking_number, footer="证书将密封邮寄到家，请凭邮件号查询",
            lines=[ReceiptLine(text=f"寄递编号：{st.mailing_id}"), ReceiptLine(text=f"发证机构：{st.office}"),
                   ReceiptLine(text=f"邮费已付：{yuan(st.paid_fen or 0)}"),
                   ReceiptLine(text=f"邮件号：{st.waybill.tracking_number}", bold=True)])
        clerk = Receipt(
            title="不动产权证书取件单（邮政揽收员）", qr=f"{st.mailing_id}:{st.pickup_code}",
            footer="请交邮政窗口：凭取件码核对并取出密封证书，贴面单交寄",
            lines=[ReceiptLine(text=f"取件码：{st.pickup_code}", bold=True, double=True, align="center"),
                   ReceiptLine(text=f"寄递编号：{st.mailing_id}"), ReceiptLine(text=f"发证机构：{st.office}"),
                   ReceiptLine(text=f"邮件号：{st.waybill.tracking_number}")])
        printed = await print_receipt(ctx, citizen)
        printed = await print_receipt(ctx, clerk) and printed
        outcome = PropertyCertificateOutcome(
            mailing_id=st.mailing_id, pickup_code=st.pickup_code, office=st.office, postage_fen=st.waybill.postage_fen,
            payment_order_id=st.payment_order_id, waybill_id=st.waybill.waybill_id,
            tracking_number=st.waybill.tracking_number, receipt_printed=printed,
        )
        return Done(outcome=outcome, message=msg("property.done", pickup_code=st.pickup_code),
                    details=mailed_details(st.waybill, printed))
