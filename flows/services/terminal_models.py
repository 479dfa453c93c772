"""Messages of the invoice terminal's back-office services (application queue, paper invoice
stock at the tax core 金三, the VAT invoice system 防伪税控, requisitions).

Paper invoices here are roll invoices (增值税普通发票（卷票）): a 12-digit invoice code and
an 8-digit number pre-printed on every form of the roll. The tax core allocates a range
of numbers to a terminal and assigns the next one to each invoice it issues; the invoice
system reports the number it last wrote. Before every print the terminal compares both
with the number of the next form on its roll (flows.paper).

Same conventions as models.py: requests forbid extra fields, personal data is kept out of
repr, money is integer fen.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from flows.services.models import Fen, MailingAddress, _Request, _Response

InvoiceCode = Annotated[str, Field(pattern=r"^\d{12}$")]
PaperNumber = Annotated[str, Field(pattern=r"^\d{8}$")]
TerminalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{2,63}$")]
ApplicationId = Annotated[str, Field(pattern=r"^[A-Z]{2}\d{14}$")]
ApplicationKind = Literal["issue_mail", "requisition"]
VoidReason = Literal["spoiled", "realign", "mismatch", "unknown_outcome", "staff"]


# ---------------------------------------------------------------- application queue


class TerminalApplication(_Response):
    """One online application as the queue lists it: no personal data but the masked buyer."""

    application_id: str
    kind: ApplicationKind
    status: Literal["pending", "done"]
    item: str = ""
    amount_fen: Fen = 0
    tax_rate_percent: int = 3
    requisition_count: int = 0  # forms requested (requisitions)
    buyer: str  # masked, e.g. '张*（110105********002X）'
    created_at: dt.datetime


class ApplicationQueue(_Response):
    applications: list[TerminalApplication]
    pending_total: int


class ApplicationDetail(_Response):
    """What the terminal needs to mail the invoice: the address (personal; never logged)."""

    application: TerminalApplication
    address: MailingAddress | None = Field(default=None, repr=False)


class CompletionRequest(_Request):
    terminal_id: TerminalId
    invoice_code: InvoiceCode | None = None
    invoice_number: PaperNumber | None = None
    tracking_number: str | None = Field(default=None, max_length=16)
    requisition_id: str | None = Field(default=None, max_length=32)


class ApplicationCompleted(_Response):
    application_id: str
    status: Literal["done"]
    completed_at: dt.datetime


# ---------------------------------------------------------------- stock and numbers


class AllocationRequest(_Request):
    terminal_id: TerminalId
    count: int = Field(ge=1, le=5000)


class StockAllocation(_Response):
    """A range of paper numbers the tax core allocated to a terminal (one roll or box)."""

    invoice_code: str
    first_number: str
    last_number: str
    count: int


class RollActivation(_Request):
    """Staff loaded this roll; from its first form on, the terminal prints on it."""

    terminal_id: TerminalId
    invoice_code: InvoiceCode
    first_number: PaperNumber
    last_number: PaperNumber

    @model_validator(mode="after")
    def _order(self) -> "RollActivation":
        if int(self.last_number) < int(self.first_number):
            raise ValueError("last_number before first_number")
        return self


class RollState(_Response):
    terminal_id: str
    invoice_code: str
    core_next: str  # the number the tax core will assign next
    system_next: str  # the number the invoice system will write next
    last_number: str


class PaperInvoiceRequest(_Request):
    """Issue a paper invoice for an online application, or print an e-invoice on paper."""

    terminal_id: TerminalId
    application_id: ApplicationId | None = None
    e_invoice_number: str | None = Field(default=None, pattern=r"^\d{20}$")
    attempt: int = Field(default=1, ge=1, le=100)  # a new attempt after the last one was voided

    @model_validator(mode="after")
    def _one_source(self) -> "PaperInvoiceRequest":
        if (self.application_id is None) == (self.e_invoice_number is None):
            raise ValueError("give application_id or e_invoice_number")
        return self


class PaperInvoice(_Response):
    invoice_code: str
    invoice_number: str  # the number the tax core assigned (金三)
    issued_at: dt.datetime
    item: str
    amount_fen: Fen
    tax_fen: Fen
    net_fen: Fen
    buyer: str  # masked
    printable_lines: list[str]
    source: str  # application id or e-invoice number


class InvoiceSystemNumber(_Response):
    """What the VAT invoice system (防伪税控) reports for a terminal's roll."""

    terminal_id: str
    invoice_code: str
    last_number: str | None  # the last invoice it wrote (None: nothing yet on this roll)
    next_number: str


class VoidRequest(_Request):
    """Paper numbers that will never carry a valid invoice (and the invoice on one, if issued)."""

    terminal_id: TerminalId
    invoice_code: InvoiceCode
    numbers: list[PaperNumber] = Field(min_length=1, max_length=500)
    reason: VoidReason
    staff: str = Field(default="", max_length=64)


class VoidRecord(_Response):
    invoice_code: str
    numbers: list[str]
    invoices_voided: list[str]  # those that had an issued invoice
    voided_at: dt.datetime


class RequisitionRequest(_Request):
    terminal_id: TerminalId
    application_id: ApplicationId


class Requisition(_Response):
    """Invoice forms handed to a taxpayer (发票领用): the range is now theirs."""

    requisition_id: str
    application_id: str
    invoice_code: str
    first_number: str
    last_number: str
    count: int
    taxpayer: str  # masked
    issued_at: dt.datetime


# ---------------------------------------------------------------- test controls


class TerminalFaults(_Request):
    """Wrong numbers now and then: the answer on the wire is off, the record stays right."""

    core_wrong_rate: float = Field(default=0.0, ge=0, le=1)
    system_wrong_rate: float = Field(default=0.0, ge=0, le=1)
    core_wrong_next: int = Field(default=0, ge=0)
    system_wrong_next: int = Field(default=0, ge=0)
    seed: int | None = None


class TerminalFaultCounts(_Response):
    core_wrong_injected: int
    system_wrong_injected: int


class SeedApplications(_Request):
    count: int = Field(ge=1, le=5000)
    requisition_every: int = Field(default=0, ge=0)  # every n-th one is a requisition (0: none)
    seed: int = 1
