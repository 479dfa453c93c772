"""The unattended invoice terminal of the e-tax mailing centre: online applications in,
paper invoices and waybills out, no citizen at the screen.

`InvoiceTerminal.run(stop)` pulls pending applications from the back office and works
through them one by one:
- issue + mail: paper invoice through `PaperPath` (issue, three-way reconciliation, print
  on the next pre-numbered form), waybill from the post (idempotent), waybill label with
  its barcode on the label printer, then the application is confirmed done;
- requisition (发票领用): the tax core hands the taxpayer a range, the slip is printed.

Every errand's progress is a ledger job (keys derive from the terminal id and the
application id), so after a restart it resumes where it stopped: a back-office call is
replayed from its idempotency record, a print is never repeated without a record.
`stop` (SIGTERM) is looked at between stages: a print under way always finishes; a wait
(a hold, a printer fault) ends at once and the errand stays journaled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from flows.paper.errors import PaperError
from flows.paper.layout import requisition_receipt, waybill_receipt
from flows.paper.ledger import PaperLedger
from flows.paper.path import ACTIONS, PaperPath, Stopping
from flows.paper.printer import PaperPrinter, PrintFailed
from flows.services.errors import ServiceError, ServiceRejected
from flows.services.models import Waybill, WaybillRequest
from flows.services.terminal_client import TerminalBackOffice
from flows.services.terminal_models import CompletionRequest, RequisitionRequest, TerminalApplication
from flows.terminal.status import Alarm, Counters, HoldView, QueueItem, TerminalStatus, alarm_for
from flows.views import msg
from peripherals.errors import DeviceError

log = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]
MAX_ALARMS = 20


@dataclass
class ErrandRecord:
    """One finished errand, for the benchmark and the staff screen's history."""

    application_id: str
    kind: str
    started: float
    finished: float
    invoice: str = ""
    tracking_number: str = ""
    holds: int = 0

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass
class TerminalSettings:
    terminal_id: str
    poll_s: float = 5.0  # how often an empty queue is asked again
    batch: int = 20
    retry_s: float = 3.0  # after a back-office failure
    printer_poll_s: float = 0.5


