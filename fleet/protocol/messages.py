"""Versioned pydantic messages of the fleet protocol (JSON on the wire).

Every message carries ``v`` (its schema version, 1 today). A receiver accepts the
versions it knows and rejects others with `UnsupportedVersion`; fields it does not know
are ignored, so a newer sender may add optional fields without a version bump.

No message may carry personal data: `FleetMessage` looks at every string it holds
(recursively, including dict keys/values and lists) and refuses ID numbers, mobile
numbers and ``<pii>`` markers (see `fleet.protocol.privacy`). Binary payloads
(screenshots) are `bytes` fields, base64 in JSON, and are not scanned as text.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, ClassVar, Literal

import base64
import binascii
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fleet.protocol.privacy import find_personal_data
from fleet.protocol.topics import check_kiosk_id

SCHEMA_VERSION = 1
# Validation context key: the payload's strings were already scanned for personal data
# as a whole, so the per-model scan (the bulk of validation time) is skipped.
SCANNED_CONTEXT = "privacy_scanned"


def _from_base64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"not base64: {exc}") from None
    return value


Blob = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda b: base64.b64encode(b).decode(), return_type=str, when_used="json"),
]
"""Binary data: bytes in Python, base64 text in JSON; never scanned as text."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UnsupportedVersion(ValueError):
    """The message's ``v`` is one this code does not understand."""


