"""Read models: what the REST API returns and the console shows (one source for both).

Each is a pydantic model, so the OpenAPI document describes the API exactly.
A kiosk's `status` folds presence and heartbeats into one word: `online`, `silent`
(connected by the broker's account but missed heartbeats) or `offline`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.server import alerts as alert_rules
from fleet.server.models import Alert, AuditEntry, Command, Event, HealthSample, Kiosk, KioskLabel


class DeviceView(BaseModel):
    kind: str
    state: str
    reason: str = ""
    message: str = ""
    consumables: dict[str, str] = {}


class KioskSummary(BaseModel):
    kiosk_id: str
    status: str  # online | silent | offline
    last_seen: dt.datetime | None
    app_version: str | None
    out_of_service: bool = False
    session_active: bool = False
    devices: list[DeviceView] = []
    open_alerts: int = 0
    worst_alert: str | None = None  # critical | warning
    cpu_percent: float | None = None
    memory_percent: float | None = None
    disk_percent: float | None = None
    temperature_c: float | None = None
    config_state: str = "none"  # none | pending | applied | rejected
    group: str | None = None  # operator labels, for targeting rollouts
    tags: list[str] = []


class AlertView(BaseModel):
    id: int
    kiosk_id: str
    kind: str
    device: str
    severity: str
    message: str
    opened_at: dt.datetime
    cleared_at: dt.datetime | None
    acknowledged_by: str | None


class CommandView(BaseModel):
    command_id: str
    kiosk_id: str
    name: str
    args: dict[str, Any]
    operator: str
    created_at: dt.datetime
    expires_at: dt.datetime
    status: str
    result_at: dt.datetime | None
    result: dict[str, Any] | None


class EventView(BaseModel):
    kiosk_id: str
    received_at: dt.datetime
    kind: str
    severity: str
    payload: dict[str, Any]


class ConfigView(BaseModel):
    desired_version: int
    desired: dict[str, Any] | None
    desired_at: dt.datetime | None
    reported_version: int | None
    reported: dict[str, Any] | None
    reported_at: dt.datetime | None
    state: str  # none | pending | applied | rejected


class HealthPoint(BaseModel):
    at: dt.datetime
    cpu_percent: float | None
    memory_percent: float | None
    disk_percent: float | None
    temperature_c: float | None
    devices_ok: int | None
    devices_total: int | None


class KioskDetail(KioskSummary):
    session: int
    first_seen: dt.datetime
    presence_changed: dt.datetime | None
    heartbeat_s: float | None
    health: dict[str, Any] | None
    alerts: list[AlertView]
    commands: list[CommandView]
    events: list[EventView]
    config: ConfigView


class AuditView(BaseModel):
    id: int
    at: dt.datetime
    operator: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]
    source: str


def _percent(used: float, total: float) -> float | None:
    return round(100.0 * used / total, 2) if total > 0 else None


def health_figures(health: dict[str, Any]) -> dict[str, float | int | None]:
    """The numbers the console charts, from one health message (as JSON)."""
    system = health.get("system") or {}
    cpus = system.get("cpu_count") or 0
    devices = health.get("devices") or []
    return {
        "cpu_percent": _percent(system.get("load_1m") or 0.0, cpus) if cpus else None,
        "memory_percent": _percent((system.get("memory_total_bytes") or 0) - (system.get("memory_available_bytes") or 0),
                                   system.get("memory_total_bytes") or 0),
        "disk_percent": _percent((system.get("disk_total_bytes") or 0) - (system.get("disk_free_bytes") or 0),
                                 system.get("disk_total_bytes") or 0),
        "temperature_c": system.get("temperature_c"),
        "devices_ok": sum(1 for d in devices if d.get("state") in ("ready", "busy")),
        "devices_total": len(devices),
    }


def config_state(kiosk: Kiosk) -> str:
    if not kiosk.config_desired_version:
        return "none"
    reported = kiosk.config_reported or {}
    if kiosk.config_reported_version != kiosk.config_desired_version:
        return "pending"
    return "applied" if reported.get("status") == "applied" else "rejected"


def kiosk_status(kiosk: Kiosk, now: dt.datetime, default_heartbeat_s: float, missed: int) -> str:
    if not kiosk.online:
        return "offline"
    return "silent" if alert_rules.silent_too_long(kiosk, now, default_heartbeat_s, missed) else "online"


def _summary_fields(kiosk: Kiosk, open_alerts: list[Alert], now: dt.datetime, heartbeat_s: float, missed: int,
                    label: KioskLabel | None = None) -> dict:
    health = kiosk.health or {}
    system = health.get("system") or {}
    figures = health_figures(health) if health else {}
    severities = {a.severity for a in open_alerts}
    return dict(
        kiosk_id=kiosk.kiosk_id,
        status=kiosk_status(kiosk, now, heartbeat_s, missed),
        last_seen=kiosk.last_seen,
        app_version=kiosk.app_version,
        out_of_service=bool(health.get("out_of_service")),
        session_active=bool(health.get("session_active")),
        devices=[DeviceView(**{k: d.get(k) for k in ("kind", "state", "reason", "message", "consumables") if d.get(k) is not None})
                 for d in health.get("devices", [])],
        open_alerts=len(open_alerts),
        worst_alert="critical" if "critical" in severities else ("warning" if severities else None),
        cpu_percent=figures.get("cpu_percent"),
        memory_percent=figures.get("memory_percent"),
        disk_percent=figures.get("disk_percent"),
        temperature_c=system.get("temperature_c"),
        config_state=config_state(kiosk),
        group=label.group if label else None,
        tags=list(label.tags or []) if label else [],
    )


def _open_alerts_by_kiosk(session: Session, kiosk_id: str | None = None) -> dict[str, list[Alert]]:
    query = select(Alert).where(Alert.cleared_at.is_(None))
    if kiosk_id is not None:
        query = query.where(Alert.kiosk_id == kiosk_id)
    grouped: dict[str, list[Alert]] = {}
    for alert in session.scalars(query.order_by(Alert.opened_at.desc())):
        grouped.setdefault(alert.kiosk_id, []).append(alert)
    return grouped


def kiosk_list(session: Session, heartbeat_s: float, missed: int) -> list[KioskSummary]:
    now = dt.datetime.now(dt.timezone.utc)
    open_alerts = _open_alerts_by_kiosk(session)
    labels = {label.kiosk_id: label for label in session.scalars(select(KioskLabel))}
    return [KioskSummary(**_summary_fields(k, open_alerts.get(k.kiosk_id, []), now, heartbeat_s, missed,
                                           labels.get(k.kiosk_id)))
            for k in session.scalars(select(Kiosk).order_by(Kiosk.kiosk_id))]


def kiosk_detail(session: Session, kiosk_id: str, heartbeat_s: float, missed: int, *, recent: int = 20) -> KioskDetail | None:
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is None:
        return None
    now = dt.datetime.now(dt.timezone.utc)
    open_alerts = _open_alerts_by_kiosk(session, kiosk_id).get(kiosk_id, [])
    recent_alerts = list(session.scalars(
        select(Alert).where(Alert.kiosk_id == kiosk_id).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(recent)))
    commands = command_list(session, kiosk_id, limit=recent)
    events = list(session.scalars(
        select(Event).where(Event.kiosk_id == kiosk_id).order_by(Event.received_at.desc(), Event.id.desc()).limit(recent)))
    return KioskDetail(
        **_summary_fields(kiosk, open_alerts, now, heartbeat_s, missed, session.get(KioskLabel, kiosk_id)),
        session=kiosk.session, first_seen=kiosk.first_seen, presence_changed=kiosk.presence_changed,
        heartbeat_s=kiosk.heartbeat_s, health=kiosk.health,
        alerts=[AlertView.model_validate(a, from_attributes=True) for a in recent_alerts],
        commands=commands,
        events=[EventView.model_validate(e, from_attributes=True) for e in events],
        config=config_view(kiosk),
    )


def config_view(kiosk: Kiosk) -> ConfigView:
    return ConfigView(desired_version=kiosk.config_desired_version, desired=kiosk.config_desired,
                      desired_at=kiosk.config_desired_at, reported_version=kiosk.config_reported_version,
                      reported=kiosk.config_reported, reported_at=kiosk.config_reported_at, state=config_state(kiosk))


def command_list(session: Session, kiosk_id: str | None = None, limit: int = 50) -> list[CommandView]:
    query = select(Command).order_by(Command.created_at.desc()).limit(limit)
    if kiosk_id is not None:
        query = query.where(Command.kiosk_id == kiosk_id)
    return [CommandView.model_validate(c, from_attributes=True) for c in session.scalars(query)]


def command_view(session: Session, command_id: str) -> CommandView | None:
    command = session.get(Command, command_id)
    return CommandView.model_validate(command, from_attributes=True) if command else None


def health_history(session: Session, kiosk_id: str, limit: int = 200) -> list[HealthPoint]:
    rows = list(session.scalars(
        select(HealthSample).where(HealthSample.kiosk_id == kiosk_id)
        .order_by(HealthSample.received_at.desc(), HealthSample.id.desc()).limit(limit)))
    rows.reverse()
    return [HealthPoint(at=r.received_at, cpu_percent=r.cpu_percent, memory_percent=r.memory_percent,
                        disk_percent=r.disk_percent, temperature_c=r.temperature_c, devices_ok=r.devices_ok,
                        devices_total=r.devices_total) for r in rows]


def alert_list(session: Session, *, open_only: bool = True, kiosk_id: str | None = None, limit: int = 200) -> list[AlertView]:
    query = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
    if open_only:
        query = query.where(Alert.cleared_at.is_(None))
    if kiosk_id is not None:
        query = query.where(Alert.kiosk_id == kiosk_id)
    return [AlertView.model_validate(a, from_attributes=True) for a in session.scalars(query)]


def event_list(session: Session, kiosk_id: str, limit: int = 100) -> list[EventView]:
    query = (select(Event).where(Event.kiosk_id == kiosk_id)
             .order_by(Event.received_at.desc(), Event.id.desc()).limit(limit))
    return [EventView.model_validate(e, from_attributes=True) for e in session.scalars(query)]


def audit_list(session: Session, limit: int = 200, operator: str | None = None) -> list[AuditView]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if operator:
        query = query.where(AuditEntry.operator == operator)
    return [AuditView.model_validate(a, from_attributes=True) for a in session.scalars(query)]

