"""The invoice terminal's back-office services: the Protocol the terminal awaits and its
HTTP implementation (the same client, retries and idempotency keys as every service).

    async with HttpTerminalBackOffice(url) as bo:
        queue = await bo.pending_applications(limit=10)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from flows.services.http_client import HttpBackOffice, _segment
from flows.services.interfaces import PostService
from flows.services.terminal_models import (
    AllocationRequest,
    ApplicationCompleted,
    ApplicationDetail,
    ApplicationQueue,
    CompletionRequest,
    InvoiceSystemNumber,
    PaperInvoice,
    PaperInvoiceRequest,
    Requisition,
    RequisitionRequest,
    RollActivation,
    RollState,
    StockAllocation,
    VoidRecord,
    VoidRequest,
)


@runtime_checkable
class PaperInvoiceService(Protocol):
    """Tax core (金三) paper stock and invoices, and the VAT invoice system (防伪税控)."""

    async def allocate_stock(self, request: AllocationRequest, *, idempotency_key: str) -> StockAllocation: ...

    async def activate_roll(self, request: RollActivation, *, idempotency_key: str) -> RollState: ...

    async def issue_paper_invoice(self, request: PaperInvoiceRequest, *, idempotency_key: str) -> PaperInvoice: ...

    async def invoice_system_number(self, terminal_id: str) -> InvoiceSystemNumber: ...

    async def void_numbers(self, request: VoidRequest, *, idempotency_key: str) -> VoidRecord: ...


@runtime_checkable
class TerminalBackOffice(PaperInvoiceService, PostService, Protocol):
    """Everything the unattended terminal asks of the back office."""

    async def pending_applications(self, limit: int = 20) -> ApplicationQueue: ...

    async def application_detail(self, application_id: str) -> ApplicationDetail: ...

    async def complete_application(
        self, application_id: str, request: CompletionRequest, *, idempotency_key: str
    ) -> ApplicationCompleted: ...

    async def issue_requisition(self, request: RequisitionRequest, *, idempotency_key: str) -> Requisition: ...


class HttpTerminalBackOffice(HttpBackOffice):
    """`HttpBackOffice` plus the terminal's services (docs/terminal.md)."""

    async def pending_applications(self, limit: int = 20) -> ApplicationQueue:
        return await self._call("GET", f"/v1/terminal/applications?limit={int(limit)}", ApplicationQueue,
                                service="terminal")

    async def application_detail(self, application_id: str) -> ApplicationDetail:
        return await self._call("GET", f"/v1/terminal/applications/{_segment(application_id)}", ApplicationDetail,
                                service="terminal")

    async def complete_application(
        self, application_id: str, request: CompletionRequest, *, idempotency_key: str
    ) -> ApplicationCompleted:
        return await self._call("POST", f"/v1/terminal/applications/{_segment(application_id)}/complete",
                                ApplicationCompleted, body=request, key=idempotency_key, service="terminal")

    async def issue_requisition(self, request: RequisitionRequest, *, idempotency_key: str) -> Requisition:
        return await self._call("POST", "/v1/tax/terminal/requisitions", Requisition, body=request,
                                key=idempotency_key, service="tax")

    async def allocate_stock(self, request: AllocationRequest, *, idempotency_key: str) -> StockAllocation:
        return await self._call("POST", "/v1/tax/terminal/allocations", StockAllocation, body=request,
                                key=idempotency_key, service="tax")

    async def activate_roll(self, request: RollActivation, *, idempotency_key: str) -> RollState:
        return await self._call("POST", "/v1/tax/terminal/rolls", RollState, body=request, key=idempotency_key,
                                service="tax")

    async def issue_paper_invoice(self, request: PaperInvoiceRequest, *, idempotency_key: str) -> PaperInvoice:
        return await self._call("POST", "/v1/tax/terminal/invoices", PaperInvoice, body=request,
                                key=idempotency_key, service="tax")

    async def invoice_system_number(self, terminal_id: str) -> InvoiceSystemNumber:
        return await self._call("GET", f"/v1/tax/invoice-system/{_segment(terminal_id)}", InvoiceSystemNumber,
                                service="invoice_system")

    async def void_numbers(self, request: VoidRequest, *, idempotency_key: str) -> VoidRecord:
        return await self._call("POST", "/v1/tax/terminal/voids", VoidRecord, body=request, key=idempotency_key,
                                service="tax")
