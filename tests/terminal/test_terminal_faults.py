"""Printer faults mid-job, staff resolutions, restarts: no double print, no number skipped
without a record."""

from __future__ import annotations

import asyncio

from flows.paper.errors import ResolutionRefused
from flows.paper.path import Stopping
from tests.terminal.conftest import STAFF, Rig, seed, set_faults
from tests.terminal.test_terminal_flow import printed_numbers

import pytest


def fates(rig):
    return [(r["number"], r["fate"], r["reason"]) for r in rig.ledger.numbers(rig.allocation.invoice_code)]


async def test_cover_open_before_the_job_waits_without_touching_the_form(rig):
    seed(rig.url, 2)
    rig.printers.invoice_sim.open_cover()
    rig.start()
    await rig.until(lambda s: s.printer_problem == "cover_open")
    assert rig.terminal.status.state == "waiting_printer"
    assert rig.terminal.status.alarms[0].text.key == "terminal.alarm.printer"
    rig.printers.invoice_sim.close_cover()
    await rig.until(lambda s: s.done == 2)
    assert fates(rig) == [(1, "printed", ""), (2, "printed", "")]


@pytest.mark.parametrize("fault", ["unplug", "cover_open", "paper_out"])
async def test_fault_mid_job_holds_then_spoiled_form_is_voided_and_invoice_reissued(rig, fault):
    seed(rig.url, 2)
    sim = rig.printers.invoice_sim
    sim.fault_after(150, fault)  # after the status questions and a few lines
    rig.start()
    await rig.until(lambda s: s.holds)
    hold = rig.terminal.status.holds[0]
    assert hold.cause == "print_interrupted"
    # staff look: half an invoice on form 1 — spoiled
    assert sim.printed[-1].form.endswith(":00000001") and not sim.printed[-1].cut
    if fault == "unplug":
        sim._usb_backend.device_of(sim).replug()
    elif fault == "cover_open":
        sim.close_cover()
    else:
        sim.set_paper("ok")
    await rig.terminal.resolve(hold.hold_id, "void_form", staff=STAFF)
    await rig.until(lambda s: s.done == 2)
    assert fates(rig) == [(1, "voided", "spoiled"), (2, "printed", ""), (3, "printed", "")]
    good = [d for d in rig.invoice_docs() if d.cut]
    assert [f for f, n in printed_numbers(good)] == [f"{rig.allocation.invoice_code}:{n:08d}" for n in (2, 3)]
    assert all(f.endswith(n) for f, n in printed_numbers(good))
    numbers = rig.ledger.voided()
    assert [r["number"] for r in numbers] == [1]


async def test_unplug_before_anything_printed_and_staff_reprint_on_the_same_form(rig):
    seed(rig.url, 1)
    sim = rig.printers.invoice_sim
    sim.unplug_after(25)  # two status checks of 4 x 3 bytes, then the first byte of the job: nothing printed
    rig.start()
    await rig.until(lambda s: s.holds)
    hold = rig.terminal.status.holds[0]
    assert sim.forms[0].endswith(":00000001")  # still under the head
    sim._usb_backend.device_of(sim).replug()
    await rig.terminal.resolve(hold.hold_id, "reprint", staff=STAFF)
    await rig.until(lambda s: s.done == 1)
    assert fates(rig) == [(1, "printed", "")]
    assert [e["kind"] for e in rig.ledger.events(kind="reprint")] == ["reprint"]


async def test_core_mismatch_realign_voids_every_skipped_form(rig):
    seed(rig.url, 1)
    set_faults(rig.url, core_wrong_next=1)
    rig.start()
    await rig.until(lambda s: s.holds)
    hold = rig.terminal.status.holds[0]
    assert "core" in hold.detail["disagreeing"]
    with pytest.raises(ResolutionRefused):
        await rig.terminal.resolve(hold.hold_id, "realign", staff=STAFF, next_number="00000000")
    # staff pull the roll on by two forms (say they were creased) and tell the terminal
    sim = rig.printers.invoice_sim
    sim.forms = sim.forms[2:]
    await rig.terminal.resolve(hold.hold_id, "realign", staff=STAFF, next_number="00000003")
    await rig.until(lambda s: s.done == 1)
    assert fates(rig) == [(1, "voided", "realign"), (2, "voided", "realign"), (3, "printed", "")]
    doc = rig.invoice_docs()[-1]
    assert printed_numbers([doc]) == [(f"{rig.allocation.invoice_code}:00000003", "00000003")]


async def test_stock_empty_then_reload_never_reuses_numbers(rig):
    seed(rig.url, 3)
    rig.start()
    await rig.until(lambda s: s.done == 3)
    await rig.close()
    # a fresh terminal on the same state: a roll of 2, used up by the next 2 of 3 errands
    again = Rig(rig.url, rig.state_dir)
    try:
        await again.load(2)
        seed(rig.url, 3)
        again.start()
        await again.until(lambda s: any(h.cause == "stock_empty" for h in s.holds))
        hold = again.terminal.status.holds[0]
        assert again.terminal.status.done == 2
        new = await __import__("flows.terminal.virtual", fromlist=["x"]).allocate_roll(again.bo, "terminal-test-01", 5)
        with pytest.raises(Exception):  # an old roll's used numbers are refused
            await again.terminal.resolve(hold.hold_id, "reload", staff=STAFF, invoice_code=again.allocation.invoice_code,
                                         first_number="00000001", last_number="00000002")
        __import__("flows.terminal.virtual", fromlist=["x"]).put_roll_in(again.printers.invoice_sim, new)
        await again.terminal.resolve(hold.hold_id, "reload", staff=STAFF, invoice_code=new.invoice_code,
                                     first_number=new.first_number, last_number=new.last_number)
        await again.until(lambda s: s.done == 3)
        assert again.terminal.status.paper_left == 4
    finally:
        await again.close()


