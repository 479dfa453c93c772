"""A kiosk whose wall clock jumps (no RTC battery, an NTP step): the journal still expires
sessions sanely, and the fleet is told how far off the kiosk's clock is."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from fleet.protocol import Health
from fleet.server.alerts import clock_skew_s, health_conditions
from flows.journal import Journal

DAY = 86400.0


class State(BaseModel):
    note: str = ""


class Wall:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_clock_that_steps_back_or_forward_never_keeps_an_errand_of_unknown_age(tmp_path):
    wall = Wall(1_800_000_000.0)
    with Journal(tmp_path / "state", wall=wall, max_age_s=600) as journal:
        journal.save("a", "demo", 1, "x", [], State())
        wall.t += 30  # a normal minute: kept
        assert journal.wipe_expired() == 0
        wall.t -= DAY  # NTP stepped the clock a day back: the row looks a day "in the future"
        assert journal.wipe_expired() == 1 and journal.session_ids() == []
        journal.save("b", "demo", 1, "x", [], State())
        wall.t += 365 * DAY  # and forward again: a year-old write is expired
        assert journal.wipe_expired() == 1 and journal.session_ids() == []


def test_the_fleet_sees_the_kiosks_clock_skew():
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc)
    in_step = Health(kiosk_id="kiosk-a", ts=now - dt.timedelta(seconds=2))
    behind = Health(kiosk_id="kiosk-a", ts=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))  # the RTC lost power
    assert abs(clock_skew_s(in_step, now) + 2) < 1e-6
    assert health_conditions(in_step, received_at=now.replace(tzinfo=None)) == []
    (alert,) = health_conditions(behind, received_at=now)
    assert alert.kind == "clock_skew" and alert.message.startswith("the kiosk's clock is -")
