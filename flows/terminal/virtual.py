"""The terminal's devices on simulators: the invoice printer loaded with a roll of
pre-numbered forms and the waybill label printer, both ESC/POS on the simulated USB
backend, at their real speeds unless told otherwise.

Speeds (assumptions, stated so they can be changed): the invoice printer is a narrow
thermal roll-invoice printer at 100 mm/s with a 76 × 177.8 mm form and a 0.35 s cut; the
label printer prints at 150 mm/s with a 0.3 s cut. A text line is 3.75 mm (24-dot font,
6-dot spacing at 8 dots/mm). `realtime=False` prints instantly (unit tests).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from flows.services.terminal_client import PaperInvoiceService
from flows.services.terminal_models import AllocationRequest, StockAllocation
from peripherals.printer.driver import EscPosUsbPrinter
from peripherals.printer.sim import EscPosPrinterSimulator
from peripherals.sim import registry

INVOICE_SPEED = {"speed_mm_s": "100", "cut_s": "0.35", "form_mm": "177.8"}
LABEL_SPEED = {"speed_mm_s": "150", "cut_s": "0.3"}


@dataclass
class VirtualPrinters:
    invoice: EscPosUsbPrinter
    label: EscPosUsbPrinter
    invoice_sim: EscPosPrinterSimulator
    label_sim: EscPosPrinterSimulator
    names: tuple[str, str]

    def forget(self) -> None:
        for name in self.names:
            registry.forget(name)


def virtual_printers(*, realtime: bool = True, tag: str | None = None) -> VirtualPrinters:
    tag = tag or secrets.token_hex(4)
    names = (f"invoice-printer-{tag}", f"label-printer-{tag}")
    urls = []
    for name, speed in zip(names, (INVOICE_SPEED, LABEL_SPEED)):
        options = {"name": name, **(speed if realtime else {"form_mm": speed.get("form_mm", "177.8")})}
        urls.append("simusb://printer?" + urlencode(options))
    invoice, label = EscPosUsbPrinter(urls[0], timeout=5.0), EscPosUsbPrinter(urls[1], timeout=5.0)
    invoice.open()
    label.open()
    sims = [registry.named(n) for n in names]
    assert all(isinstance(s, EscPosPrinterSimulator) for s in sims)
    return VirtualPrinters(invoice, label, sims[0], sims[1], names)  # type: ignore[arg-type]


async def allocate_roll(tax: PaperInvoiceService, terminal_id: str, count: int, tag: str = "") -> StockAllocation:
    """A roll's worth of numbers from the tax core (what the centre's stock room does)."""
    return await tax.allocate_stock(AllocationRequest(terminal_id=terminal_id, count=count),
                                    idempotency_key=f"{terminal_id}:allocation:{tag or secrets.token_hex(4)}")


def put_roll_in(sim: EscPosPrinterSimulator, allocation: StockAllocation) -> None:
    """The physical roll in the simulated printer: its forms carry the allocated numbers."""
    sim.load_forms(allocation.invoice_code, int(allocation.first_number), allocation.count,
                   width=len(allocation.first_number))


class SimulatedStaff:
    """Staff on the simulators, for `kiosk terminal --virtual --auto-staff`, tests and the bench.

    They do what a person at the terminal does — fix the printer (plug the cable back, close
    the cover), look at the roll — except that looking means reading the simulator's next
    form. Then: numbers disagree but the paper is where the ledger says → recheck; the
    paper moved on → realign to it; a print cut short on a form that is still clean →
    reprint, else void the spoiled form; paper used up → a new roll from the tax core.
    """

    def __init__(self, terminal, printers: VirtualPrinters, *, staff_id: str = "staff-sim", delay_s: float = 0.0,
                 roll_size: int = 500):
        self.terminal, self.printers, self.staff_id = terminal, printers, staff_id
        self.delay_s, self.roll_size = delay_s, roll_size
        self.resolved: list[tuple[int, str, str]] = []  # (hold id, cause, action)

    def fix_printer(self) -> None:
        sim = self.printers.invoice_sim
        if not sim.plugged:
            sim._usb_backend.device_of(sim).replug()  # type: ignore[attr-defined]
        if sim.cover_open:
            sim.close_cover()
        if sim.forms and sim.paper.value == "out":
            sim.set_paper("ok")

    async def resolve_open_holds(self) -> int:
        import asyncio

        done = 0
        for hold in list(self.terminal.status.holds):
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            self.fix_printer()
            action, args = await self._decide(hold)
            await self.terminal.resolve(hold.hold_id, action, staff=self.staff_id, **args)
            self.resolved.append((hold.hold_id, hold.cause, action))
            done += 1
        return done

    async def _decide(self, hold) -> tuple[str, dict]:
        sim = self.printers.invoice_sim
        roll = self.terminal.ledger.roll()
        under_head = sim.forms[0] if sim.forms else None
        expected = f"{roll.invoice_code}:{roll.next_number}" if roll else None
        if hold.cause == "stock_empty" or under_head is None:
            allocation = await allocate_roll(self.terminal.bo, self.terminal.settings.terminal_id, self.roll_size)
            put_roll_in(sim, allocation)
            return "reload", {"invoice_code": allocation.invoice_code, "first_number": allocation.first_number,
                              "last_number": allocation.last_number}
        if hold.cause == "mismatch":
            if under_head == expected:
                return "recheck", {}
            return "realign", {"next_number": under_head.split(":")[1]}
        if under_head == expected:
            return "reprint", {}
        return "void_form", {}

    async def run(self, stop) -> None:
        """Resolve holds as they open, until `stop`."""
        import asyncio

        changed = asyncio.Event()
        self.terminal.listeners.append(lambda status: changed.set())
        while not stop.is_set():
            if self.terminal.status.holds:
                await self.resolve_open_holds()
                continue
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