def _scan(value: Any, path: str) -> None:
    if isinstance(value, str):
        kinds = find_personal_data(value)
        if kinds:
            raise ValueError(f"personal data ({', '.join(kinds)}) in field {path!r}")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _scan(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _scan(key, f"{path}[key]")
            _scan(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            _scan(item, f"{path}[{index}]")


class FleetModel(BaseModel):
    """Base of every part of a fleet message: no personal data in any string."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    @model_validator(mode="after")
    def _no_personal_data(self, info: ValidationInfo):
        if info.context and info.context.get(SCANNED_CONTEXT):
            return self  # the caller scanned every string of the payload once (fleet.server.fastdecode)
        for name in type(self).model_fields:
            _scan(getattr(self, name), name)
        return self


class FleetMessage(FleetModel):
    """A top-level message: schema version, sender kiosk, time of writing."""

    SCHEMA: ClassVar[str] = "message"
    v: int = SCHEMA_VERSION
    ts: datetime = Field(default_factory=utcnow)

    @field_validator("v")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise UnsupportedVersion(f"{cls.__name__} schema v{v} not supported (want {SCHEMA_VERSION})")
        return v


class KioskMessage(FleetMessage):
    kiosk_id: str

    @field_validator("kiosk_id")
    @classmethod
    def _kiosk_id(cls, value: str) -> str:
        return check_kiosk_id(value)


# ---------------------------------------------------------------- presence


class Presence(KioskMessage):
    """Retained on ``kiosk/{id}/status``; the last will is the same with online=False.

    ``session`` grows by one on every connection the agent makes (persisted on disk),
    birth and will of one connection carry the same number. Rule for receivers
    (`PresenceTracker`): ignore any presence whose session is lower than the highest
    session seen for that kiosk, and ignore an offline whose session is lower than the
    latest online's — so a will that arrives late never marks a reconnected kiosk offline.
    """

    SCHEMA: ClassVar[str] = "presence"
    online: bool
    session: int = Field(ge=0)
    app_version: str = ""
    agent_version: str = ""
    reason: str = ""  # "will" for the last will, "shutdown" for a clean stop


class ServerPresence(FleetMessage):
    """Retained on ``fleet/server/status`` (with a will of online=False)."""

    SCHEMA: ClassVar[str] = "server_presence"
    online: bool
    server_version: str = ""


class PresenceTracker:
    """The late-will rule, in one place for the server and the tests."""

    def __init__(self) -> None:
        self._latest: dict[str, Presence] = {}

    def apply(self, presence: Presence) -> bool:
        """Take `presence` into account; False when it is stale and was ignored."""
        current = self._latest.get(presence.kiosk_id)
        if current is not None:
            if presence.session < current.session:
                return False
            if presence.session == current.session and presence.online and not current.online:
                return False  # a birth replayed after its own will: the will stands
        self._latest[presence.kiosk_id] = presence
        return True

    def latest(self, kiosk_id: str) -> Presence | None:
        return self._latest.get(kiosk_id)

    def is_online(self, kiosk_id: str) -> bool:
        current = self._latest.get(kiosk_id)
        return bool(current and current.online)


# ---------------------------------------------------------------- health


class DeviceKind(StrEnum):
    """Same values as `peripherals.base.DeviceKind` (kept separate: the server imports only fleet.protocol)."""

    IDCARD = "idcard"
    BP = "bp"
    EYE = "eye"
    PRINTER = "printer"
    CAMERA = "camera"
    HEIGHT = "height"
    CARDREADER = "cardreader"
    DOCCAM = "doccam"


class DeviceState(StrEnum):
    """Same values as `peripherals.base.DeviceState`."""

    ABSENT = "absent"
    READY = "ready"
    BUSY = "busy"
    FAULT = "fault"


class DeviceHealth(FleetModel):
    """One device as the fleet sees it: `peripherals.base.DeviceStatus` minus anything local."""

    kind: DeviceKind
    state: DeviceState
    reason: str = ""  # error code when not ready
    message: str = ""
    consumables: dict[str, str] = Field(default_factory=dict)  # e.g. {"paper": "near_end"}
    model: str = ""
    serial: str = ""
    firmware: str = ""
    since: datetime | None = None


class SystemHealth(FleetModel):
    disk_total_bytes: int = 0
    disk_free_bytes: int = 0
    load_1m: float = 0.0
    cpu_count: int = 0
    memory_total_bytes: int = 0
    memory_available_bytes: int = 0
    temperature_c: float | None = None


class FlowCounters(FleetModel):
    """Counts only — never what a citizen did."""

    started: int = 0
    completed: int = 0
    aborted: int = 0


class Health(KioskMessage):
    """``kiosk/{id}/health``: on an interval and whenever something in it changes."""

    SCHEMA: ClassVar[str] = "health"
    app_version: str = ""
    agent_version: str = ""
    uptime_s: float = 0.0  # of the kiosk app (agent's own when the app is down)
    app_reachable: bool = True  # the agent could talk to the app's control socket
    out_of_service: bool = False
    out_of_service_reason: str = ""
    session_active: bool = False  # a citizen is using the kiosk right now
    config_version: int = 0
    # The interval this health is published at (0 = not said): the server counts missed
    # heartbeats against it to raise an offline alert before the broker notices anything.
    heartbeat_s: float = Field(default=0.0, ge=0.0)
    devices: list[DeviceHealth] = Field(default_factory=list)
    system: SystemHealth = Field(default_factory=SystemHealth)
    flows: dict[str, FlowCounters] = Field(default_factory=dict)
    # The kiosk's queue of submissions waiting for the back office (offline outbox): how
    # many, and how long the oldest has waited. The server alerts past a configured age.
    submission_queue_depth: int = Field(default=0, ge=0)
    submission_queue_oldest_s: float = Field(default=0.0, ge=0.0)
    submission_parked: int = Field(default=0, ge=0)  # refused by the back office for good, waiting for staff


# ---------------------------------------------------------------- events


class EventKind(StrEnum):
    DEVICE_STATE_CHANGED = "device_state_changed"
    STAFF_ACTION = "staff_action"
    FLOW_COMPLETED = "flow_completed"
    FLOW_ABORTED = "flow_aborted"
    OUT_OF_SERVICE_CHANGED = "out_of_service_changed"
    APP_STARTED = "app_started"
    APP_UNREACHABLE = "app_unreachable"
    CONFIG_APPLIED = "config_applied"
    AGENT_STARTED = "agent_started"
    PAPER_HOLD = "paper_hold"  # invoice printing stopped: numbers disagree or a print was cut short
    PAPER_HOLD_RESOLVED = "paper_hold_resolved"
    TEST = "test"  # for tests and `bench/`


class Event(KioskMessage):
    """``kiosk/{id}/events``, QoS 1 through the agent's outbox; ``id`` lets receivers dedupe."""

    SCHEMA: ClassVar[str] = "event"
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    kind: EventKind
    device: DeviceKind | None = None
    state: DeviceState | None = None
    reason: str = ""
    action: str = ""  # staff action name, e.g. "print_test_page"
    flow: str = ""  # flow name for flow_* kinds
    count: int | None = None  # counts only, never personal details
    detail: str = ""
    # flow_completed / flow_aborted (the fleet's service statistics): the step the session
    # ended on (a step name of the flow's code, never what the citizen entered), its
    # place in the flow (1 = first), and how long the session took. `reason` is the
    # abort reason (flows.outcomes.AbortReason).
    step: str = Field(default="", max_length=64)
    step_no: int | None = Field(default=None, ge=0, le=1000)
    duration_s: float | None = Field(default=None, ge=0.0, le=86400.0)


# ---------------------------------------------------------------- commands


class CommandName(StrEnum):
    REBOOT = "reboot"
    RESTART_APP = "restart_app"
    SELF_TEST = "self_test"
    FETCH_LOGS = "fetch_logs"
    SCREENSHOT = "screenshot"
    SET_OUT_OF_SERVICE = "set_out_of_service"
    APPLY_CONFIG = "apply_config"


class NoArgs(FleetModel):
    model_config = ConfigDict(extra="forbid")


class SelfTestArgs(FleetModel):
    model_config = ConfigDict(extra="forbid")
    device: DeviceKind | None = None  # None: every device


class FetchLogsArgs(FleetModel):
    model_config = ConfigDict(extra="forbid")
    lines: int = Field(default=200, ge=1, le=5000)


class OutOfServiceArgs(FleetModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    reason: str = Field(default="", max_length=200)


class KioskSettings(FleetModel):
    """The settings the fleet may change on a kiosk; anything else is refused."""

    model_config = ConfigDict(extra="forbid")
    # Titles and descriptions go into the JSON schema, from which the console builds its form.
    heartbeat_interval_s: float = Field(default=30.0, ge=1.0, le=3600.0, title="Heartbeat interval (s)",
                                        description="how often the kiosk publishes its health")
    idle_timeout_s: float = Field(default=90.0, ge=15.0, le=900.0, title="Idle timeout (s)",
                                  description="a session nobody touches ends (and is wiped) after this long")
    idle_warning_s: float = Field(default=20.0, ge=5.0, le=120.0, title="Idle warning (s)",
                                  description="the citizen is warned this long before the idle timeout")
    language: Literal["zh-CN", "en"] = Field(default="zh-CN", title="Language",
                                             description="the language a session starts in")
    volume: int = Field(default=60, ge=0, le=100, title="Volume (%)", description="speech and sounds")
    brightness: int = Field(default=80, ge=10, le=100, title="Brightness (%)", description="of the touch screen")
    out_of_service_message: str = Field(default="", max_length=200, title="Out-of-service message",
                                        description="shown while the kiosk is out of service")
    receipt_footer: str = Field(default="", max_length=200, title="Receipt footer",
                                description="printed at the foot of every receipt")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", title="Log level")
    enabled_flows: list[str] = Field(default_factory=list, title="Enabled services",
                                     description="the services offered (flow ids); empty: all")

    @model_validator(mode="after")
    def _warning_before_timeout(self):
        if self.idle_warning_s >= self.idle_timeout_s:
            raise ValueError("idle_warning_s must be shorter than idle_timeout_s")
        return self


class ApplyConfigArgs(FleetModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    settings: KioskSettings


COMMAND_ARGS: dict[CommandName, type[FleetModel]] = {
    CommandName.REBOOT: NoArgs,
    CommandName.RESTART_APP: NoArgs,
    CommandName.SELF_TEST: SelfTestArgs,
    CommandName.FETCH_LOGS: FetchLogsArgs,
    CommandName.SCREENSHOT: NoArgs,
    CommandName.SET_OUT_OF_SERVICE: OutOfServiceArgs,
    CommandName.APPLY_CONFIG: ApplyConfigArgs,
}

DEFAULT_COMMAND_TTL = timedelta(minutes=5)


class Command(KioskMessage):
    """``kiosk/{id}/cmd/req``; published with MQTT 5 Response Topic, Correlation Data
    (the id's 16 bytes) and Message Expiry Interval (until ``expires_at``)."""

    SCHEMA: ClassVar[str] = "command"
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    name: CommandName
    args: dict[str, Any] = Field(default_factory=dict)
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(default_factory=lambda: utcnow() + DEFAULT_COMMAND_TTL)

    @model_validator(mode="after")
    def _args_fit_the_name(self):
        COMMAND_ARGS[self.name].model_validate(self.args)
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self

    def parsed_args(self) -> FleetModel:
        return COMMAND_ARGS[self.name].model_validate(self.args)

    def expired(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.expires_at

    def seconds_left(self, now: datetime | None = None) -> float:
        return (self.expires_at - (now or utcnow())).total_seconds()


class CommandStatus(StrEnum):
    ACCEPTED = "accepted"  # received and started; a final status follows
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"  # not allowed now (citizen on screen, bad args, unknown)
    EXPIRED = "expired"  # arrived after expires_at; not run

    @property
    def final(self) -> bool:
        return self is not CommandStatus.ACCEPTED


class CommandResult(KioskMessage):
    """``kiosk/{id}/cmd/res`` (the command's Response Topic) with its Correlation Data."""

    SCHEMA: ClassVar[str] = "command_result"
    id: uuid.UUID
    name: CommandName | None = None
    status: CommandStatus
    detail: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)  # scanned for personal data
    data: Blob | None = None  # binary result (screenshot PNG), base64 in JSON
    data_type: str = ""  # e.g. "image/png"


# ---------------------------------------------------------------- configuration


class ConfigDesired(KioskMessage):
    """Retained on ``kiosk/{id}/config/desired``; the agent applies newer versions only."""

    SCHEMA: ClassVar[str] = "config_desired"
    version: int = Field(ge=1)
    settings: dict[str, Any]  # validated against `KioskSettings` by the agent, so a
    # bad one is reported as rejected instead of being undecodable

    def validated_settings(self) -> KioskSettings:
        return KioskSettings.model_validate(self.settings)


class ConfigStatus(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"


class ConfigReported(KioskMessage):
    """Retained on ``kiosk/{id}/config/reported``: the outcome for ``version``."""

    SCHEMA: ClassVar[str] = "config_reported"
    version: int = Field(ge=0)  # the desired version this reports on
    status: ConfigStatus
    reason: str = ""
    applied_version: int = Field(default=0, ge=0)  # what the kiosk runs now


# ---------------------------------------------------------------- updates


class UpdateDesired(KioskMessage):
    """Retained on ``kiosk/{id}/update/desired``: the release the kiosk should run.

    The agent answers each (rollout_id, version, sha256) once with a final state; the
    same retained message delivered again at every connect is not reinstalled. Publish a
    new ``rollout_id`` to retry a bundle that failed; clear the retained message (empty
    payload) to withdraw an update a kiosk has not started installing yet.
    """

    SCHEMA: ClassVar[str] = "update_desired"
    version: str
    url: str  # http(s) URL of the signed bundle; the agent resumes with Range
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # of the whole bundle file
    size: int = Field(ge=0)  # of the whole bundle file
    rollout_id: str = ""
    allow_downgrade: bool = False


class UpdateState(StrEnum):
    """Where a kiosk stands with the desired update.

    Final for one (rollout_id, version): committed, rolled_back, failed, refused.
    deferred is retried by the kiosk (outside the maintenance window, citizen session);
    idle with reason ``interrupted`` means an install was cut off before the switch and
    will be retried from the kept download.
    """

    IDLE = "idle"
    DOWNLOADING = "downloading"  # `progress` = percent of the bundle on disk
    VERIFYING = "verifying"  # signature, version policy, every file hash
    INSTALLING = "installing"  # new release directory + venv, then the atomic switch
    RESTARTING = "restarting"  # the kiosk service is being restarted into the new release
    PENDING_COMMIT = "pending_commit"  # waiting for the new release to report healthy
    ROLLING_BACK = "rolling_back"
    DEFERRED = "deferred"  # not now (`reason`: outside_maintenance_window, session_active); retried
    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    REFUSED = "refused"

    @property
    def final(self) -> bool:
        return self in _FINAL_UPDATE_STATES


_FINAL_UPDATE_STATES = frozenset({UpdateState.COMMITTED, UpdateState.ROLLED_BACK, UpdateState.FAILED, UpdateState.REFUSED})


class UpdateReported(KioskMessage):
    """``kiosk/{id}/update/reported`` (QoS 1, through the outbox): progress and outcome.

    ``reason`` is a machine-readable code (`fleet.updates.models.ReasonCode` values, e.g.
    ``hash_mismatch``, ``untrusted_key``, ``downgrade``, ``unhealthy``,
    ``outside_maintenance_window``) for refused / rolled_back / failed / deferred, so a
    server can count failures by cause; ``detail`` is for people.
    """

    SCHEMA: ClassVar[str] = "update_reported"
    version: str = ""  # the desired version this reports on
    state: UpdateState
    current_version: str = ""  # the release `current` points at now
    rollout_id: str = ""
    detail: str = ""
    progress: float | None = Field(default=None, ge=0.0, le=100.0)  # percent, while downloading
    reason: str = Field(default="", max_length=64)


__all__ = [name for name in dir() if not name.startswith("_")] + ["ValidationError"]
