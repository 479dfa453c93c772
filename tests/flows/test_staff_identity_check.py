"""The staff identity check (the non-biometric alternative to the face check) uses the kiosk's
real staff PIN store (kiosk.diagnostics.StaffAuth, the diagnostics PIN with its lockout),
is audited as a staff action, and reaches the back office as method "staff"."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from backoffice.testing import submissions
from kiosk.control import EventBuffer
from kiosk.diagnostics.actions import StaffActions
from kiosk.diagnostics.identity_check import StaffIdentityCheck
from kiosk.diagnostics.staff_auth import AuthResult, StaffAuth

from .flow_support import EXAMPLES, FAST_PAYMENT, run_cli

PIN = "13572468"


def audited(events: EventBuffer) -> list[tuple[str, str]]:
    return [(e.action, e.reason) for e in events.fetch(events.instance, 0, 1000).events]


def test_the_check_is_the_diagnostics_pin_with_its_lockout_and_audit(tmp_path):
    auth = StaffAuth(tmp_path, max_failures=3)
    auth.set_pin(PIN)
    events = EventBuffer()
    check = StaffIdentityCheck(auth, StaffActions(events))
    assert asyncio.run(check(PIN)) is True
    assert [asyncio.run(check("00000000")) for _ in range(3)] == [False] * 3
    assert asyncio.run(check(PIN)) is False  # locked: the right PIN too
    assert StaffAuth(tmp_path, max_failures=3).check(PIN).result is AuthResult.LOCKED  # the diagnostics screen too
    assert audited(events) == [("identity_check", "confirmed"), ("identity_check", "wrong_pin"),
                               ("identity_check", "wrong_pin"), ("identity_check", "locked"), ("lockout", ""),
                               ("identity_check", "locked")]
    assert PIN not in json.dumps([e.model_dump(mode="json") for e in events.fetch(events.instance, 0, 100).events])


def test_no_pin_set_is_never_a_confirmation(tmp_path):
    assert asyncio.run(StaffIdentityCheck(StaffAuth(tmp_path))(PIN)) is False


@pytest.mark.timeout(120)
def test_run_flow_staff_check_with_the_state_dirs_pin(backoffice, tmp_path):
    """`kiosk run-flow`: staff instead of the face, confirmed with the PIN set by `set-pin`."""
    state = tmp_path / "state"
    StaffAuth(state).set_pin(PIN)
    answers = tmp_path / "tax.yaml"
    spec = yaml.safe_load((EXAMPLES / "tax-invoice.yaml").read_text(encoding="utf-8"))
    spec["settings"] = {**spec.get("settings", {}), **FAST_PAYMENT}
    spec["answers"].update({"face": "staff", "face.form": {"staff_pin": PIN}})
    answers.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    rc, lines, err = run_cli("run-flow", "tax-invoice", "--answers", str(answers), "--devices", "sim",
                             "--state-dir", str(state), "--backoffice", backoffice.url, timeout=110)
    assert rc == 0, err
    outcome = json.loads(lines[-1])
    assert outcome["status"] == "completed" and outcome["outcome"]["real_name_method"] == "staff"
    assert [s["kind"] for s in submissions(backoffice.url)] == ["tax_invoice"]
    assert PIN not in "\n".join(lines)
