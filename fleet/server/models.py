"""The fleet server's tables (SQLAlchemy 2, typed declarative mapping).

One schema for SQLite and PostgreSQL: times are stored as UTC (`UtcDateTime` puts the
zone back on values SQLite returns naive), JSON columns use the generic `JSON` type,
and ids the server makes are strings. The schema is created and changed only by the
Alembic migrations in `fleet/server/migrations`; `Base.metadata` is what they describe.

Nothing here holds personal data: health rows carry device states, counters and host
figures as the kiosk's telemetry sends them (which itself never carries any).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Kiosk(Base):
    """One kiosk as last heard: presence (with its session counter) and latest health."""

    __tablename__ = "kiosks"
    __table_args__ = (Index("ix_kiosks_version", "app_version"),)  # the console's version filter

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime | None]  # server time of the last message of any kind
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    session: Mapped[int] = mapped_column(BigInteger, default=-1)  # of the latest 'online' status
    presence_changed: Mapped[dt.datetime | None]
    heartbeat_s: Mapped[float | None] = mapped_column(Float)  # the interval the kiosk announced
    app_version: Mapped[str | None] = mapped_column(String(64))
    last_health_at: Mapped[dt.datetime | None]  # server time the latest health was received
    # the kiosk's own time (`ts`) of that health: which of two messages is the newer,
    # whatever order workers and redeliveries bring them in
    last_health_sent_at: Mapped[dt.datetime | None]
    health: Mapped[dict[str, Any] | None]  # the latest health message, as JSON
    config_desired_version: Mapped[int] = mapped_column(Integer, default=0)
    config_desired: Mapped[dict[str, Any] | None]
    config_desired_at: Mapped[dt.datetime | None]
    config_reported_version: Mapped[int | None] = mapped_column(Integer)
    config_reported: Mapped[dict[str, Any] | None]  # the whole reported message, as JSON
    config_reported_at: Mapped[dt.datetime | None]


class HealthSample(Base):
    """A point of the health history: the figures the console charts, plus the message."""

    __tablename__ = "health_samples"
    # received_at alone: the retention job reads and deletes by time (BRIN on PostgreSQL:
    # tiny and nearly free to maintain on an append-only time column)
    # (kiosk_id, sent_at) unique: a message redelivered (QoS 1 after a worker died between
    # commit and acknowledgement, or resent by the kiosk) is stored once.
    __table_args__ = (Index("ix_health_kiosk_at", "kiosk_id", "received_at"),
                      Index("ix_health_at", "received_at", postgresql_using="brin"),
                      Index("ux_health_kiosk_sent", "kiosk_id", "sent_at", unique=True))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id", ondelete="CASCADE"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]  # the message's `ts` (kiosk time); None before 0008
    cpu_percent: Mapped[float | None] = mapped_column(Float)
    memory_percent: Mapped[float | None] = mapped_column(Float)
    disk_percent: Mapped[float | None] = mapped_column(Float)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    devices_ok: Mapped[int | None] = mapped_column(Integer)
    devices_total: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]


class Event(Base):
    """An event a kiosk reported (QoS 1; may arrive twice, so deduplicated by its id)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_kiosk_at", "kiosk_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id", ondelete="CASCADE"))
    event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="info")
    payload: Mapped[dict[str, Any]]


class Command(Base):
    """A command the server sent, and what became of it."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_kiosk_at", "kiosk_id", "created_at"),)

    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]]
    operator: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="sent")  # sent|ok|failed|refused|expired|...
    result_at: Mapped[dt.datetime | None]
    result: Mapped[dict[str, Any] | None]


class Alert(Base):
    """A condition that needs an operator: open until the condition clears by itself."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "kiosk_id", "kind", "device", "cleared_at"),
                      Index("ix_alerts_cleared", "cleared_at", "kiosk_id"))  # "kiosks with open alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # offline | device_fault | paper_low | paper_out
    device: Mapped[str] = mapped_column(String(64), default="")  # '' for kiosk-wide alerts
    severity: Mapped[str] = mapped_column(String(16))  # warning | critical
    message: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[dt.datetime | None]


class Operator(Base):
    """A person who logs in to the console, API or CLI."""

    __tablename__ = "operators"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # viewer | operator | admin
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


def _public_id() -> str:
    return secrets.token_hex(8)


