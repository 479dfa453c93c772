"""What every device reports, as data: its kind, state, identity and self-test result.

Kept apart from the driver interfaces (`peripherals.base`) so that each kind's own models
(`peripherals.<kind>.models`) can build on it while the interfaces import those models.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum

from pydantic import BaseModel, Field


class DeviceKind(StrEnum):
    IDCARD = "idcard"
    BP = "bp"
    EYE = "eye"
    PRINTER = "printer"
    CAMERA = "camera"
    HEIGHT = "height"  # height-weight station
    CARDREADER = "cardreader"  # contactless transit-card reader (top-up)
    DOCCAM = "doccam"  # document camera (高拍仪) above the desk: application papers


class DeviceState(StrEnum):
    ABSENT = "absent"  # not connected, or could not be opened; the supervisor retries
    READY = "ready"
    BUSY = "busy"  # an operation is running
    FAULT = "fault"  # connected but reporting a fault (cover open, SAM failure ...)


class DeviceInfo(BaseModel):
    kind: DeviceKind
    driver: str
    model: str = ""
    serial: str = ""
    firmware: str = ""
    port: str = ""


class SelfTestResult(BaseModel):
    kind: DeviceKind
    passed: bool
    checks: dict[str, bool] = Field(default_factory=dict)
    detail: str = ""  # plain words for maintenance staff; never personal data
    duration_s: float = 0.0


class DeviceStatus(BaseModel):
    """What the supervisor knows about one device; published on every change."""

    kind: DeviceKind
    state: DeviceState
    reason: str = ""  # error code (`peripherals.errors.*.code`) when not ready
    message: str = ""
    info: DeviceInfo | None = None
    consumables: dict[str, str] = Field(default_factory=dict)  # e.g. {"paper": "near_end"}
    since: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    last_errors: list[str] = Field(default_factory=list)