async def test_stop_mid_wait_keeps_the_job_and_a_restart_resumes_it(rig):
    seed(rig.url, 1)
    set_faults(rig.url, system_wrong_next=1)
    rig.start()
    await rig.until(lambda s: s.holds)
    rig.stop.set()
    await asyncio.wait_for(rig.task, 10)
    assert rig.terminal.status.state == "stopped"
    assert [k for k, _ in rig.ledger.jobs()]  # journaled for resume
    hold_id = rig.terminal.status.holds[0].hold_id
    await rig.close()
    again = Rig(rig.url, rig.state_dir)
    again.allocation = rig.allocation
    try:
        again.printers.invoice_sim.forms = list(rig.printers.invoice_sim.forms)
        assert again.terminal.status.holds[0].hold_id == hold_id  # the hold survived the restart
        again.start()
        await again.terminal.resolve(hold_id, "recheck", staff=STAFF)
        await again.until(lambda s: s.done == 1)
        assert fates(again) == [(1, "printed", "")]
        assert again.ledger.jobs() == []
    finally:
        await again.close()


async def test_restart_after_a_crash_mid_print_asks_staff(rig):
    """A job journaled as printing (a kill -9 during the print) is never printed again blindly."""
    seed(rig.url, 1)
    rig.start(exit_when_empty=True)
    await rig.task
    # fake the crash: the same state as a kill -9 between sending the job and recording it
    code = rig.allocation.invoice_code
    source = "TA-fake"
    rig.ledger.save_job("paper:" + source, {"attempt": 1, "stage": "printing", "code": code, "number": "00000002",
                                            "issued": True})
    task = asyncio.ensure_future(rig.terminal.paper.issue_and_print(
        source=source, key_base="k" * 10, application_id="TA20260101000001", stop=rig.stop))
    await rig.until(lambda s: s.holds)
    hold = rig.ledger.open_holds()[0]
    assert hold.cause == "unknown_outcome" and hold.detail["number"] == "00000002"
    assert not task.done()  # nothing prints until staff look at that form
    rig.stop.set()
    with pytest.raises(Stopping):
        await task


async def test_fleet_events_reach_the_control_socket_buffer(tmp_path):
    """Paper holds, their resolution and staff actions become fleet events for the agent."""
    from fleet.protocol.messages import EventKind
    from kiosk.terminal.runtime import TerminalOptions, TerminalRuntime

    runtime = TerminalRuntime(TerminalOptions(state_dir=tmp_path))
    runtime._events = __import__("kiosk.control", fromlist=["EventBuffer"]).EventBuffer()
    runtime._event("paper_hold", {"hold_id": 4, "cause": "mismatch"})
    runtime._event("staff_action", {"action": "paper.recheck", "staff": "s-1", "hold_id": 4})
    runtime._event("paper_hold_resolved", {"hold_id": 4, "cause": "mismatch", "action": "recheck"})
    events = runtime._events.fetch(runtime._events.instance, 0, 10).events
    assert [(e.kind, e.count) for e in events] == [
        (EventKind.PAPER_HOLD, 4), (EventKind.STAFF_ACTION, None), (EventKind.PAPER_HOLD_RESOLVED, 4)]
    assert events[0].reason == "mismatch" and events[1].action == "paper.recheck"
    assert "s-1" not in events[1].detail  # who did it stays in the terminal's own audit trail


async def test_a_job_that_lagged_behind_a_recorded_print_is_not_printed_again(rig):
    """Recorded printed, job still 'printing' (a ledger from before the single-transaction
    write, or a hand-edited one): the path trusts the number's recorded fate."""
    code = rig.allocation.invoice_code
    rig.ledger.mark_printed(code, "00000001", source="e-123")
    rig.ledger.save_job("paper:e-123", {"attempt": 1, "stage": "printing", "code": code, "number": "00000001"})
    printed = await rig.terminal.paper.issue_and_print(source="e-123", key_base="key-e-123", e_invoice_number="1" * 20)
    assert (printed.invoice_code, printed.invoice_number) == (code, "00000001")
    assert rig.ledger.open_holds() == [] and rig.invoice_docs() == []


def test_a_ledger_that_cannot_be_written_is_a_typed_error(tmp_path):
    """SQLite's own 'database or disk is full' (a page limit stands in for a full disk)."""
    from flows.paper.errors import PaperLedgerUnavailable
    from flows.paper.ledger import PaperLedger

    ledger = PaperLedger(tmp_path)
    ledger.load_roll("050002610009", "00000001", "00000500", staff="s")
    pages = ledger.conn.execute("PRAGMA page_count").fetchone()[0]
    ledger.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(PaperLedgerUnavailable):
        for n in range(1, 500):
            ledger.record("print_fault", detail="x" * 2000, number=n)
    ledger.conn.execute("PRAGMA max_page_count = 1073741823")
    ledger.mark_printed("050002610009", "00000001", source="after")  # writable again: carries on
    assert ledger.roll().next == 2
    ledger.close()


@pytest.mark.parametrize("code, first, last", [("05000261", "00000001", "00000009"), ("050002610001", "1", "9"),
                                               ("050002610001", "00000009", "00000001")])
async def test_a_mistyped_roll_is_refused_with_a_reason(rig, code, first, last):
    with pytest.raises(ResolutionRefused):
        await rig.terminal.load_roll(code, first, last, staff=STAFF)
    assert rig.ledger.roll().invoice_code == rig.allocation.invoice_code  # the loaded roll is untouched
