"""Invoice terminal figures: N online applications through the real terminal, end to end.

    .venv/bin/python bench/invoices.py [--n 40] [--requisitions 5] [--mismatch-rate 0.1] [--seed 7]

What runs: the reference back office as its own process (uvicorn + SQLite), the terminal
(`flows.terminal`) with its paper ledger on disk, both printers as ESC/POS simulators on
the simulated USB backend *at their real speeds* (paper travel from the line pitch, the
QR/barcode heights and the form length at the printer's mm/s, plus the cut — see
flows/terminal/virtual.py), and a simulated staff member who resolves every hold at once
(staff reaction time is not the terminal's and is left out).

Injected at random (seeded): wrong numbers from the tax core (金三) and from the invoice
system (防伪税控) at `--mismatch-rate` in total; slow answers (every post call +150 ms);
answers lost after commit (5 % of waybill and completion calls, retried with the same
idempotency key); printer faults in the middle of an invoice (cover open, paper out, USB
unplugged) on `--print-fault-rate` of the invoices.

Checked against what came out of the simulated printer and the tax core's records, not
against the terminal's own account: every complete invoice printed carries the number
pre-printed on its form; no number printed twice; every form consumed is printed or
voided in the ledger and the tax core alike (nothing skipped without a record).

Software overhead per invoice = wall time − printer time (both printers) − time waiting
for the back office. The last line:
`invoices: N issued, M mismatches injected, M detected, D duplicates, p95 X s per invoice, Y per day`
(D counts duplicate, misplaced and unrecorded numbers; Y = invoices per 8-hour shift at the
measured rate).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from flows.paper.ledger import PaperLedger  # noqa: E402
from flows.paper.printer import DriverPrinter  # noqa: E402
from flows.services.terminal_client import HttpTerminalBackOffice  # noqa: E402
from flows.terminal.terminal import InvoiceTerminal, TerminalSettings  # noqa: E402
from flows.terminal.virtual import SimulatedStaff, allocate_roll, put_roll_in, virtual_printers  # noqa: E402
from kiosk.runflow import ManagedBackOffice  # noqa: E402

TERMINAL_ID = "terminal-bench-01"
SHIFT_S = 8 * 3600
NUMBER_RE = re.compile(r"发票号码：(\d{8})")


class TimedBackOffice:
    """The real client, with the time spent awaiting it added up."""

    def __init__(self, inner: HttpTerminalBackOffice):
        self._inner, self.waited = inner, 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await attr(*args, **kwargs)
            finally:
                self.waited += time.perf_counter() - t0
        return timed


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    state = Path(tempfile.mkdtemp(prefix="bench-invoices-"))
    managed = ManagedBackOffice(state / "backoffice.sqlite3").start()
    url = managed.url
    http = httpx.Client(base_url=url, timeout=10)
    inner = HttpTerminalBackOffice(url, timeout=5, retries=3, backoff_initial=0.05)
    bo = TimedBackOffice(inner)
    printers = virtual_printers(realtime=not args.fast)
    ledger = PaperLedger(state / "terminal")
    terminal = InvoiceTerminal(bo, ledger, DriverPrinter(printers.invoice, "invoice"),  # type: ignore[arg-type]
                               DriverPrinter(printers.label, "label"),
                               TerminalSettings(terminal_id=TERMINAL_ID, poll_s=0.2, retry_s=0.2, printer_poll_s=0.1))
    staff = SimulatedStaff(terminal, printers, roll_size=args.roll)
    stop = asyncio.Event()
    try:
        allocation = await allocate_roll(inner, TERMINAL_ID, args.roll, tag="bench")
        put_roll_in(printers.invoice_sim, allocation)
        await terminal.load_roll(allocation.invoice_code, allocation.first_number, allocation.last_number,
                                 staff="staff-bench")
        every = (args.n + args.requisitions) // args.requisitions if args.requisitions else 0
        http.post("/v1/_test/terminal/applications", json={"count": args.n + args.requisitions,
                                                           "requisition_every": every, "seed": args.seed}).raise_for_status()
        http.post("/v1/_test/terminal/faults", json={"core_wrong_rate": args.mismatch_rate / 2,
                                                     "system_wrong_rate": args.mismatch_rate / 2,
                                                     "seed": args.seed}).raise_for_status()
        http.post("/v1/_faults", json={"seed": args.seed, "rules": [
            {"prefix": "/v1/post/", "latency_ms": 150},
            {"prefix": "/v1/post/waybills", "latency_ms": 150, "drop_rate": 0.05, "drop_phase": "after"},
            {"prefix": "/v1/terminal/applications/", "drop_rate": 0.05, "drop_phase": "after"},
        ]}).raise_for_status()

        per_errand: list[dict[str, float | str]] = []
        original = terminal.errand
        sims = (printers.invoice_sim, printers.label_sim)
        faults_injected: list[str] = []

        async def measured(application: Any, stop_event: asyncio.Event) -> Any:
            if application.kind == "issue_mail" and rng.random() < args.print_fault_rate:
                kind = rng.choice(("cover_open", "paper_out", "unplug"))
                printers.invoice_sim.fault_after(rng.randrange(40, 400), kind)
                faults_injected.append(kind)
            busy0, waited0, t0 = sum(s.busy_s for s in sims), bo.waited, time.perf_counter()
            record = await original(application, stop_event)
            wall = time.perf_counter() - t0
            device, service = sum(s.busy_s for s in sims) - busy0, bo.waited - waited0
            per_errand.append({"kind": application.kind, "wall": wall, "device": device, "service": service,
                               "overhead": wall - device - service})
            return record

        terminal.errand = measured  # type: ignore[method-assign]
        started = time.perf_counter()
        staff_task = asyncio.ensure_future(staff.run(stop))
        await terminal.run(stop, exit_when_empty=True)
        total = time.perf_counter() - started
        stop.set()
        await staff_task

        # ---------------------------------------------------------------- checks
        code = allocation.invoice_code
        docs = printers.invoice_sim.printed
        printed_complete: dict[str, int] = {}
        misplaced = 0
        for doc in docs:
            numbers = [m.group(1) for line in doc.texts for m in [NUMBER_RE.search(line)] if m]
            if doc.cut and numbers:
                printed_complete[numbers[0]] = printed_complete.get(numbers[0], 0) + 1
                misplaced += doc.form != f"{code}:{numbers[0]}"
        duplicates = sum(n - 1 for n in printed_complete.values() if n > 1)
        roll = ledger.roll()
        assert roll is not None
        consumed = roll.next - roll.first
        fates = {r["number"]: r["fate"] for r in ledger.numbers(code)}
        core = {int(r["number"]): r["status"] for r in http.get(f"/v1/_test/terminal/numbers/{code}").json()}
        unrecorded = sum(1 for n in range(roll.first, roll.next) if n not in fates or n not in core)
        disagree = sum(1 for n, fate in fates.items()
                       if (fate == "printed") != (core.get(n) == "issued")
                       or (fate == "printed") != (f"{n:08d}" in printed_complete))
        sim_forms_used = args.roll - printers.invoice_sim.forms_left
        unrecorded += abs(sim_forms_used - consumed)
        injected = http.get("/v1/_test/terminal/faults").json()
        injected_total = injected["core_wrong_injected"] + injected["system_wrong_injected"]
        holds = ledger.holds(limit=100_000)
        mismatch_holds = [h for h in holds if h.cause == "mismatch"]
        detected = sum(len(h.detail.get("disagreeing", "").split(",")) for h in mismatch_holds)
        interrupted = [h for h in holds if h.cause == "print_interrupted"]

        invoices = [e for e in per_errand if e["kind"] == "issue_mail"]
        reqs = [e for e in per_errand if e["kind"] == "requisition"]
        walls = [float(e["wall"]) for e in invoices]
        overhead = [float(e["overhead"]) for e in invoices]
        issued = terminal.status.invoices
        per_day = SHIFT_S * issued / total if total else 0.0
        bad = duplicates + misplaced + unrecorded + disagree

        print(f"back office: {url} (own process); printers at {'real speed' if not args.fast else 'no delay (--fast)'}")
        print(f"applications: {len(invoices)} issue + mail, {len(reqs)} requisitions, in {total:.1f} s")
        print(f"per invoice: mean {statistics.mean(walls):.2f} s, p95 {p95(walls):.2f} s, max {max(walls):.2f} s "
              f"(printers {statistics.mean(float(e['device']) for e in invoices):.2f} s, "
              f"back office {statistics.mean(float(e['service']) for e in invoices):.2f} s on average)")
        if reqs:
            rw = [float(e["wall"]) for e in reqs]
            print(f"per requisition: mean {statistics.mean(rw):.2f} s, p95 {p95(rw):.2f} s")
        print(f"software overhead per invoice: mean {statistics.mean(overhead):.3f} s, p95 {p95(overhead):.3f} s "
              f"(goal <= 1 s)")
        print(f"holds: {len(mismatch_holds)} mismatch, {len(interrupted)} print interrupted "
              f"({len(faults_injected)} printer faults injected: {', '.join(sorted(set(faults_injected))) or 'none'}), "
              f"{len([h for h in holds if h.cause == 'stock_empty'])} stock empty; resolved by staff: {len(staff.resolved)}")
        print(f"paper: {consumed} forms used = {len([f for f in fates.values() if f == 'printed'])} printed + "
              f"{len([f for f in fates.values() if f == 'voided'])} voided; simulator used {sim_forms_used}; "
              f"duplicates {duplicates}, misplaced {misplaced}, unrecorded {unrecorded}, ledger/tax core disagree {disagree}")
        print(f"invoices: {issued} issued, {injected_total} mismatches injected, {detected} detected, {bad} duplicates, "
              f"p95 {p95(walls):.1f} s per invoice, {per_day:.0f} per day")
        return 0 if bad == 0 and detected == injected_total else 1
    finally:
        stop.set()
        await inner.aclose()
        printers.invoice.close()
        printers.label.close()
        printers.forget()
        ledger.close()
        http.close()
        managed.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="issue + mail applications")
    parser.add_argument("--requisitions", type=int, default=5)
    parser.add_argument("--roll", type=int, default=500, help="forms on the roll")
    parser.add_argument("--mismatch-rate", type=float, default=0.1, help="wrong numbers per number answer")
    parser.add_argument("--print-fault-rate", type=float, default=0.05, help="invoices hit by a printer fault")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fast", action="store_true", help="printers without their real speed (not the figure)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
