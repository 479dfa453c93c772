"""When an install may happen: inside a maintenance window and with no citizen session.

Windows are local wall-clock times (the post office's), e.g. ``02:00-05:00``; a window
may cross midnight (``23:30-04:00``) and may be limited to weekdays (0 = Monday). No
windows configured means "any time". The clock and the session probe are injected.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Callable

from pydantic import BaseModel, Field, model_validator

from fleet.updates.models import ReasonCode


class MaintenanceWindow(BaseModel):
    start: time
    end: time
    weekdays: list[int] = Field(default_factory=lambda: list(range(7)))  # day the window *starts*

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value):
        if isinstance(value, str):  # "02:00-05:00"
            start, _, end = value.partition("-")
            return {"start": start.strip(), "end": end.strip()}
        return value

    def contains(self, moment: datetime) -> bool:
        now = moment.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end and moment.weekday() in self.weekdays
        if now >= self.start:  # the evening part of a window crossing midnight
            return moment.weekday() in self.weekdays
        if now < self.end:  # the morning part: the window began yesterday
            return (moment - timedelta(days=1)).weekday() in self.weekdays
        return False


def in_any_window(windows: list[MaintenanceWindow], moment: datetime) -> bool:
    return not windows or any(w.contains(moment) for w in windows)


def install_blocker(
    windows: list[MaintenanceWindow],
    clock: Callable[[], datetime],
    session_active: Callable[[], bool],
) -> tuple[ReasonCode, str] | None:
    """None if an install may start now, else (reason, detail)."""
    now = clock()
    if not in_any_window(windows, now):
        spans = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in windows)
        return ReasonCode.OUTSIDE_MAINTENANCE_WINDOW, f"{now:%H:%M} is outside {spans}"
    try:
        active = session_active()
    except Exception as exc:  # cannot tell: assume a citizen may be there
        return ReasonCode.SESSION_ACTIVE, f"session probe failed ({type(exc).__name__}); assuming a session"
    if active:
        return ReasonCode.SESSION_ACTIVE, "a citizen session is in progress"
    return None
