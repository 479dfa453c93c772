"""Government-service document delivery (政务服务件寄递): application papers in, the result mailed back.

ID card → the matter (from `flows.catalogue.MATTERS`: which department, how many pages at
least) → consent to photographing the papers → scan page by page with the document camera
(`peripherals.camera.page`: page detection, perspective correction, deskew, a readable-page
check that names what to fix) → review → the pages become one PDF (img2pdf, lossless) and
the submission is announced (idempotent; the back office answers the submission id and the
envelope's barcode) → the PDF is uploaded and checked against its digest → the kiosk's copy
is wiped → return address → waybill → QR payment of the return postage → the cover sheet
(barcode) for the envelope and the citizen's receipt.

Pages are personal data: they live only in the journaled state (`Personal`: AES-GCM in the
journal, docs/flows.md), as pages until the PDF is built and as the PDF until the back
office has it; then the field is emptied and the state journaled again, and the session's
end wipes the row (secure_delete + WAL truncation).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from enum import StrEnum

from pydantic import BaseModel, Field

from flows.catalogue import MATTERS, matter
from flows.common_steps import (
    RETRY,
    STAFF,
    CardHolder,
    WaybillInfo,
    ask_consent,
    error_view,
    print_receipt,
    read_id_card,
    staff_needed,
)
from flows.availability import OfflinePolicy
from flows.deps import FlowDeps
from flows.engine import Abort, Done, FlowContext, Next
from flows.journal import Personal
from flows.mailing import MailingSteps, mailed_details
from flows.services.hall_models import DocumentSubmissionRequest
from flows.services.models import MailingAddress
from flows.views import Busy, Choice, ChoiceOption, ConsentItem, Measuring, msg
from peripherals.camera.errors import PageNotFound, PageUnreadable

Ctx = FlowContext["DocumentDeliveryState", FlowDeps]

MAX_PAGES = 10
PAGE_PROBLEMS = ("blurred", "low_contrast", "no_text", "too_dark")


class DocumentDeliveryState(BaseModel):
    holder: Personal[CardHolder | None] = None
    matter: str | None = None
    pages: Personal[list[str]] = Field(default_factory=list)  # JPEG, base64, flat and straight
    page_count: int = 0
    pdf: Personal[str | None] = None  # base64, from the build until the back office has it
    pdf_sha256: str | None = None
    pdf_bytes: int = 0
    submission_id: str | None = None
    department: str | None = None
    envelope_barcode: str | None = None
    uploaded: bool = False
    address: Personal[MailingAddress | None] = None
    waybill: WaybillInfo | None = None
    payment_order_id: str | None = None
    paid_fen: int | None = None


class DocumentDeliveryOutcome(BaseModel):
    submission_id: str
    matter: str
    department: str
    pages: int
    pdf_sha256: str
    postage_fen: int
    payment_order_id: str
    tracking_number: str
    receipt_printed: bool


def build_pdf(pages_b64: list[str]) -> bytes:
    import img2pdf

    return img2pdf.convert([base64.b64decode(p) for p in pages_b64])


class DocumentDelivery(MailingSteps[DocumentDeliveryState]):
    name = "document-delivery"
    version = 1
    State = DocumentDeliveryState
    mail_contents = "政务服务办理结果"
    payment_description = "政务服务件回寄邮费"
    offline_policy = OfflinePolicy(reason="availability.offline.documents")  # online only: docs/offline.md

    class Step(StrEnum):
        READ_ID = "read_id"
        MATTER = "matter"
        CONSENT = "consent"
        SCAN = "scan"
        REVIEW = "review"
        SUBMIT = "submit"
        UPLOAD = "upload"
        ADDRESS = "address"
        MAIL = "mail"
        PAY = "pay"
        PRINT = "print"

    def accepted_reference(self, ctx: Ctx) -> str | None:
        return ctx.state.submission_id

    async def step_read_id(self, ctx: Ctx) -> Next | Done | Abort:
        self.card, ctx.state.holder = await read_id_card(ctx, purpose="document_delivery")
        return Next(step=self.Step.MATTER)

    async def step_matter(self, ctx: Ctx) -> Next | Done | Abort:
        ctx.state.matter = await ctx.ask(Choice(message=msg("documents.matter"), options=tuple(
            ChoiceOption(key=m.key, label=msg(f"matter.{m.key}")) for m in MATTERS)))
        return Next(step=self.Step.CONSENT)

    async def step_consent(self, ctx: Ctx) -> Next | Done | Abort:
        answer = await ask_consent(ctx, "documents.consent", (
            ConsentItem(key="scans", text=msg("consent.scans.documents"), required=True),))
        if not answer.ok("scans"):
            raise staff_needed("documents")  # the counter takes the papers by hand
        return Next(step=self.Step.SCAN)

    async def step_scan(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.matter
        need = matter(st.matter).pages
        while True:
            options = [ChoiceOption(key="capture", label=msg("documents.capture"))]
            if len(st.pages) >= need:
                options.append(ChoiceOption(key="done", label=msg("documents.done_scanning")))
            options.append(STAFF)
            answer = await ctx.ask(Choice(message=msg("documents.place_page", number=len(st.pages) + 1,
                                                      scanned=len(st.pages), need=need), options=tuple(options)))
            if answer == "staff":
                raise staff_needed("documents")
            if answer == "done":
                st.page_count = len(st.pages)
                return Next(step=self.Step.REVIEW)
            page = await self._scan_one(ctx)
            if page is not None:
                st.pages = [*st.pages, page]
                await ctx.checkpoint()  # each page journaled (encrypted) as soon as it is taken
                if len(st.pages) >= MAX_PAGES:
                    st.page_count = len(st.pages)
                    return Next(step=self.Step.REVIEW)

    async def _scan_one(self, ctx: Ctx) -> str | None:
        """One photo through the page pipeline; a base64 JPEG, or None after telling the citizen what to fix."""
        devices = ctx.deps.devices
        try:
            scanned = await ctx.call(lambda: self._photo_and_page(devices),
                                     view=Measuring(instruction=msg("documents.hold_still"), device="doccam"))
        except PageNotFound:
            answer = await ctx.ask(error_view("page_not_found", msg("documents.page_not_found"),
                                              msg("documents.place_again"), options=(RETRY, STAFF)))
        except PageUnreadable as e:
            problem = next((p for p in e.problems if p in PAGE_PROBLEMS), "blurred")
            answer = await ctx.ask(error_view("page_unreadable", msg(f"documents.page.{problem}"),
                                              msg("documents.place_again"), options=(RETRY, STAFF)))
        else:
            return base64.b64encode(scanned.jpeg).decode()
        if answer == "staff":
            raise staff_needed("documents")
        return None

    @staticmethod
    async def _photo_and_page(devices):
        photo = await devices.document_photo()
        return await devices.scan_page(photo)

    async def step_review(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.matter
        answer = await ctx.ask(Choice(
            message=msg("documents.review", matter=st.matter, pages=st.page_count,
                        department=matter(st.matter).department),
            options=(ChoiceOption(key="submit", label=msg("button.submit")),
                     ChoiceOption(key="rescan", label=msg("documents.rescan")))))
        if answer == "rescan":
            st.pages, st.page_count = [], 0
            return Next(step=self.Step.SCAN)
        return Next(step=self.Step.SUBMIT, allow_back=False)

    async def step_submit(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.holder and st.matter
        if st.pdf is None:  # built once: its digest is what the back office checks the upload against
            pdf = await asyncio.to_thread(build_pdf, st.pages)
            st.pdf, st.pdf_sha256, st.pdf_bytes = base64.b64encode(pdf).decode(), hashlib.sha256(pdf).hexdigest(), len(pdf)
            st.pages = []  # the pages now exist only inside the PDF
            await ctx.checkpoint()
        assert st.pdf_sha256
        sub = await ctx.submit(ctx.deps.documents.submit_documents, DocumentSubmissionRequest(
            applicant_id_number=st.holder.id_number, matter=st.matter, pages=st.page_count, pdf_sha256=st.pdf_sha256,
            pdf_bytes=st.pdf_bytes), purpose="submission", view=Busy(message=msg("documents.submitting")))
        st.submission_id, st.department, st.envelope_barcode = sub.submission_id, sub.department, sub.envelope_barcode
        return Next(step=self.Step.UPLOAD, allow_back=False)

    async def step_upload(self, ctx: Ctx) -> Next | Done | Abort:
        st = ctx.state
        assert st.submission_id
        if not st.uploaded:
            assert st.pdf
            pdf, sub_id = base64.b64decode(st.pdf), st.submission_id
            await ctx.call(lambda: ctx.deps.documents.upload_documents_pdf(
                sub_id, pdf, idempotency_key=ctx.idempotency_key("pdf")), view=Busy(message=msg("documents.uploading")))
            st.uploaded = True
        st.pdf = None  # sent: the kiosk's copy is wiped (the state is journaled without it)
        return Next(step=self.Step.ADDRESS, allow_back=False)

    # address, mail and pay: MailingSteps (the waybill carries the submission id)

    async def step_print(self, ctx: Ctx) -> Next | Done | Abort:
        from peripherals.printer.models import Barcode, Receipt, ReceiptLine

        st = ctx.state
        assert st.submission_id and st.matter and st.department and st.waybill and st.payment_order_id
        assert st.envelope_barcode and st.pdf_sha256
        title_zh = matter(st.matter).title_zh
        cover = Receipt(
            title="政务服务件封面", barcode=Barcode(data=st.envelope_barcode),
            footer="请将本封面贴在信封上，交邮政窗口",
            lines=[ReceiptLine(text=f"受理编号：{st.submission_id}", bold=True), ReceiptLine(text=f"事项：{title_zh}"),
                   ReceiptLine(text=f"接收部门：{st.department}"), ReceiptLine(text=f"材料页数：{st.page_count}"),
                   ReceiptLine(text=f"结果回寄邮件号：{st.waybill.tracking_number}")])
        receipt = Receipt(
            title="政务服务件寄递回执", qr=st.waybill.tracking_number, footer="办理结果将邮寄到家，请凭邮件号查询",
            lines=[ReceiptLine(text=f"受理编号：{st.submission_id}"), ReceiptLine(text=f"事项：{title_zh}"),
                   ReceiptLine(text=f"回寄邮费已付：¥{(st.paid_fen or 0) / 100:.2f}"),
                   ReceiptLine(text=f"邮件号：{st.waybill.tracking_number}", bold=True)])
        printed = await print_receipt(ctx, cover)
        printed = await print_receipt(ctx, receipt) and printed
        outcome = DocumentDeliveryOutcome(
            submission_id=st.submission_id, matter=st.matter, department=st.department, pages=st.page_count,
            pdf_sha256=st.pdf_sha256, postage_fen=st.waybill.postage_fen, payment_order_id=st.payment_order_id,
            tracking_number=st.waybill.tracking_number, receipt_printed=printed)
        return Done(outcome=outcome, message=msg("documents.done", submission_id=st.submission_id),
                    details=mailed_details(st.waybill, printed))


