"""The terminal works through a queue of online applications on simulated printers."""

from __future__ import annotations

import re

from tests.terminal.conftest import STAFF, fault_counts, seed, set_faults

NUMBER_RE = re.compile(r"发票号码：(\d{8})")


def printed_numbers(docs) -> list[tuple[str, str]]:
    """(form the document landed on, number printed on it) for every invoice printed."""
    out = []
    for doc in docs:
        found = [m.group(1) for line in doc.texts for m in [NUMBER_RE.search(line)] if m]
        out.append((doc.form, found[0] if found else None))
    return out


async def test_queue_of_issue_and_mail_and_requisitions(rig):
    seed(rig.url, 6, requisition_every=3)
    rig.start(exit_when_empty=True)
    await rig.task
    status = rig.terminal.status
    assert (status.done, status.invoices, status.requisitions) == (6, 4, 2)
    docs = rig.invoice_docs()
    assert len(docs) == 4 and all(d.cut for d in docs)
    code = rig.allocation.invoice_code
    for form, number in printed_numbers(docs):
        assert form == f"{code}:{number}"  # the printed number is the form's own
    labels = [d for d in rig.printers.label_sim.printed if d.cut]
    assert len(labels) == 6
    waybills = [d for d in labels if d.barcodes and d.barcodes[0].data.startswith("EA")]
    assert len(waybills) == 4 and all(d.barcodes[0].symbology == "CODE128" for d in waybills)
    assert status.paper_left == rig.roll_size - 4
    fates = [(r["number"], r["fate"]) for r in rig.ledger.numbers(code)]
    assert fates == [(n, "printed") for n in range(1, 5)]


async def test_injected_mismatch_stops_printing_until_staff_resolve(rig):
    seed(rig.url, 3)
    set_faults(rig.url, system_wrong_next=1)
    rig.start()
    await rig.until(lambda s: s.holds)
    status = rig.terminal.status
    assert status.state == "held"
    hold = status.holds[0]
    assert hold.cause == "mismatch" and "system" in hold.detail["disagreeing"]
    alarm = status.alarms[0]
    assert alarm.level == "alarm" and alarm.sound and alarm.text.key == "terminal.alarm.mismatch"
    assert ("paper_hold", {"hold_id": hold.hold_id, "cause": "mismatch"}) in rig.events
    assert rig.invoice_docs() == []  # nothing printed
    await rig.terminal.resolve(hold.hold_id, "recheck", staff=STAFF)
    await rig.until(lambda s: s.done == 3)
    assert fault_counts(rig.url)["system_wrong_injected"] == 1
    resolved = rig.ledger.hold(hold.hold_id)
    assert resolved.staff == STAFF and resolved.action == "recheck" and resolved.resolved_at
    code = rig.allocation.invoice_code
    assert [f for f, _ in printed_numbers(rig.invoice_docs())] == [f"{code}:{n:08d}" for n in (1, 2, 3)]
