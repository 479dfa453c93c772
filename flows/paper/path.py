"""`PaperPath`: issue a paper invoice, reconcile its number three ways, print it on the next
pre-numbered form, record the form's fate — or hold everything until staff resolve.

One invoice, step by step (its progress is a ledger job, so a restart resumes it):
1. no open hold, a form under the head (else hold `stock_empty`);
2. the tax core issues the invoice (idempotency key per source and attempt: a replay after
   a lost answer returns the same invoice, never a second one);
3. the invoice system reports the number it wrote;
4. reconcile tax core / invoice system / paper; any difference → hold `mismatch`;
5. wait until the printer can print (a cover open or paper out *before* the job costs
   nothing: the form is untouched, it just waits — the staff screen shows why);
6. print; a failure after bytes went out, or a cover open / paper out found right after,
   → hold `print_interrupted`: only a person can see whether the form was spoiled;
7. record the form as printed.
A restart that finds a job in step 6 opens `unknown_outcome` for the same reason.

Staff resolve a hold with one of `ACTIONS[cause]`; every resolution is recorded with who,
when and how (ledger events) and reported through `notify`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable

from flows.paper.errors import PaperHeld, ResolutionRefused, StockEmpty
from flows.paper.layout import invoice_receipt
from flows.paper.ledger import Hold, PaperLedger
from flows.paper.printer import PaperPrinter, PrintFailed
from flows.paper.reconcile import reconcile
from flows.services.terminal_client import PaperInvoiceService
from flows.services.terminal_models import PaperInvoiceRequest, RollActivation, VoidRequest
from peripherals.errors import DeviceError
from peripherals.printer.models import PaperLevel

log = logging.getLogger(__name__)

ACTIONS: dict[str, tuple[str, ...]] = {
    "mismatch": ("recheck", "realign", "void_form", "reload"),
    "print_interrupted": ("reprint", "void_form", "confirm_printed", "reload"),
    "unknown_outcome": ("reprint", "void_form", "confirm_printed", "reload"),
    "stock_empty": ("reload",),
}
Notify = Callable[[str, dict[str, Any]], None]


class Stopping(Exception):
    """The terminal is shutting down: the job stays journaled and resumes on the next start."""


@dataclass(frozen=True)
class PrintedInvoice:
    invoice_code: str
    invoice_number: str
    source: str


class PaperPath:
    def __init__(self, ledger: PaperLedger, tax: PaperInvoiceService, printer: PaperPrinter, *, terminal_id: str,
                 notify: Notify | None = None, wait_for_staff: bool = True, printer_poll_s: float = 0.5):
        self.ledger, self.tax, self.printer = ledger, tax, printer
        self.terminal_id = terminal_id
        self.notify: Notify = notify or (lambda kind, detail: None)
        self.wait_for_staff = wait_for_staff
        self.printer_poll_s = printer_poll_s
        self._changed = asyncio.Event()
        self.printer_problem: str | None = None  # why the printer cannot print now (for the staff screen)

    # ------------------------------------------------------------ printing one invoice

    async def issue_and_print(self, *, source: str, key_base: str, application_id: str | None = None,
                              e_invoice_number: str | None = None, stop: asyncio.Event | None = None) -> PrintedInvoice:
        job_key = "paper:" + source
        job = self.ledger.job(job_key) or {"attempt": 1, "stage": "issue"}
        if job["stage"] == "printed":
            return PrintedInvoice(job["code"], job["number"], source)
        if job["stage"] == "printing" and not self._hold_for(source):
            fate = self.ledger.fate(job["code"], job["number"])
            if fate is not None and fate["fate"] == "printed" and fate["source"] == source:
                job = {**job, "stage": "printed"}  # recorded printed: only the job lagged behind
                self.ledger.save_job(job_key, job)
                return PrintedInvoice(job["code"], job["number"], source)
            self._open_hold("unknown_outcome", source=source, code=job["code"], number=job["number"])
        while True:
            await self._wait_no_holds(stop)
            job = self.ledger.job(job_key) or job
            if job["stage"] == "printed":
                return PrintedInvoice(job["code"], job["number"], source)
            try:
                code, number = self.ledger.next_form()
            except StockEmpty:
                self._open_hold("stock_empty", source=source)
                continue
            request = PaperInvoiceRequest(terminal_id=self.terminal_id, application_id=application_id,
                                          e_invoice_number=e_invoice_number, attempt=job["attempt"])
            invoice = await self.tax.issue_paper_invoice(request, idempotency_key=f"{key_base}:paper:{job['attempt']}")
            job = {**job, "issued": True}
            self.ledger.save_job(job_key, job)
            system = await self.tax.invoice_system_number(self.terminal_id)
            check = reconcile((invoice.invoice_code, invoice.invoice_number), (system.invoice_code, system.last_number),
                              (code, number))
            if not check.ok:
                log.warning("invoice numbers disagree: %s", check.describe())
                self._open_hold("mismatch", source=source, attempt=job["attempt"], **check.as_detail())
                continue
            if not await self._wait_printer(stop):
                continue
            job = {**job, "stage": "printing", "code": code, "number": number}
            self.ledger.save_job(job_key, job)
            outcome = await self._print(invoice, code, number, source)
            if outcome == "retry":
                self.ledger.save_job(job_key, {**job, "stage": "issue"})
                continue
            if outcome == "held":
                continue
            job = {**job, "stage": "printed"}
            self.ledger.mark_printed(code, number, source=source, job=(job_key, job))
            self.notify("printed", {"code": code, "number": number, "left": self.ledger.paper_left()})
            return PrintedInvoice(code, number, source)

    def forget(self, source: str) -> None:
        """The whole errand is done: the job record is no longer needed."""
        self.ledger.drop_job("paper:" + source)

    async def _print(self, invoice: Any, code: str, number: str, source: str) -> str:
        """'printed', 'retry' (nothing reached the paper) or 'held' (a form may be spoiled)."""
        try:
            await self.printer.print(invoice_receipt(invoice))
        except PrintFailed as exc:
            if not exc.started:
                self._printer_problem(exc.cause_code)
                return "retry"
            self.ledger.record("print_fault", code=code, number=number, source=source, cause=exc.cause_code)
            self._open_hold("print_interrupted", source=source, code=code, number=number, fault=exc.cause_code)
            return "held"
        try:
            status = await self.printer.status()
        except DeviceError as exc:
            status, problem = None, exc.code
        else:
            roll = self.ledger.roll()
            last_form = roll is not None and roll.last == int(number)  # the roll ends with this form
            problem = ("cover_open" if status.cover_open else
                       "paper_out" if status.paper is PaperLevel.OUT and not last_form else None)
        if problem:
            self.ledger.record("print_fault", code=code, number=number, source=source, cause=problem)
            self._open_hold("print_interrupted", source=source, code=code, number=number, fault=problem)
            return "held"
        return "printed"

    # ------------------------------------------------------------ waiting

    async def _wait_no_holds(self, stop: asyncio.Event | None) -> None:
        while True:
            holds = self.ledger.open_holds()
            if not holds:
                return
            if not self.wait_for_staff:
                raise PaperHeld(hold_id=holds[0].hold_id, cause=holds[0].cause)
            await self._wait_change(stop, timeout=None)

    async def _wait_change(self, stop: asyncio.Event | None, timeout: float | None) -> None:
        changed = self._changed
        waiters = [asyncio.ensure_future(changed.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if stop is not None and stop.is_set():
            raise Stopping()

    async def _wait_printer(self, stop: asyncio.Event | None) -> bool:
        """Until the printer can print; False if a hold was opened meanwhile."""
        while True:
            try:
                status = await self.printer.status()
                problem = None if status.can_print else ("cover_open" if status.cover_open else
                                                         "paper_out" if status.paper is PaperLevel.OUT else "printer_offline")
            except DeviceError as exc:
                problem = exc.code
            if problem is None:
                if self.printer_problem:
                    self.printer_problem = None
                    self.notify("printer_ready", {})
                return True
            self._printer_problem(problem)
            if not self.wait_for_staff:
                raise PaperHeld(f"the invoice printer cannot print ({problem})", cause=problem)
            await self._wait_change(stop, timeout=self.printer_poll_s)
            if self.ledger.open_holds():
                return False

    def _printer_problem(self, code: str) -> None:
        if self.printer_problem != code:
            self.printer_problem = code
            self.notify("printer_wait", {"cause": code})

    # ------------------------------------------------------------ holds

    def _hold_for(self, source: str) -> Hold | None:
        return next((h for h in self.ledger.open_holds() if h.detail.get("source") == source), None)

    def _open_hold(self, cause: str, **detail: Any) -> Hold:
        hold = self.ledger.open_hold(cause, **detail)
        self.notify("hold_opened", {"hold_id": hold.hold_id, "cause": cause, **detail})
        return hold

    def open_holds(self) -> list[Hold]:
        return self.ledger.open_holds()

    async def resolve(self, hold_id: int, action: str, *, staff: str, next_number: str | None = None,
                      invoice_code: str | None = None, first_number: str | None = None,
                      last_number: str | None = None) -> Hold:
        """Staff's resolution of a hold: recheck, realign, void_form, reprint, confirm_printed, reload."""
        hold = self.ledger.hold(hold_id)
        if hold is None or hold.resolved_at is not None:
            raise ResolutionRefused("this hold is not open")
        if not staff:
            raise ResolutionRefused("a resolution needs the staff member's id")
        if action not in ACTIONS.get(hold.cause, ()):
            raise ResolutionRefused(f"{action} does not resolve a {hold.cause} hold")
        source = hold.detail.get("source", "")
        detail: dict[str, Any] = {}
        if action == "realign":
            if not next_number or not next_number.isdigit():
                raise ResolutionRefused("realign needs the number of the form now under the print head")
            code, current = self.ledger.next_form()
            target, roll = int(next_number), self.ledger.roll()
            assert roll is not None
            if target < int(current):
                raise ResolutionRefused("that form's number is behind the roll: it was printed or voided already")
            if target > roll.last:
                raise ResolutionRefused("that number is not on the loaded roll")
            skipped = [roll.fmt(n) for n in range(int(current), target)]
            if skipped:
                await self._void(code, skipped, "realign", staff, source)
            detail = {"next_number": next_number, "voided": skipped}
        elif action == "void_form":
            code, current = self.ledger.next_form()
            await self._void(code, [current], "spoiled" if hold.cause != "mismatch" else "mismatch", staff, source)
            detail = {"voided": [current]}
        elif action == "reprint":
            self.ledger.record("reprint", staff=staff, source=source, code=hold.detail.get("code"),
                               number=hold.detail.get("number"))
            self._set_stage(source, "issue")
        elif action == "confirm_printed":
            code, number = hold.detail["code"], hold.detail["number"]
            job = self.ledger.job("paper:" + source)
            self.ledger.mark_printed(code, number, source=source,
                                     job=("paper:" + source, {**job, "stage": "printed"}) if job else None)
        elif action == "reload":
            if not (invoice_code and first_number and last_number):
                raise ResolutionRefused("reload needs the invoice code and the first and last numbers")
            await self.load_roll(invoice_code, first_number, last_number, staff=staff, in_flight=source)
            detail = {"invoice_code": invoice_code, "first": first_number, "last": last_number}
        resolved = self.ledger.resolve_hold(hold_id, staff=staff, action=action, **detail)
        self.notify("hold_resolved", {"hold_id": hold_id, "cause": hold.cause, "action": action, "staff": staff})
        self._wake()
        return resolved

    async def load_roll(self, invoice_code: str, first_number: str, last_number: str, *, staff: str,
                        in_flight: str = "") -> None:
        """Staff load a roll or box: the tax core must know it as this terminal's; an issued,
        unprinted invoice on the old roll is voided with its form first (it can never be printed)."""
        if not (len(invoice_code) == 12 and invoice_code.isdigit()):
            raise ResolutionRefused("the invoice code has 12 digits")
        if not all(len(n) == 8 and n.isdigit() for n in (first_number, last_number)):
            raise ResolutionRefused("invoice numbers have 8 digits")
        if int(last_number) < int(first_number):
            raise ResolutionRefused("the last number is before the first")
        job = self.ledger.job("paper:" + in_flight) if in_flight else None
        roll = self.ledger.roll()
        if job and job.get("issued") and job.get("stage") != "printed" and roll and roll.left:
            await self._void(roll.invoice_code, [roll.next_number], "staff", staff, in_flight)
        await self.tax.activate_roll(
            RollActivation(terminal_id=self.terminal_id, invoice_code=invoice_code, first_number=first_number,
                           last_number=last_number),
            idempotency_key=f"{self.terminal_id}:roll:{invoice_code}:{first_number}:{last_number}")
        self.ledger.load_roll(invoice_code, first_number, last_number, staff=staff)
        self.notify("roll_loaded", {"invoice_code": invoice_code, "first": first_number, "last": last_number,
                                    "staff": staff})
        self._wake()

    async def _void(self, code: str, numbers: list[str], reason: str, staff: str, source: str) -> None:
        record = await self.tax.void_numbers(
            VoidRequest(terminal_id=self.terminal_id, invoice_code=code, numbers=numbers, reason=reason,  # type: ignore[arg-type]
                        staff=staff),
            idempotency_key=f"{self.terminal_id}:void:{code}:{numbers[0]}:{numbers[-1]}")
        job = self.ledger.job("paper:" + source) if source else None
        next_attempt = None
        if record.invoices_voided and job is not None:  # its invoice went with the form: a new one next
            next_attempt = ("paper:" + source, {**job, "attempt": job["attempt"] + 1, "stage": "issue", "issued": False})
        self.ledger.void(code, numbers, reason=reason, staff=staff, source=source, job=next_attempt)
        self.notify("voided", {"code": code, "numbers": numbers, "reason": reason, "staff": staff})

    def _set_stage(self, source: str, stage: str) -> None:
        job = self.ledger.job("paper:" + source)
        if job is not None:
            self.ledger.save_job("paper:" + source, {**job, "stage": stage})

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
