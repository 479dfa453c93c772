"""`kiosk terminal --virtual --headless` as a process: SIGTERM mid-queue stops it cleanly
(the print under way finishes, nothing half-recorded) and the next start resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from flows.paper.ledger import PaperLedger

REPO = Path(__file__).resolve().parents[2]


def start(state: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "terminal", "--virtual", "--headless",
                             "--state-dir", str(state), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_sigterm_stops_cleanly_and_a_restart_resumes(tmp_path):
    state = tmp_path / "state"
    proc = start(state, "--applications", "3", "--requisition-every", "0")
    lines = []
    try:
        for line in proc.stdout:  # real printer speed: the second errand is printing when we stop it
            lines.append(json.loads(line))
            if lines[-1].get("done") == 1:
                proc.send_signal(signal.SIGTERM)
                break
        rest = [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    summary = rest[-1]
    assert summary["summary"] and summary["stopped_by_signal"] and summary["done"] in (1, 2)
    ledger = PaperLedger(state)
    try:
        assert all(job.get("stage") != "printing" for _, job in ledger.jobs())  # never left mid-print
        roll = ledger.roll()
        assert [r["fate"] for r in ledger.numbers(roll.invoice_code)] == ["printed"] * (roll.next - roll.first)
    finally:
        ledger.close()

    again = start(state, "--applications", "0", "--exit-when-empty", "--fast")
    out = [json.loads(line) for line in again.stdout]
    assert again.wait(timeout=60) == 0
    assert out[-1]["summary"] and out[-1]["holds_open"] == 0
    ledger = PaperLedger(state)
    try:
        roll = ledger.roll()
        assert [(r["number"], r["fate"]) for r in ledger.numbers(roll.invoice_code)] == [
            (1, "printed"), (2, "printed"), (3, "printed")]
        assert ledger.jobs() == []
    finally:
        ledger.close()
