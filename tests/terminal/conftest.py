"""Fixtures of the invoice-terminal tests: the reference back office on a free loopback port,
a terminal on simulated printers (instant printing) with a loaded roll, and simulated staff."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from backoffice.app import Settings
from backoffice.server import BackgroundServer
from flows.paper.ledger import PaperLedger
from flows.paper.printer import DriverPrinter
from flows.services.terminal_client import HttpTerminalBackOffice
from flows.terminal.terminal import InvoiceTerminal, TerminalSettings
from flows.terminal.virtual import allocate_roll, put_roll_in, virtual_printers

TERMINAL_ID = "terminal-test-01"
STAFF = "staff-0042"


@pytest.fixture
def backoffice(tmp_path):
    server = BackgroundServer(Settings(db_path=str(tmp_path / "bo.sqlite"), pay_after_s=0)).start()
    yield server
    server.stop()


def seed(url: str, count: int, requisition_every: int = 0) -> list[str]:
    r = httpx.post(f"{url}/v1/_test/terminal/applications",
                   json={"count": count, "requisition_every": requisition_every}, timeout=5)
    r.raise_for_status()
    return r.json()


def set_faults(url: str, **faults) -> None:
    httpx.post(f"{url}/v1/_test/terminal/faults", json=faults, timeout=5).raise_for_status()


def fault_counts(url: str) -> dict:
    return httpx.get(f"{url}/v1/_test/terminal/faults", timeout=5).json()


class Rig:
    """A terminal, its simulated printers and ledger; `start()` runs it in the background."""

    def __init__(self, url: str, state_dir, *, roll: int = 50):
        self.url, self.state_dir, self.roll_size = url, state_dir, roll
        self.bo = HttpTerminalBackOffice(url, timeout=5, retries=2, backoff_initial=0.05)
        self.printers = virtual_printers(realtime=False)
        self.ledger = PaperLedger(state_dir)
        self.events: list[tuple[str, dict]] = []
        self.terminal = InvoiceTerminal(
            self.bo, self.ledger, DriverPrinter(self.printers.invoice, "invoice"), DriverPrinter(self.printers.label, "label"),
            TerminalSettings(terminal_id=TERMINAL_ID, poll_s=0.05, retry_s=0.05, printer_poll_s=0.02),
            events=lambda kind, detail: self.events.append((kind, detail)))
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.changed = asyncio.Event()
        self.terminal.listeners.append(lambda status: self.changed.set())

    async def load(self, count: int | None = None) -> None:
        allocation = await allocate_roll(self.bo, TERMINAL_ID, count or self.roll_size)
        put_roll_in(self.printers.invoice_sim, allocation)
        await self.terminal.load_roll(allocation.invoice_code, allocation.first_number, allocation.last_number,
                                      staff=STAFF)
        self.allocation = allocation

    def start(self, *, exit_when_empty: bool = False) -> None:
        self.task = asyncio.ensure_future(self.terminal.run(self.stop, exit_when_empty=exit_when_empty))

    async def until(self, predicate, timeout: float = 20.0) -> None:
        """Wait for a condition on the terminal's status (re-checked at every status change)."""
        async def wait() -> None:
            while not predicate(self.terminal.status):
                self.changed.clear()
                if self.task is not None and self.task.done():
                    self.task.result()
                    assert predicate(self.terminal.status), "the terminal stopped first"
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.2)
        await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)
        await self.bo.aclose()
        self.printers.invoice.close()
        self.printers.label.close()
        self.printers.forget()
        self.ledger.close()

    def invoice_docs(self):
        return [d for d in self.printers.invoice_sim.printed if d.lines]


@pytest.fixture
async def rig(backoffice, tmp_path):
    r = Rig(backoffice.url, tmp_path / "state")
    await r.load()
    yield r
    await r.close()
