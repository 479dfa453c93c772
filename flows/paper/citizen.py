"""The citizen's own tax invoice on the kiosk's pre-numbered paper: the same `PaperPath`
(stock, three-way reconciliation, printing) as the unattended terminal, so there is one
path to paper. The e-invoice issued in the flow is printed as a paper invoice: the tax
core assigns it the next number of the kiosk's roll.

Nobody at the kiosk can resolve a hold, so the path does not wait for staff: a hold or a
printer that cannot print ends the attempt with a clear screen (try again, or go without
the paper copy — the e-invoice stands either way); the hold itself stays for staff.
"""

from __future__ import annotations

from typing import Any

from flows.common_steps import RETRY, SKIP, error_view
from flows.errors import ServiceError
from flows.paper.errors import PaperError
from flows.views import Busy, msg
from peripherals.errors import DeviceError


async def print_paper_invoice(ctx: Any, e_invoice_number: str) -> str | None:
    """'CODE:NUMBER' of the paper invoice printed, or None when the citizen went without."""
    paper = ctx.deps.paper
    key = ctx.idempotency_key("paper")
    while True:
        try:
            printed = await ctx.call(
                lambda: paper.issue_and_print(source=e_invoice_number, key_base=key, e_invoice_number=e_invoice_number),
                view=Busy(message=msg("print.printing")), timeout=ctx.deps.settings.print_timeout_s)
            paper.forget(e_invoice_number)
            return f"{printed.invoice_code}:{printed.invoice_number}"
        except (PaperError, DeviceError, ServiceError) as exc:
            answer = await ctx.ask(error_view(exc.code, msg("tax.paper_failed", code=exc.code),
                                              msg("tax.paper_failed_next"), options=(RETRY, SKIP)))
            if answer == "skip":
                return None
