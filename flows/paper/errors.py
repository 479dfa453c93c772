"""Typed errors of the paper path; codes are i18n keys (`error.<code>`) and telemetry names."""

from __future__ import annotations

from flows.errors import FlowError


class PaperError(FlowError):
    code = "paper_error"
    plain = "the invoice paper cannot be used"


class PaperLedgerError(PaperError):
    """An operation that would break the stock's rules (a form out of order, a wrong roll)."""

    code = "paper_ledger_error"


class PaperLedgerUnavailable(PaperError):
    """The ledger cannot be written (disk full, I/O error): nothing may print until it can,
    since a form printed without its record would be a number without a fate."""

    code = "paper_ledger_unavailable"
    plain = "the invoice paper records cannot be written"


class StockEmpty(PaperError):
    code = "paper_stock_empty"
    plain = "no invoice paper is loaded"


class NumberAlreadyUsed(PaperLedgerError):
    """A roll or box whose numbers were printed or voided before: never reused."""

    code = "paper_number_used"


class PaperHeld(PaperError):
    """Printing is held until staff resolve an open hold (a mismatch, an interrupted print)."""

    code = "paper_held"
    plain = "invoice printing is stopped until staff check the paper"

    def __init__(self, message: str | None = None, *, hold_id: int | None = None, cause: str = ""):
        self.hold_id, self.cause = hold_id, cause
        super().__init__(message or self.plain)


class ResolutionRefused(PaperError):
    """A staff action that does not fit the hold or the stock (e.g. realigning backwards)."""

    code = "paper_resolution_refused"