class InvoiceTerminal:
    def __init__(self, backoffice: TerminalBackOffice, ledger: PaperLedger, invoice_printer: PaperPrinter,
                 label_printer: PaperPrinter, settings: TerminalSettings, *, events: EventSink | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.bo, self.ledger, self.label_printer, self.settings = backoffice, ledger, label_printer, settings
        self.events: EventSink = events or (lambda kind, detail: None)
        self._clock, self._wall = clock, wall
        self.paper = PaperPath(ledger, backoffice, invoice_printer, terminal_id=settings.terminal_id,
                               notify=self._on_paper, printer_poll_s=settings.printer_poll_s)
        self.status = TerminalStatus(terminal_id=settings.terminal_id)
        self.counters = Counters(clock)
        self.records: list[ErrandRecord] = []
        self.listeners: list[Callable[[TerminalStatus], None]] = []  # the staff screen
        self._holds_in_errand = 0
        self.refused: set[str] = set()  # applications the back office refused: left for a person
        self._refresh()

    # ------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event, *, exit_when_empty: bool = False) -> None:
        self._set(state="running")
        try:
            while not stop.is_set():
                # errands journaled before (a restart, a confirmation whose answers were all lost) come first
                for source, job in self.ledger.jobs():
                    app = TerminalApplication.model_validate(job["application"]) if source.startswith("terminal:") else None
                    if app is not None and app.application_id not in self.refused and not stop.is_set():
                        await self._errand_safely(app, stop)
                if stop.is_set():
                    break
                try:
                    queue = await self.bo.pending_applications(limit=self.settings.batch)
                except ServiceError as exc:
                    self._alarm(Alarm(at=self._wall(), level="warning", code=exc.code,
                                      text=msg("terminal.alarm.backoffice", code=exc.code)))
                    await _sleep_or_stop(stop, self.settings.retry_s)
                    continue
                self._set(queue=[QueueItem(application_id=a.application_id, kind=a.kind, buyer=a.buyer)
                                 for a in queue.applications], pending_total=queue.pending_total)
                if not queue.applications:
                    if exit_when_empty:
                        return
                    self._set(state="idle")
                    await _sleep_or_stop(stop, self.settings.poll_s)
                    continue
                todo = [a for a in queue.applications if a.application_id not in self.refused]
                if not todo:
                    if exit_when_empty:
                        return
                    await _sleep_or_stop(stop, self.settings.poll_s)
                    continue
                for application in todo:
                    if stop.is_set():
                        break
                    if not await self._errand_safely(application, stop):
                        break  # ask the queue again after a failure
        finally:
            self._set(state="stopped" if stop.is_set() else "idle", current=None, stage="")

    async def _errand_safely(self, application: TerminalApplication, stop: asyncio.Event) -> bool:
        try:
            await self.errand(application, stop)
            return True
        except Stopping:
            self._set(state="stopping")
            return False
        except ServiceRejected as exc:
            log.warning("application %s refused: %s", application.application_id, exc.code)
            self.refused.add(application.application_id)
            self._alarm(Alarm(at=self._wall(), level="warning", code=exc.code,
                              text=msg("terminal.alarm.refused", application=application.application_id, code=exc.code)))
            return False
        except (ServiceError, PaperError, DeviceError) as exc:
            log.warning("errand %s stopped: %s", application.application_id, exc.code)
            if isinstance(exc, PaperError):  # e.g. the ledger cannot be written: printing stops with it
                alarm = Alarm(at=self._wall(), level="alarm", code=exc.code, sound=True,
                              text=msg("terminal.alarm.paper", code=exc.code))
            elif isinstance(exc, DeviceError):
                alarm = Alarm(at=self._wall(), level="warning", code=exc.code, sound=True,
                              text=msg("terminal.alarm.printer", cause=exc.code))
            else:
                alarm = Alarm(at=self._wall(), level="warning", code=exc.code,
                              text=msg("terminal.alarm.backoffice", code=exc.code))
            self._alarm(alarm)
            await _sleep_or_stop(stop, self.settings.retry_s)
            return False

    async def errand(self, application: TerminalApplication, stop: asyncio.Event) -> ErrandRecord:
        app_id = application.application_id
        job_key = "terminal:" + app_id
        job = self.ledger.job(job_key) or {"application": application.model_dump(mode="json"), "stage": "start",
                                           "started_wall": self._wall()}
        self.ledger.save_job(job_key, job)
        started = self._clock()
        self._holds_in_errand = 0
        self._set(current=app_id, state="running")
        if application.kind == "requisition":
            record = await self._requisition(application, job_key, job, stop)
        else:
            record = await self._issue_and_mail(application, job_key, job, stop)
        record.started, record.finished, record.holds = started, self._clock(), self._holds_in_errand
        self.ledger.drop_job(job_key)
        self.paper.forget(app_id)
        self.records.append(record)
        self.counters.finished()
        self._set(done=self.status.done + 1, invoices=self.status.invoices + (application.kind == "issue_mail"),
                  requisitions=self.status.requisitions + (application.kind == "requisition"), current=None, stage="")
        self.events("errand_done", {"kind": application.kind})
        return record

    async def _issue_and_mail(self, application: TerminalApplication, job_key: str, job: dict[str, Any],
                              stop: asyncio.Event) -> ErrandRecord:
        app_id, tid = application.application_id, self.settings.terminal_id
        self._set(stage="printing_invoice")
        printed = await self.paper.issue_and_print(source=app_id, key_base=f"{tid}:{app_id}", application_id=app_id,
                                                   stop=stop)
        job = {**job, "stage": "invoice_printed", "invoice_code": printed.invoice_code,
               "invoice_number": printed.invoice_number}
        self.ledger.save_job(job_key, job)
        _check_stop(stop)
        self._set(stage="waybill")
        detail = await self.bo.application_detail(app_id)
        if detail.address is None:
            raise ServiceRejected("the application has no address", code="application_without_address")
        waybill: Waybill = await self.bo.create_waybill(
            WaybillRequest(address=detail.address, contents="发票", reference=app_id),
            idempotency_key=f"{tid}:{app_id}:waybill")
        if job["stage"] != "waybill_printed":
            self._set(stage="printing_waybill")
            await self._print_label(waybill_receipt(waybill, detail.address, contents="发票", reference=app_id),
                                    app_id, stop, reprint=job.get("label_started", False), job_key=job_key, job=job)
            job = {**job, "stage": "waybill_printed", "tracking_number": waybill.tracking_number}
            self.ledger.save_job(job_key, job)
        self._set(stage="confirming")
        await self._complete(app_id, CompletionRequest(
            terminal_id=tid, invoice_code=printed.invoice_code, invoice_number=printed.invoice_number,
            tracking_number=waybill.tracking_number))
        return ErrandRecord(app_id, application.kind, 0, 0, invoice=f"{printed.invoice_code}:{printed.invoice_number}",
                            tracking_number=waybill.tracking_number)

    async def _requisition(self, application: TerminalApplication, job_key: str, job: dict[str, Any],
                           stop: asyncio.Event) -> ErrandRecord:
        app_id, tid = application.application_id, self.settings.terminal_id
        self._set(stage="requisition")
        req = await self.bo.issue_requisition(RequisitionRequest(terminal_id=tid, application_id=app_id),
                                              idempotency_key=f"{tid}:{app_id}:requisition")
        if job["stage"] != "slip_printed":
            await self._print_label(requisition_receipt(req), app_id, stop, reprint=job.get("label_started", False),
                                    job_key=job_key, job=job)
            self.ledger.save_job(job_key, {**job, "stage": "slip_printed"})
        self._set(stage="confirming")
        await self._complete(app_id, CompletionRequest(terminal_id=tid, requisition_id=req.requisition_id))
        return ErrandRecord(app_id, application.kind, 0, 0)

    async def _complete(self, app_id: str, request: CompletionRequest) -> None:
        try:
            await self.bo.complete_application(app_id, request,
                                               idempotency_key=f"{self.settings.terminal_id}:{app_id}:complete")
        except ServiceRejected as exc:
            if exc.code != "application_already_done":  # done by an earlier run whose answer was lost
                raise

    async def _print_label(self, receipt: Any, app_id: str, stop: asyncio.Event, *, reprint: bool, job_key: str,
                           job: dict[str, Any]) -> None:
        """Waybills and slips are on plain label paper: a job cut short is printed again, recorded."""
        if reprint:
            self.ledger.record("label_reprint", source=app_id)
        self.ledger.save_job(job_key, {**job, "label_started": True})
        while True:
            try:
                status = await self.label_printer.status()
                if status.can_print:
                    await self.label_printer.print(receipt)
                    return
                problem = ("cover_open" if status.cover_open else "paper_out" if status.paper == "out"
                           else "printer_offline")
            except PrintFailed as exc:
                problem = exc.cause_code
                if exc.started:
                    self.ledger.record("label_reprint", source=app_id, cause=problem)
            except DeviceError as exc:
                problem = exc.code
            self._alarm(Alarm(at=self._wall(), level="warning", code=problem, sound=True,
                              text=msg("terminal.alarm.label_printer", cause=problem)))
            await _sleep_or_stop(stop, self.settings.printer_poll_s, raise_on_stop=True)

    # ------------------------------------------------------------ staff

    async def resolve(self, hold_id: int, action: str, *, staff: str, **args: Any) -> None:
        await self.paper.resolve(hold_id, action, staff=staff, **args)
        self.events("staff_action", {"action": f"paper.{action}", "staff": staff, "hold_id": hold_id})
        self._refresh()

    async def load_roll(self, invoice_code: str, first_number: str, last_number: str, *, staff: str) -> None:
        """Load a roll outside a hold (a new shift, a roll about to run out)."""
        await self.paper.load_roll(invoice_code, first_number, last_number, staff=staff)
        self.events("staff_action", {"action": "paper.load_roll", "staff": staff})
        self._refresh()

    # ------------------------------------------------------------ status

    def _on_paper(self, kind: str, detail: dict[str, Any]) -> None:
        if kind == "hold_opened":
            self._holds_in_errand += 1
            self.events("paper_hold", {"hold_id": detail["hold_id"], "cause": detail["cause"]})
        elif kind == "hold_resolved":
            self.events("paper_hold_resolved", {"hold_id": detail["hold_id"], "cause": detail["cause"],
                                                "action": detail["action"]})
        alarm = alarm_for(kind, detail, self._wall())
        if alarm is not None:
            self._alarm(alarm)
        else:
            self._refresh()

    def _alarm(self, alarm: Alarm) -> None:
        self.status.alarms = [alarm, *self.status.alarms][:MAX_ALARMS]
        self._refresh()

    def _set(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.status, name, value)
        self._refresh()

    def _refresh(self) -> None:
        st = self.status
        roll = self.ledger.roll()
        st.paper_left = roll.left if roll else 0
        st.roll = f"{roll.invoice_code}:{roll.next_number}" if roll else ""
        st.per_hour = self.counters.per_hour()
        st.holds = [HoldView(hold_id=h.hold_id, cause=h.cause, detail=h.detail, actions=ACTIONS.get(h.cause, ()),
                             opened_at=h.opened_at) for h in self.ledger.open_holds()]
        st.printer_problem = self.paper.printer_problem
        if st.state in ("running", "held", "waiting_printer"):
            st.state = "held" if st.holds else "waiting_printer" if st.printer_problem else "running"
        for listener in list(self.listeners):
            listener(st)


def _check_stop(stop: asyncio.Event) -> None:
    if stop.is_set():
        raise Stopping()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float, *, raise_on_stop: bool = False) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return
    if raise_on_stop:
        raise Stopping()
