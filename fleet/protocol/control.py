"""The kiosk app's local control socket: requests and responses (pydantic, JSON lines).

The app (`kiosk.control.ControlServer`) listens on a unix socket; the agent
(`fleet.agent.control_client.ControlClient`) connects, writes one JSON request per line
and reads one JSON response per line. The models live here, not in ``kiosk``, because
nothing may import ``kiosk`` (DESIGN.md) while both sides need them.

Requests (field ``op``): status · self_test(device) · screenshot · set_out_of_service
(enabled, reason) · reload_config · recent_logs(lines) · events(after).
Every response is `ControlResponse`: ``ok`` with a ``result`` object, or ``ok=false``
with ``error`` in `ControlError` (``refused`` when not allowed now, e.g. a screenshot
while a citizen session is on screen).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter

from fleet.protocol.messages import (
    Blob,
    DeviceHealth,
    DeviceKind,
    DeviceState,
    EventKind,
    FleetModel,
    FlowCounters,
    KioskSettings,
    utcnow,
)

CONTROL_PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 16 * 1024 * 1024  # a screenshot in base64 fits


class _Request(FleetModel):
    v: int = CONTROL_PROTOCOL_VERSION
    rid: int = 0  # echoed in the response


class StatusRequest(_Request):
    op: Literal["status"] = "status"


class SelfTestRequest(_Request):
    op: Literal["self_test"] = "self_test"
    device: DeviceKind | None = None  # None: every device


class ScreenshotRequest(_Request):
    op: Literal["screenshot"] = "screenshot"


class OutOfServiceRequest(_Request):
    op: Literal["set_out_of_service"] = "set_out_of_service"
    enabled: bool
    reason: str = Field(default="", max_length=200)


class ReloadConfigRequest(_Request):
    op: Literal["reload_config"] = "reload_config"


class RecentLogsRequest(_Request):
    op: Literal["recent_logs"] = "recent_logs"
    lines: int = Field(default=200, ge=1, le=5000)


class EventsRequest(_Request):
    """Fetch app events with ``seq > after`` — and forget those with ``seq <= after``."""

    op: Literal["events"] = "events"
    instance: str = ""  # the app instance `after` refers to; another one means "from 0"
    after: int = Field(default=0, ge=0)
    limit: int = Field(default=500, ge=1, le=5000)


ControlRequest = Annotated[
    Union[
        StatusRequest,
        SelfTestRequest,
        ScreenshotRequest,
        OutOfServiceRequest,
        ReloadConfigRequest,
        RecentLogsRequest,
        EventsRequest,
    ],
    Field(discriminator="op"),
]
CONTROL_REQUEST = TypeAdapter(ControlRequest)


# ---------------------------------------------------------------- results


class AppStatus(FleetModel):
    app_version: str = ""
    uptime_s: float = 0.0
    session_active: bool = False  # a citizen session is on screen
    out_of_service: bool = False
    out_of_service_reason: str = ""
    config_version: int = 0
    devices: list[DeviceHealth] = Field(default_factory=list)
    flows: dict[str, FlowCounters] = Field(default_factory=dict)
    # The submission outbox (docs/offline.md): counts and an age only, never what waits.
    submission_queue_depth: int = Field(default=0, ge=0)
    submission_queue_oldest_s: float = Field(default=0.0, ge=0.0)
    submission_parked: int = Field(default=0, ge=0)


class DeviceSelfTest(FleetModel):
    kind: DeviceKind
    passed: bool
    checks: dict[str, bool] = Field(default_factory=dict)
    detail: str = ""
    duration_s: float = 0.0


class SelfTestResults(FleetModel):
    results: list[DeviceSelfTest] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)


class Screenshot(FleetModel):
    png: Blob
    width: int = 0
    height: int = 0


class ReloadResult(FleetModel):
    applied: bool
    config_version: int = 0
    reason: str = ""


class RecentLogs(FleetModel):
    lines: list[str] = Field(default_factory=list)


class AppEvent(FleetModel):
    """Something the fleet should hear about, counted, never who did what."""

    seq: int = Field(ge=1)
    id: uuid.UUID = Field(default_factory=uuid.uuid4)  # kept as the fleet Event id
    ts: datetime = Field(default_factory=utcnow)
    kind: EventKind
    device: DeviceKind | None = None
    state: DeviceState | None = None
    reason: str = ""
    action: str = ""
    flow: str = ""
    count: int | None = None
    detail: str = ""
    step: str = Field(default="", max_length=64)  # flow_* kinds: see fleet.protocol.messages.Event
    step_no: int | None = Field(default=None, ge=0, le=1000)
    duration_s: float | None = Field(default=None, ge=0.0, le=86400.0)


class AppEvents(FleetModel):
    instance: str  # changes when the app restarts: the agent then starts again at 0
    events: list[AppEvent] = Field(default_factory=list)


class ControlError(StrEnum):
    REFUSED = "refused"
    BAD_REQUEST = "bad_request"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


class ControlResponse(FleetModel):
    v: int = CONTROL_PROTOCOL_VERSION
    rid: int = 0
    ok: bool
    result: dict[str, Any] = Field(default_factory=dict)
    error: ControlError | None = None
    detail: str = ""


class FleetConfigFile(FleetModel):
    """The file the agent writes on apply_config and the app reads on reload_config.

    Written atomically (temp file + rename) as JSON; ``settings`` is the validated
    `KioskSettings` for ``version``.
    """

    version: int = Field(ge=1)
    settings: KioskSettings


def read_config_file(path) -> FleetConfigFile:
    from pathlib import Path

    return FleetConfigFile.model_validate_json(Path(path).read_bytes())


def write_config_file(path, config: FleetConfigFile) -> None:
    import os
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(config.model_dump_json(indent=2).encode())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