class LoginSession(Base):
    """A login session (console cookie or CLI bearer token); only its SHA-256 is stored.
    `session_id` is the public handle for listing and revoking it."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user", "username"),)

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(16), unique=True, default=_public_id)
    username: Mapped[str] = mapped_column(ForeignKey("operators.username", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    source: Mapped[str] = mapped_column(String(64), default="")  # client address at login
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A named API token for scripts: its own role (at most its owner's), an expiry, only
    the SHA-256 stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "username"),)

    token_id: Mapped[str] = mapped_column(String(16), primary_key=True, default=_public_id)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(ForeignKey("operators.username", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # viewer | operator | admin
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class LoginThrottleState(Base):
    """Failed logins of one username or client address (`key`), and its lockout: in the
    database so a restart forgets nothing and several server processes share it."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # user:NAME | addr:ADDRESS
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """Who did what to which kiosk, and whether it was allowed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),
                      Index("ix_audit_target", "target", "action", "at"))  # a kiosk's configuration history

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    operator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))  # login, login_failed, command, config, ...
    target: Mapped[str] = mapped_column(String(128), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | denied | failed
    detail: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(64), default="")  # client address


# ---------------------------------------------------------------- updates: artifacts and rollouts


class KioskLabel(Base):
    """Where a kiosk belongs, for targeting rollouts: one group (e.g. a city) and free tags.

    Kept beside `kiosks` rather than in it, so operators may label a kiosk id before the
    kiosk has ever connected (labels are an operator's statement, not telemetry)."""

    __tablename__ = "kiosk_labels"

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group: Mapped[str | None] = mapped_column("group_name", String(64), index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)  # list of strings
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class Artifact(Base):
    """A signed update bundle the server accepted (signature and every file hash checked)."""

    __tablename__ = "artifacts"

    artifact_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # first 16 hex of sha256
    package: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(200))  # as stored under the artifact directory
    key_id: Mapped[str] = mapped_column(String(32))  # the trusted key whose signature checked out
    min_from_version: Mapped[str | None] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]]
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None]  # file removed; the row stays for the rollouts that used it
    deleted_by: Mapped[str | None] = mapped_column(String(64))


class Rollout(Base):
    """One staged rollout of an artifact to a fixed set of kiosks (resolved at creation)."""

    __tablename__ = "rollouts"

    rollout_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.artifact_id"))
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), index=True)  # running|waiting_approval|paused|completed|aborted|cancelled
    status_reason: Mapped[str] = mapped_column(Text, default="")
    allow_downgrade: Mapped[bool] = mapped_column(Boolean, default=False)
    target: Mapped[dict[str, Any]]  # {"kiosks": [...], "groups": [...], "tags": [...]} as asked
    policy: Mapped[dict[str, Any]]  # success_percent, max_failures, max_failure_percent, min_finished, deadline
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class RolloutStage(Base):
    """A wave of a rollout: how many kiosks, its success threshold, approval and deadline."""

    __tablename__ = "rollout_stages"

    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.rollout_id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column("stage_index", Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer)  # kiosks this stage adds
    spec: Mapped[str] = mapped_column(String(16))  # as asked: "1", "10%"
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    success_percent: Mapped[float] = mapped_column(Float)
    deadline_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(24), default="pending")  # pending|waiting_approval|running|succeeded|failed|skipped
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class RolloutKiosk(Base):
    """One kiosk of a rollout: its stage and what it last reported about this rollout."""

    __tablename__ = "rollout_kiosks"
    __table_args__ = (Index("ix_rollout_kiosks_kiosk", "kiosk_id"),)

    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.rollout_id", ondelete="CASCADE"), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)  # order within the rollout (canary first)
    state: Mapped[str] = mapped_column(String(24), default="waiting")
    reason: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[float | None] = mapped_column(Float)
    current_version: Mapped[str | None] = mapped_column(String(64))
    from_version: Mapped[str | None] = mapped_column(String(64))  # what it ran when targeted (as last known)
    targeted_at: Mapped[dt.datetime | None]  # desired published
    reported_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class ServerState(Base):
    """Small named values the server keeps between runs (e.g. the rollout engine's cursor)."""

    __tablename__ = "server_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]


# ---------------------------------------------------------------- service statistics


