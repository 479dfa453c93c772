"""Personal data never reaches the logs, and the journal never holds it in clear.

A whole licence renewal runs with every logger at DEBUG (in-process, and as a
`kiosk run-flow` process with --log-level debug); the captured log text is scanned for
the card holder's ID number, name and card address, the typed phone and street, and the
health results (blood-pressure values, and the field names a dumped result would carry).
At every asked view the journal's database and WAL files are scanned for the same data.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from flows.engine import OutcomeStatus
from kiosk.runflow import AnswersFile, run_in_process

from .flow_support import FAST_FACE, FAST_PAYMENT, FAST_SIM, example_answers, run_cli

# The simulated resident card (peripherals.idcard.sim.scripted_card) and what the citizen types.
ID_NUMBER, NAME, CARD_ADDRESS = "500103198803151232", "王晓东", "解放碑街道民族路188号2单元7-3"
PHONE, STREET = "13987654321", "较场口日月光中心27楼"
SYSTOLIC, DIASTOLIC = 163, 97  # distinctive values (a grade-2 reading: advice)
PERSONAL = [ID_NUMBER, ID_NUMBER[-8:], NAME, NAME[1:], CARD_ADDRESS, "民族路188号", PHONE, PHONE[-8:], STREET]
HEALTH_FIELDS = ["systolic", "diastolic", "vision_left", "vision_right", "colour_vision", "hearing_left",
                 "hearing_right", "height_cm", "blood_pressure"]


def spec() -> AnswersFile:
    s = example_answers("licence-renewal", settings={**FAST_PAYMENT, **FAST_FACE}, sim=FAST_SIM)
    s.sim["bp"].update(sys=SYSTOLIC, dia=DIASTOLIC)
    s.answers["address"] = {**s.answers["address"], "phone": PHONE, "street": STREET}
    s.sim["height"] = {**s.sim.get("height", {}), "height": 171.3}
    return s


def leaks(text: str) -> list[str]:
    found = [p for p in PERSONAL if p in text]
    found += [f for f in HEALTH_FIELDS if f in text]
    found += [f"bp value {v}" for v in (SYSTOLIC, DIASTOLIC) if re.search(rf"(?<![\d.]){v}(?![\d.])", text)]
    return found


@pytest.mark.timeout(60)
def test_debug_logs_of_a_renewal_hold_no_personal_or_health_data(backoffice, tmp_path, caplog):
    state = tmp_path / "state"
    journal_leaks: list[tuple[str, list[str]]] = []
    checked = []

    def scan_journal(view, deps):
        raw = b"".join(p.read_bytes() for p in state.glob("journal.sqlite3*"))
        found = [p for p in PERSONAL if p.encode() in raw]
        checked.append(view.step)
        if found:
            journal_leaks.append((view.step, found))
        return None

    with caplog.at_level(logging.DEBUG):
        root = logging.getLogger()
        previous = root.level
        root.setLevel(logging.DEBUG)
        try:
            r = asyncio.run(run_in_process("licence-renewal", spec(), backoffice.url, state, intercept=scan_journal))
        finally:
            root.setLevel(previous)
    assert r.outcome.status is OutcomeStatus.COMPLETED and r.outcome.outcome["bp_advisory"] == "advice"
    # the data really went through the flow (so the scan below can fail)
    assert any(v.kind.value == "prompt" and v.message.params.get("systolic") == SYSTOLIC for v in r.result.views)
    text = "\n".join(
        f"{rec.name} {rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records
    )
    assert len(caplog.records) > 20  # DEBUG capture worked
    assert leaks(text) == []
    assert {"consent", "address", "review"} <= set(checked)
    assert journal_leaks == []


@pytest.mark.timeout(60)
def test_runner_process_debug_log_holds_no_personal_data(backoffice, tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(spec().model_dump_json(), encoding="utf-8")
    rc, lines, stderr = run_cli("run-flow", "licence-renewal", "--answers", str(answers), "--devices", "sim",
                                "--state-dir", str(tmp_path / "state"), "--backoffice", backoffice.url,
                                "--log-level", "debug")
    stdout = "\n".join(lines)
    assert rc == 0, stderr[-2000:]
    assert "DEBUG" in stderr and "flows.engine" in stderr
    messages = re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", "", stderr)  # drop the timestamps
    assert leaks(messages) == []
    # stdout is the screen (the views), where the citizen's own data belongs: it went through
    assert NAME in stdout and f'"systolic":{SYSTOLIC}' in stdout
