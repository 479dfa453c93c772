"""scripts/audit_screens.py over a whole shipped flow, in zh, en and elderly mode, as a process of its own.

The inspection-label flow has the screens that are hardest to fit (a form, the region picker,
the pinyin keyboard for the street, payment, printing). The script drives it by touch with
the autopilot, audits every screenshot (pixels and widget tree) and exits 1 on any problem.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)  # three whole runs of a flow in one process
def test_the_audit_script_passes_every_screen_of_a_flow_in_every_mode(artifacts):
    out = artifacts / "audit-script"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "audit_screens.py"), "--flow", "inspection-label",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = proc.stdout
    problems = [line for line in report.splitlines() if line.startswith("      ")]
    assert proc.returncode == 0, f"audit failed:\n{report[-4000:]}\n{proc.stderr[-2000:]}"
    tables = re.findall(r"^(zh|en|zh-elderly)\n  screen +result$", report, flags=re.M)
    assert tables == ["zh", "en", "zh-elderly"]
    summary = re.search(r"^audit: (\d+) screens, (\d+) with problems$", report, flags=re.M)
    assert summary is not None and int(summary[2]) == 0 and not problems
    screens = int(summary[1])
    assert screens >= 3 * 20, report  # the whole flow, three times
    for mode in ("zh", "en", "zh-elderly"):
        shots = sorted((out / mode).glob("*.png"))
        assert len(shots) >= 20 and any("street" in p.name for p in shots), mode


def test_an_unknown_mode_is_refused_in_plain_words():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "audit_screens.py"), "--modes", "fr"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unknown mode 'fr'" in proc.stderr and "Traceback" not in proc.stderr
