"""A full state disk (a real 2 MiB tmpfs): the journal fails with a typed error, a renewal stops
before anything irreversible with the journal-failure screen, nothing is submitted twice, and
the fleet's alert rule sees the kiosk's out-of-service reason. The app side is in
tests/ui/test_disk_full_ui.py."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from backoffice.testing import submissions
from fleet.protocol import Health
from fleet.server.alerts import health_conditions
from flows.engine import AbortReason, OutcomeStatus
from flows.errors import JournalFull
from flows.journal import Journal
from kiosk.disk_guard import DiskGuard

from .flow_support import FAST_FACE, FAST_PAYMENT, FAST_SIM, example_answers, run_flow
from .tiny_disk import fill, tiny_disk


class State(BaseModel):
    note: str = ""


def test_a_full_disk_is_a_typed_journal_error_and_space_coming_back_heals_it(tmp_path):
    with tiny_disk(tmp_path / "disk") as disk:
        with Journal(disk / "state") as journal:
            journal.save("s1", "demo", 1, "a", [], State(note="x"))
            filler = fill(disk)
            with pytest.raises(JournalFull) as err:
                journal.save("s1", "demo", 1, "b", ["a"], State(note="y" * 200_000))
            assert err.value.code == "disk_full"
            filler.unlink()
            journal.save("s1", "demo", 1, "b", ["a"], State(note="y" * 200_000))
            assert journal.session_ids() == ["s1"]


def test_the_disk_guard_has_hysteresis(tmp_path):
    with tiny_disk(tmp_path / "disk", size="4m") as disk:
        guard = DiskGuard(disk, low_bytes=1 << 20, resume_bytes=3 << 20)
        assert guard.check() is False
        filler = fill(disk, leave_bytes=512 << 10)
        assert guard.check() is True
        with open(filler, "r+b") as f:  # free 1.5 MiB: above low, still below resume
            f.truncate(filler.stat().st_size - (3 << 19))
        assert guard.check() is True
        filler.unlink()
        assert guard.check() is False


@pytest.mark.timeout(120)
def test_a_renewal_on_a_full_disk_stops_before_submitting(backoffice, tmp_path):
    spec = example_answers("licence-renewal", settings={**FAST_PAYMENT, **FAST_FACE, "rng_seed": 7}, sim=FAST_SIM)
    filled: list = []

    def fill_at_review(view, deps):
        if view.step == "review" and not filled:
            filled.append(fill(disk))

    with tiny_disk(tmp_path / "disk", size="8m") as disk:
        r = run_flow("licence-renewal", spec, backoffice.url, disk / "state", intercept=fill_at_review)
        assert filled, "the flow never reached its review step"
        assert r.outcome.status is OutcomeStatus.ABORTED
        assert r.outcome.reason is AbortReason.JOURNAL_FAILED and r.outcome.code == "disk_full"
        assert r.result.views[-1].what.key == "error.journal_failed.what"
        assert submissions(backoffice.url) == []  # stopped before the application went out


def test_the_fleet_alerts_on_a_kiosk_out_of_service_for_a_full_disk():
    health = Health(kiosk_id="kiosk-a", out_of_service=True, out_of_service_reason="disk_full")
    assert [c.kind for c in health_conditions(health)] == ["disk_full"]
    assert health_conditions(Health(kiosk_id="kiosk-a", out_of_service=True, out_of_service_reason="maintenance")) == []
