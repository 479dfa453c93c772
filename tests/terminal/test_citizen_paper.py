"""The citizen's tax invoice printed through the same paper path as the terminal."""

from __future__ import annotations

import re

from flows.paper.ledger import PaperLedger
from flows.paper.path import PaperPath
from flows.paper.printer import SupervisedPrinter
from flows.services.terminal_client import HttpTerminalBackOffice
from flows.terminal.virtual import allocate_roll, put_roll_in
from kiosk.runflow import run_in_process
from tests.flows.flow_support import FAST_FACE, FAST_PAYMENT, example_answers

KIOSK_ID = "kiosk-hall-07"


async def test_citizen_invoice_goes_through_the_kiosk_paper_path(backoffice, tmp_path):
    tax = HttpTerminalBackOffice(backoffice.url)
    ledger = PaperLedger(tmp_path / "paper")
    path = PaperPath(ledger, tax, None, terminal_id=KIOSK_ID, wait_for_staff=False)  # type: ignore[arg-type]
    allocation = await allocate_roll(tax, KIOSK_ID, 10)
    await path.load_roll(allocation.invoice_code, allocation.first_number, allocation.last_number, staff="staff-7")

    def intercept(view, deps):
        if deps.paper is None:  # the kiosk's composition root would do this
            path.printer = SupervisedPrinter(deps.devices)
            put_roll_in(deps.sims["printer"], allocation)
            deps.paper = path
        return None

    spec = example_answers("tax-invoice", settings={**FAST_PAYMENT, **FAST_FACE})
    try:
        r = await run_in_process("tax-invoice", spec, backoffice.url, tmp_path / "s", intercept=intercept)
        out = r.outcome.outcome
        assert out["printed"] and out["paper_invoice"] == f"{allocation.invoice_code}:00000001"
        doc = r.deps.sims["printer"].printed[-1]
        assert doc.cut and doc.form == f"{allocation.invoice_code}:00000001"
        assert any(re.search(r"发票号码：00000001", t) for t in doc.texts) and doc.texts[0] == "增值税普通发票（卷票）"
        assert [(row["number"], row["fate"], row["source"]) for row in ledger.numbers(allocation.invoice_code)] == [
            (1, "printed", out["invoice_number"])]
        assert ledger.jobs() == []
    finally:
        await tax.aclose()
        ledger.close()
