"""What the staff screen shows of the terminal: queue, progress, count per hour, paper left,
open holds and the last alarms. A plain snapshot (no Kivy): the view only renders it."""

from __future__ import annotations

import collections
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from flows.views import Msg, msg

AlarmLevel = Literal["alarm", "warning", "info"]


class Alarm(BaseModel):
    at: float
    level: AlarmLevel
    code: str
    text: Msg
    hold_id: int | None = None
    sound: bool = False  # the view plays the alarm sound for it


class QueueItem(BaseModel):
    application_id: str
    kind: str
    buyer: str  # masked


class HoldView(BaseModel):
    hold_id: int
    cause: str
    detail: dict[str, Any]
    actions: tuple[str, ...]
    opened_at: float


class TerminalStatus(BaseModel):
    terminal_id: str
    state: Literal["starting", "running", "held", "waiting_printer", "idle", "stopping", "stopped"] = "starting"
    queue: list[QueueItem] = Field(default_factory=list)
    pending_total: int = 0
    current: str | None = None  # application id
    stage: str = ""  # issuing | printing_invoice | waybill | printing_waybill | confirming | requisition
    done: int = 0
    invoices: int = 0
    requisitions: int = 0
    per_hour: int = 0
    paper_left: int = 0
    roll: str = ""  # 'CODE:NEXT'
    holds: list[HoldView] = Field(default_factory=list)
    alarms: list[Alarm] = Field(default_factory=list)  # newest first
    printer_problem: str | None = None


class Counters:
    """Completed errands with their times; per hour = those finished in the last 3600 s."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._finished: collections.deque[float] = collections.deque()

    def finished(self) -> None:
        self._finished.append(self._clock())

    def per_hour(self) -> int:
        horizon = self._clock() - 3600
        while self._finished and self._finished[0] < horizon:
            self._finished.popleft()
        return len(self._finished)


ALARM_TEXTS = {
    "mismatch": "terminal.alarm.mismatch",
    "print_interrupted": "terminal.alarm.print_interrupted",
    "unknown_outcome": "terminal.alarm.unknown_outcome",
    "stock_empty": "terminal.alarm.stock_empty",
}


def alarm_for(kind: str, detail: dict[str, Any], at: float) -> Alarm | None:
    """The alarm (or note) a paper-path notification deserves on the staff screen."""
    if kind == "hold_opened":
        cause = detail["cause"]
        params = {k: str(detail.get(k, "")) for k in ("core", "system", "paper", "code", "number", "fault")}
        return Alarm(at=at, level="alarm", code=cause, text=msg(ALARM_TEXTS.get(cause, "terminal.alarm.hold"), **params),
                     hold_id=detail["hold_id"], sound=True)
    if kind == "hold_resolved":
        return Alarm(at=at, level="info", code="resolved", hold_id=detail["hold_id"],
                     text=msg("terminal.alarm.resolved", action=detail["action"], staff=detail["staff"]))
    if kind == "printer_wait":
        return Alarm(at=at, level="warning", code=detail["cause"], sound=True,
                     text=msg("terminal.alarm.printer", cause=detail["cause"]))
    if kind == "voided":
        return Alarm(at=at, level="info", code="voided",
                     text=msg("terminal.alarm.voided", numbers=", ".join(detail["numbers"]), reason=detail["reason"]))
    if kind == "roll_loaded":
        return Alarm(at=at, level="info", code="roll_loaded",
                     text=msg("terminal.alarm.roll_loaded", code=detail["invoice_code"], first=detail["first"],
                              last=detail["last"]))
    return None
