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


def test_sigterm_stops_cleanly_and_a_restart_resumes(tmp_path, backoffice):
    state = tmp_path / "state"
    proc = start(state, "--backoffice", backoffice.url, "--applications", "3", "--requisition-every", "0")
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

    again = start(state, "--backoffice", backoffice.url, "--applications", "0", "--exit-when-empty", "--fast")
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


def test_kill_9_mid_queue_then_a_restart_accounts_for_every_number(tmp_path, backoffice):
    """Wherever the kill lands (mid-print, between records), after the restart every
    application has exactly one printed invoice and every used number has one fate, the
    same in the terminal's ledger and at the tax core."""
    import httpx

    state = tmp_path / "state"
    proc = start(state, "--backoffice", backoffice.url, "--applications", "3", "--requisition-every", "0")
    try:
        for line in proc.stdout:
            if json.loads(line).get("done") == 1:
                break
        import time

        time.sleep(1.0)  # the second invoice is on its way through the printer (about 2 s of paper)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        proc.kill()
    again = start(state, "--backoffice", backoffice.url, "--applications", "0", "--exit-when-empty", "--fast",
                  "--auto-staff")
    out = [json.loads(line) for line in again.stdout]
    assert again.wait(timeout=60) == 0 and out[-1]["holds_open"] == 0
    ledger = PaperLedger(state)
    try:
        roll = ledger.roll()
        rows = ledger.numbers(roll.invoice_code)
        assert [r["number"] for r in rows] == list(range(roll.first, roll.next))  # nothing skipped
        printed = [r["source"] for r in rows if r["fate"] == "printed"]
        assert len(printed) == len(set(printed)) == 3  # one invoice per application, none twice
        assert ledger.jobs() == []
        code = roll.invoice_code
    finally:
        ledger.close()
    core = {int(r["number"]): r["status"] for r in httpx.get(f"{backoffice.url}/v1/_test/terminal/numbers/{code}").json()}
    assert sorted(core) == [r["number"] for r in rows]
    assert all(core[r["number"]] == "issued" for r in rows if r["fate"] == "printed")
    assert all(core[r["number"]].startswith("voided") for r in rows if r["fate"] == "voided")
    assert httpx.get(f"{backoffice.url}/v1/terminal/applications").json()["pending_total"] == 0


def test_a_real_terminal_without_its_site_settings_refuses_to_start_and_says_where_they_go(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_TERMINAL_")}
    env |= {"PYTHONPATH": str(REPO), "KIOSK_TERMINAL_BACKOFFICE": "https://backoffice.example:8443",
            "KIOSK_TERMINAL_INVOICE_PRINTER": "usb://0416:5011"}  # the label printer and the id are missing
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "terminal", "--headless", "--state-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert proc.returncode == 1
    assert "KIOSK_TERMINAL_LABEL_PRINTER" in proc.stderr and "/etc/kiosk/terminal.env" in proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []  # nothing written
