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
