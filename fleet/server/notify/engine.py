"""The notifier: which open alert needs which delivery now, then deliver it.

Every `tick_s` one pass, in three steps so no network I/O happens inside a database
transaction (SQLite would hold its write lock the whole time):

1. *plan* (one transaction): for each open alert and each rule that matches it, the
   deliveries due — the first notice once the alert has been open `min_open_s`, an
   escalation once it has been open and unacknowledged `escalate_after_s` after the
   first notice, a "resolved" notice if the rule asks. Each gets its `notifications`
   row first (unique per alert, rule, level, channel: the de-duplication, which also
   holds across restarts). An alert that reopens within `dedupe_window_s` of a notified
   one of the same kiosk/kind/device is `suppressed`; one due inside quiet hours is
   `held` and sent when they end, if still open.
2. *deliver* each planned one through its channel, outside any transaction.
3. *record* (one transaction): sent, or failed with the error (retried next tick, up to
   `max_attempts`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.server.db import Database
from fleet.server.models import Alert, Notification, utcnow
from fleet.server.notify import channels as senders
from fleet.server.notify.config import NotifyConfig, Rule

log = logging.getLogger(__name__)

RESOLVED = -1


@dataclass
class Delivery:
    notification_id: int
    channel: str
    payload: dict[str, Any]


class Notifier:
    def __init__(self, db: Database, config: NotifyConfig) -> None:
        self.db = db
        self.config = config
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # completed passes (tests wait on it)
        self._cond = threading.Condition()

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        if not self.config.rules:
            return
        self._thread = threading.Thread(target=self._run, name="fleet-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("notification pass failed")
            self._stop.wait(self.config.tick_s)

    def wait_passes(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` more passes completed (tests)."""
        with self._cond:
            target = self.passes + count
            return self._cond.wait_for(lambda: self.passes >= target, timeout)

    # ------------------------------------------------------------------ one pass
    def run_once(self, now: dt.datetime | None = None) -> list[Delivery]:
        now = now or utcnow()
        with self.db.session() as session:
            planned = self.plan(session, now)
        results = [(d, self._deliver(d)) for d in planned]
        if results:
            with self.db.session() as session:
                for delivery, error in results:
                    row = session.get(Notification, delivery.notification_id)
                    row.attempts += 1
                    row.status = "failed" if error else "sent"
                    row.error = error or ""
                    row.sent_at = None if error else now
        with self._cond:
            self.passes += 1
            self._cond.notify_all()
        return planned

    def _deliver(self, delivery: Delivery) -> str | None:
        try:
            senders.send(self.config.channels[delivery.channel], delivery.payload)
        except senders.DeliveryError as exc:
            log.warning("notification %d via %s failed: %s", delivery.notification_id, delivery.channel, exc)
            return str(exc)[:500]
        except Exception as exc:  # a sender bug must not stop the notifier
            log.exception("notification %d via %s", delivery.notification_id, delivery.channel)
            return f"{exc.__class__.__name__}: {exc}"[:500]
        return None

    def plan(self, session: Session, now: dt.datetime) -> list[Delivery]:
        if not self.config.rules:
            return []
        window = now - dt.timedelta(seconds=self.config.dedupe_window_s + max(r.min_open_s for r in self.config.rules))
        alerts = list(session.scalars(select(Alert).where(
            (Alert.cleared_at.is_(None)) | (Alert.cleared_at >= window))))
        if not alerts:
            return []
        rows = {(n.alert_id, n.rule, n.level, n.channel): n for n in session.scalars(
            select(Notification).where(Notification.alert_id.in_([a.id for a in alerts])))}
        planned: list[Delivery] = []
        for alert in alerts:
            for rule in self.config.rules:
                if rule.matches(alert.kind, alert.severity):
                    planned += self._plan_alert(session, rows, alert, rule, now)
        return planned

    def _plan_alert(self, session: Session, rows: dict, alert: Alert, rule: Rule, now: dt.datetime) -> list[Delivery]:
        out: list[Delivery] = []
        first = [rows.get((alert.id, rule.name, 0, c)) for c in rule.channels]
        notified = any(r is not None and r.status == "sent" for r in first)
        if alert.cleared_at is not None:  # only a "resolved" notice is still possible
            if rule.notify_resolved and notified:
                for channel in rule.channels:
                    out += self._due(session, rows, alert, rule, RESOLVED, channel, now, quiet_ok=True)
            return out
        if (now - alert.opened_at).total_seconds() < rule.min_open_s:
            return out
        for channel in rule.channels:
            out += self._due(session, rows, alert, rule, 0, channel, now)
        if rule.escalate_to and alert.acknowledged_at is None and notified:
            sent_at = min(r.sent_at for r in first if r is not None and r.sent_at is not None)
            if (now - sent_at).total_seconds() >= rule.escalate_after_s:
                for channel in rule.escalate_to:
                    out += self._due(session, rows, alert, rule, 1, channel, now)
        return out

    def _due(self, session: Session, rows: dict, alert: Alert, rule: Rule, level: int, channel: str,
             now: dt.datetime, quiet_ok: bool = False) -> list[Delivery]:
        key = (alert.id, rule.name, level, channel)
        row = rows.get(key)
        if row is not None and (row.status in ("sent", "suppressed") or row.attempts >= self.config.max_attempts):
            return []
        quiet = (not quiet_ok and rule.quiet_hours is not None and rule.quiet_hours.active(now)
                 and alert.severity not in rule.quiet_hours.let_through)
        if row is None:
            status = "suppressed" if level == 0 and self._flapping(session, alert, rule, now) else (
                "held" if quiet else "sending")
            row = Notification(alert_id=alert.id, kiosk_id=alert.kiosk_id, kind=alert.kind, rule=rule.name,
                               level=level, channel=channel, status=status, attempts=0, error="", created_at=now)
            session.add(row)
            session.flush()
            rows[key] = row
            if status != "sending":
                return []
        elif quiet:
            row.status = "held"
            return []
        else:
            row.status = "sending"
        return [Delivery(row.id, channel, self.payload(alert, rule, level))]

    def _flapping(self, session: Session, alert: Alert, rule: Rule, now: dt.datetime) -> bool:
        """A first notice for the same kiosk/kind/device was sent within the window."""
        if not self.config.dedupe_window_s:
            return False
        since = now - dt.timedelta(seconds=self.config.dedupe_window_s)
        query = (select(Notification.id).join(Alert, Alert.id == Notification.alert_id)
                 .where(Alert.kiosk_id == alert.kiosk_id, Alert.kind == alert.kind, Alert.device == alert.device,
                        Alert.id != alert.id, Notification.rule == rule.name, Notification.level == 0,
                        Notification.status == "sent", Notification.sent_at >= since).limit(1))
        return session.scalar(query) is not None

    def payload(self, alert: Alert, rule: Rule, level: int) -> dict[str, Any]:
        what = {0: "alert", RESOLVED: "resolved"}.get(level, f"escalation {level}")
        device = f" ({alert.device})" if alert.device else ""
        subject = f"[kiosk fleet] {what}: {alert.kiosk_id} {alert.kind}{device} — {alert.severity}"
        link = f"{self.config.console_url.rstrip('/')}/console/alerts" if self.config.console_url else ""
        text = "\n".join(line for line in (
            f"Kiosk:    {alert.kiosk_id}", f"Alert:    {alert.kind}{device}, {alert.severity}",
            f"Message:  {alert.message}", f"Opened:   {alert.opened_at.isoformat(timespec='seconds')}",
            f"Cleared:  {alert.cleared_at.isoformat(timespec='seconds')}" if alert.cleared_at else "",
            f"Rule:     {rule.name} ({what})",
            f"Acknowledge in the console: {link}" if link and level != RESOLVED else "") if line)
        return {"alert_id": alert.id, "kiosk_id": alert.kiosk_id, "kind": alert.kind, "device": alert.device,
                "severity": alert.severity, "message": alert.message, "opened_at": alert.opened_at.isoformat(),
                "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
                "acknowledged_by": alert.acknowledged_by, "rule": rule.name, "level": level,
                "escalation": level > 0, "resolved": level == RESOLVED, "subject": subject, "text": text}