class ServiceDaily(Base):
    """Sessions of one service at one kiosk on one local day (`period` "day"), or in one
    month once downsampled (`period` "month", `day` = the 1st). Counts and a duration
    histogram only: rows add up exactly when merged."""

    __tablename__ = "service_daily"
    # Covering indexes: sessions per day and service (the daily chart) and the per-kiosk
    # table are read from the index alone.
    __table_args__ = (Index("ix_service_daily_day", "period", "day", "flow", "sessions"),
                      Index("ix_service_daily_kiosk", "period", "day", "kiosk_id", "sessions", "completed", "aborted"))

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64), primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    aborted: Mapped[int] = mapped_column(Integer, default=0)
    duration_n: Mapped[int] = mapped_column(Integer, default=0)
    duration_sum_s: Mapped[float] = mapped_column(Float, default=0.0)
    # The duration histogram: sessions per `fleet.server.stats.BUCKETS_S` bucket, one column
    # each so that the database sums them for any selection (median, p90 of a district).
    d00: Mapped[int] = mapped_column(Integer, default=0)
    d01: Mapped[int] = mapped_column(Integer, default=0)
    d02: Mapped[int] = mapped_column(Integer, default=0)
    d03: Mapped[int] = mapped_column(Integer, default=0)
    d04: Mapped[int] = mapped_column(Integer, default=0)
    d05: Mapped[int] = mapped_column(Integer, default=0)
    d06: Mapped[int] = mapped_column(Integer, default=0)
    d07: Mapped[int] = mapped_column(Integer, default=0)
    d08: Mapped[int] = mapped_column(Integer, default=0)
    d09: Mapped[int] = mapped_column(Integer, default=0)
    d10: Mapped[int] = mapped_column(Integer, default=0)
    d11: Mapped[int] = mapped_column(Integer, default=0)
    d12: Mapped[int] = mapped_column(Integer, default=0)
    d13: Mapped[int] = mapped_column(Integer, default=0)
    d14: Mapped[int] = mapped_column(Integer, default=0)
    d15: Mapped[int] = mapped_column(Integer, default=0)
    d16: Mapped[int] = mapped_column(Integer, default=0)
    d17: Mapped[int] = mapped_column(Integer, default=0)
    d18: Mapped[int] = mapped_column(Integer, default=0)
    d19: Mapped[int] = mapped_column(Integer, default=0)


class ServiceAbandon(Base):
    """Sessions of a service that ended unfinished at one step, for one reason (the funnel)."""

    __tablename__ = "service_abandon_daily"
    __table_args__ = (Index("ix_service_abandon_day", "period", "day", "flow"),)

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    step_no: Mapped[int] = mapped_column(Integer, default=0)  # the step's place in the flow (1 = first)
    count: Mapped[int] = mapped_column(Integer, default=0)


class DeviceFaultDaily(Base):
    """Times a kiosk's device went into `fault` on one local day (per 1,000 sessions in the console)."""

    __tablename__ = "device_fault_daily"
    __table_args__ = (Index("ix_device_fault_day", "period", "day"),)

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(32), primary_key=True)
    faults: Mapped[int] = mapped_column(Integer, default=0)


# ---------------------------------------------------------------- alert notifications


class Notification(Base):
    """One delivery (or held / suppressed one) of an alert by a notification rule.

    At most one row per (alert, rule, level, channel): that unique key is the
    de-duplication, so a restarted server or two notifier ticks never send twice."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_at", "created_at"),
                      Index("uq_notification", "alert_id", "rule", "level", "channel", unique=True))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0 first notice, 1.. escalations, -1 resolved
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # sent | failed | held | suppressed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


# ---------------------------------------------------------------- the console's kiosk list


class KioskSite(Base):
    """Where a kiosk stands, as the operators registered it: its name, hall, district and
    region (Chongqing's 一区两群). Operator data like `KioskLabel`, so a kiosk may be
    registered before it first connects; the console searches, filters and groups by it."""

    __tablename__ = "kiosk_sites"
    __table_args__ = (Index("ix_kiosk_sites_region_district", "region", "district"),
                      Index("ix_kiosk_sites_hall", "hall"))

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    hall: Mapped[str] = mapped_column(String(128), default="")
    district: Mapped[str] = mapped_column(String(64), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class SavedView(Base):
    """An operator's named search of the kiosk list (the query string of the page)."""

    __tablename__ = "saved_views"
    __table_args__ = (Index("uq_saved_view", "operator", "name", unique=True),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    operator: Mapped[str] = mapped_column(ForeignKey("operators.username", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
