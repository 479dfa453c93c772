"""Alerts: conditions that need an operator, opened and cleared by the data itself.

Like Kiosk Pro RMS and KioWare (shared/reference/fleet.md §5) alerts clear themselves
when the condition goes away; an operator may acknowledge one meanwhile. One alert is
open at most per (kiosk, kind, device).

- offline: the kiosk said goodbye (its will, or a clean stop), or sent nothing for
  `missed` heartbeat intervals (the interval the kiosk announced in its health, else the
  server's default). Clears on the next message from the kiosk.
- device_fault: a device reports state fault or absent.
- paper_low / paper_out: the printer's paper consumable is near_end / out.
- app_unreachable: the agent cannot reach the kiosk app.
- clock_skew: the kiosk's clock (health `ts`) is more than 5 minutes off the server's at
  receipt; clears when it is back in step.
- disk_full: the kiosk took itself out of service because its state disk is full
  (kiosk/disk_guard.py); clears when it is back in service.
- paper_hold: an invoice terminal (or kiosk) stopped printing invoices — the tax core's,
  the invoice system's and the paper's numbers disagree, or a print was cut short — until
  staff resolve it on site. Opened and cleared by the kiosk's events, not by health.
- submission_queue_age: the oldest submission in the kiosk's queue for the back office
  has waited longer than `queue_age_alert_s`.
- submission_parked: the back office refused a queued submission for good (4xx); it waits
  on the kiosk's diagnostics screen for staff (docs/offline.md).
- update_failed: an update ended failed or rolled back (ingest); clears when a later
  update of that kiosk commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.protocol import DeviceState, Health
from fleet.server.models import Alert, Kiosk

HEALTH_KINDS = frozenset({"device_fault", "paper_low", "paper_out", "app_unreachable", "submission_queue_age",
                          "submission_parked", "disk_full", "clock_skew"})
QUEUE_AGE_ALERT_S = 3600.0
CLOCK_SKEW_ALERT_S = 300.0


@dataclass(frozen=True)
class Condition:
    kind: str
    device: str
    severity: str
    message: str


def clock_skew_s(health: Health, received_at: dt.datetime) -> float:
    """The kiosk's clock minus the server's, from a health message (published live, never
    buffered, so broker latency is the only error)."""
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=dt.timezone.utc)
    return (health.ts - received).total_seconds()


def health_conditions(health: Health, queue_age_alert_s: float = QUEUE_AGE_ALERT_S,
                      received_at: dt.datetime | None = None) -> list[Condition]:
    """What in one health message deserves an alert."""
    found: list[Condition] = []
    if received_at is not None and abs(skew := clock_skew_s(health, received_at)) > CLOCK_SKEW_ALERT_S:
        found.append(Condition("clock_skew", "", "warning",
                               f"the kiosk's clock is {skew:+.0f} s off the server's (no RTC battery, or NTP "
                               "unreachable): TLS certificates and receipts' times may be refused or wrong"))
    if health.submission_queue_depth and health.submission_queue_oldest_s > queue_age_alert_s:
        found.append(Condition("submission_queue_age", "", "warning",
                               f"{health.submission_queue_depth} submission(s) waiting for the back office, "
                               f"oldest {health.submission_queue_oldest_s / 60:.0f} min"))
    if health.submission_parked:
        found.append(Condition("submission_parked", "", "warning",
                               f"{health.submission_parked} submission(s) refused by the back office, parked"))
    if not health.app_reachable:
        found.append(Condition("app_unreachable", "", "critical", "the agent cannot reach the kiosk app"))
    if health.out_of_service and health.out_of_service_reason == "disk_full":
        free = health.system.disk_free_bytes
        found.append(Condition("disk_full", "", "critical", "state disk full: the kiosk takes no new sessions"
                               + (f" ({free >> 20} MiB free)" if free else "")))
    for device in health.devices:
        if device.state in (DeviceState.FAULT, DeviceState.ABSENT):
            why = device.reason or device.message or device.state.value
            found.append(Condition("device_fault", device.kind.value, "critical", f"{device.kind.value} {device.state.value}: {why}"))
        paper = device.consumables.get("paper")
        if paper == "near_end":
            found.append(Condition("paper_low", device.kind.value, "warning", f"{device.kind.value}: paper near end"))
        elif paper == "out":
            found.append(Condition("paper_out", device.kind.value, "critical", f"{device.kind.value}: paper out"))
    return found


def open_alerts(session: Session, kiosk_id: str, kinds: frozenset[str] | set[str] | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.kiosk_id == kiosk_id, Alert.cleared_at.is_(None))
    if kinds is not None:
        query = query.where(Alert.kind.in_(kinds))
    return list(session.scalars(query))


def sync_health_alerts(session: Session, current: list[Alert], kiosk_id: str, conditions: list[Condition],
                       now: dt.datetime) -> None:
    """Open the alerts `conditions` call for, clear the health alerts they no longer do.
    `current`: the kiosk's open alerts (kept up to date with what is opened here)."""
    wanted = {(c.kind, c.device): c for c in conditions}
    for alert in current:
        if alert.kind not in HEALTH_KINDS or alert.cleared_at is not None:
            continue
        condition = wanted.pop((alert.kind, alert.device), None)
        if condition is None:
            alert.cleared_at = now
        elif condition.message != alert.message:
            alert.message = condition.message
    for c in wanted.values():
        alert = Alert(kiosk_id=kiosk_id, kind=c.kind, device=c.device, severity=c.severity, message=c.message,
                      opened_at=now)
        session.add(alert)
        current.append(alert)


