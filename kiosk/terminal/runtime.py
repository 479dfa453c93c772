"""Builds and runs one invoice terminal: back office, printers, ledger, fleet events, SIGTERM.

Used by `kiosk terminal` with and without the staff screen. Everything here is plain
asyncio (no Kivy), so the headless run, the tests and the screen share it.

- `--virtual`: the reference back office as a child process (or `--backoffice URL`),
  seeded with online applications, both printers on simulators at real speed, a roll
  allocated by the tax core and loaded by "staff" on the first start (on a restart with
  the same state directory the roll in the simulator is what the ledger says is left);
- otherwise: `--backoffice URL`, `--invoice-printer URL`, `--label-printer URL` (usb://…
  or any pyserial URL for the ESC/POS driver); staff load the roll on the staff screen.
- Fleet: events go to the app's event buffer, served on the control socket
  ($KIOSK_CONTROL_SOCKET or --control-socket) for the fleet agent: paper holds become
  fleet alerts, staff actions land in the fleet's audit log.
- SIGTERM / SIGINT (lifecycle.signals) set `stop` and say STOPPING=1 to systemd: a print
  under way finishes, a wait ends, the errand stays journaled and resumes on the next
  start; then everything is closed in order (READY=1 once the terminal is up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.paper.ledger import PaperLedger
from flows.paper.printer import DriverPrinter
from flows.services.terminal_client import HttpTerminalBackOffice
from flows.services.terminal_models import StockAllocation
from flows.terminal.terminal import InvoiceTerminal, TerminalSettings
from flows.terminal.virtual import SimulatedStaff, VirtualPrinters, allocate_roll, put_roll_in, virtual_printers
from lifecycle.notify import SystemdNotifier
from lifecycle.signals import on_stop_signals

log = logging.getLogger(__name__)

FLEET_EVENTS = {"paper_hold": "PAPER_HOLD", "paper_hold_resolved": "PAPER_HOLD_RESOLVED", "staff_action": "STAFF_ACTION",
                "errand_done": "FLOW_COMPLETED"}


@dataclass
class TerminalOptions:
    state_dir: Path
    terminal_id: str = "terminal-virtual-01"
    virtual: bool = False
    backoffice_url: str | None = None
    invoice_printer: str | None = None
    label_printer: str | None = None
    applications: int = 20
    requisition_every: int = 5
    roll_size: int = 500
    realtime: bool = True
    mismatch_rate: float = 0.0
    auto_staff: bool = False
    exit_when_empty: bool = False
    control_socket: Path | None = None
    poll_s: float = 5.0


@dataclass
class TerminalRuntime:
    options: TerminalOptions
    terminal: InvoiceTerminal | None = None
    printers: VirtualPrinters | None = None
    staff: SimulatedStaff | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _events: Any = None
    notifier: SystemdNotifier = field(default_factory=SystemdNotifier)  # READY / STOPPING to systemd

    async def start(self) -> InvoiceTerminal:
        o = self.options
        o.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if o.virtual and not o.backoffice_url:
            from kiosk.runflow import ManagedBackOffice

            managed = ManagedBackOffice(o.state_dir / "backoffice.sqlite3").start()
            self._stack.callback(managed.stop)
            o.backoffice_url = managed.url
        if not o.backoffice_url:
            raise RuntimeError("give --virtual, or --backoffice URL")
        bo = HttpTerminalBackOffice(o.backoffice_url)
        self._stack.push_async_callback(bo.aclose)
        ledger = PaperLedger(o.state_dir)
        self._stack.callback(ledger.close)
        if o.virtual:
            self.printers = virtual_printers(realtime=o.realtime)
            self._stack.callback(self.printers.forget)
            invoice_driver, label_driver = self.printers.invoice, self.printers.label
        else:
            from peripherals.printer.driver import EscPosUsbPrinter

            if not (o.invoice_printer and o.label_printer):
                raise RuntimeError("give --invoice-printer URL and --label-printer URL (or --virtual)")
            invoice_driver, label_driver = EscPosUsbPrinter(o.invoice_printer), EscPosUsbPrinter(o.label_printer)
        invoice, label = DriverPrinter(invoice_driver, "invoice"), DriverPrinter(label_driver, "label")
        self._stack.callback(label.close)
        self._stack.callback(invoice.close)  # closed first: waits for a print under way
        self._events = await self._fleet_events()
        self.terminal = InvoiceTerminal(bo, ledger, invoice, label,
                                        TerminalSettings(terminal_id=o.terminal_id, poll_s=o.poll_s),
                                        events=self._event)
        if o.virtual:
            await self._virtual_setup(bo, ledger)
        self.notifier.ready("invoice terminal up")
        return self.terminal

    async def _virtual_setup(self, bo: HttpTerminalBackOffice, ledger: PaperLedger) -> None:
        import httpx

        o, printers = self.options, self.printers
        assert printers is not None and self.terminal is not None
        roll = ledger.roll()
        if roll is None or roll.left == 0:
            allocation = await allocate_roll(bo, o.terminal_id, o.roll_size)
            put_roll_in(printers.invoice_sim, allocation)
            await self.terminal.load_roll(allocation.invoice_code, allocation.first_number, allocation.last_number,
                                          staff="staff-virtual")
        else:  # a restart: the simulated roll holds what the ledger says is left
            put_roll_in(printers.invoice_sim, StockAllocation(
                invoice_code=roll.invoice_code, first_number=roll.next_number, last_number=roll.fmt(roll.last),
                count=roll.left))
        async with httpx.AsyncClient(base_url=o.backoffice_url or "", timeout=10) as http:
            if o.applications:
                (await http.post("/v1/_test/terminal/applications",
                                 json={"count": o.applications, "requisition_every": o.requisition_every})).raise_for_status()
            if o.mismatch_rate:
                (await http.post("/v1/_test/terminal/faults", json={
                    "core_wrong_rate": o.mismatch_rate / 2, "system_wrong_rate": o.mismatch_rate / 2})).raise_for_status()
        if o.auto_staff:
            self.staff = SimulatedStaff(self.terminal, printers, roll_size=o.roll_size)

    async def _fleet_events(self):
        """The app side of the fleet: an event buffer on the control socket, when one is asked for."""
        path = self.options.control_socket or (Path(os.environ["KIOSK_CONTROL_SOCKET"])
                                               if os.environ.get("KIOSK_CONTROL_SOCKET") else None)
        from kiosk.control import BasicControlHandler, ControlServer, EventBuffer

        events = EventBuffer()
        if path is not None:
            server = ControlServer(path, BasicControlHandler(events=events, app_version="terminal"))
            await server.start()
            self._stack.push_async_callback(server.stop)
        return events

    def _event(self, kind: str, detail: dict[str, Any]) -> None:
        from fleet.protocol.messages import DeviceKind, EventKind

        name = FLEET_EVENTS.get(kind)
        if name is None or self._events is None:
            return
        fields: dict[str, Any] = {}
        if kind in ("paper_hold", "paper_hold_resolved"):
            fields = dict(device=DeviceKind.PRINTER, reason=detail.get("action") or detail["cause"],
                          count=detail["hold_id"], detail=detail["cause"])
        elif kind == "staff_action":
            fields = dict(action=detail["action"], detail=f"hold {detail.get('hold_id', '-')}")
        else:
            fields = dict(flow="invoice-terminal", detail=detail.get("kind", ""))
        self._events.record(EventKind[name], **fields)

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT ask for one orderly stop (lifecycle.signals; a second one exits at once).
        Call from the main thread with the terminal's loop running there."""
        loop = asyncio.get_running_loop()
        on_stop_signals(lambda name: loop.call_soon_threadsafe(self.request_stop, name))

    def request_stop(self, why: str = "asked") -> None:
        if not self.stop.is_set():
            log.info("terminal: stopping (%s): the print under way finishes, the errand resumes on the next start", why)
            self.notifier.stopping("finishing the print under way; the errand resumes on the next start")
            self.stop.set()

    async def run(self) -> None:
        assert self.terminal is not None
        tasks = [asyncio.ensure_future(self.terminal.run(self.stop, exit_when_empty=self.options.exit_when_empty))]
        if self.staff is not None:
            tasks.append(asyncio.ensure_future(self.staff.run(self.stop)))
        try:
            await tasks[0]
        finally:
            self.stop.set()
            await asyncio.gather(*tasks[1:], return_exceptions=True)

    async def close(self) -> None:
        await self._stack.aclose()
        self.notifier.close()