def open_offline(session: Session, current: list[Alert], kiosk_id: str, message: str, now: dt.datetime, *,
                 explains: bool = False) -> None:
    """Open the kiosk's offline alert unless one is open; `explains`: a better reason for
    an open one (a will that arrives after the heartbeats were already missed)."""
    offline = [a for a in current if a.kind == "offline" and a.cleared_at is None]
    if not offline:
        alert = Alert(kiosk_id=kiosk_id, kind="offline", device="", severity="critical", message=message, opened_at=now)
        session.add(alert)
        current.append(alert)
    elif explains:
        offline[0].message = message


def sync_update_alert(session: Session, current: list[Alert], kiosk_id: str, state: str, message: str,
                      now: dt.datetime) -> None:
    """Open `update_failed` on a failed / rolled-back update, clear it on a commit."""
    open_ = [a for a in current if a.kind == "update_failed" and a.cleared_at is None]
    if state in ("failed", "rolled_back"):
        if open_:
            open_[0].message = message
        else:
            alert = Alert(kiosk_id=kiosk_id, kind="update_failed", device="", severity="critical", message=message,
                          opened_at=now)
            session.add(alert)
            current.append(alert)
    elif state == "committed":
        for alert in open_:
            alert.cleared_at = now


def clear_offline(current: list[Alert], now: dt.datetime) -> None:
    for alert in current:
        if alert.kind == "offline" and alert.cleared_at is None:
            alert.cleared_at = now


def heartbeat_interval(kiosk: Kiosk, default_s: float) -> float:
    return kiosk.heartbeat_s if kiosk.heartbeat_s and kiosk.heartbeat_s > 0 else default_s


def silent_too_long(kiosk: Kiosk, now: dt.datetime, default_heartbeat_s: float, missed: int) -> bool:
    """True when a kiosk that claims to be online missed `missed` heartbeats."""
    if not kiosk.online or kiosk.last_seen is None:
        return False
    return (now - kiosk.last_seen).total_seconds() > missed * heartbeat_interval(kiosk, default_heartbeat_s)


def sweep_offline(session: Session, now: dt.datetime, default_heartbeat_s: float, missed: int) -> list[str]:
    """Open an offline alert for every online kiosk that went silent; their ids."""
    silent = []
    for kiosk in session.scalars(select(Kiosk).where(Kiosk.online.is_(True))):
        if silent_too_long(kiosk, now, default_heartbeat_s, missed):
            interval = heartbeat_interval(kiosk, default_heartbeat_s)
            open_offline(session, open_alerts(session, kiosk.kiosk_id, {"offline"}), kiosk.kiosk_id,
                         f"no heartbeat for {missed} intervals of {interval:g} s", now)
            silent.append(kiosk.kiosk_id)
    return silent


EVENT_ALERTS = frozenset({"paper_hold"})


def open_event_alert(session: Session, current: list[Alert], kiosk_id: str, kind: str, device: str, message: str,
                     now: dt.datetime) -> None:
    """An alert an event opens (one per kiosk, kind and device; a newer event updates the message)."""
    for alert in current:
        if alert.kind == kind and alert.device == device and alert.cleared_at is None:
            alert.message = message
            return
    alert = Alert(kiosk_id=kiosk_id, kind=kind, device=device, severity="critical", message=message, opened_at=now)
    session.add(alert)
    current.append(alert)


def clear_event_alert(current: list[Alert], kind: str, device: str, now: dt.datetime) -> None:
    for alert in current:
        if alert.kind == kind and alert.device == device and alert.cleared_at is None:
            alert.cleared_at = now
