"""The audit log: every operator action, allowed or not, in the same transaction as the
action itself (so an action that happened is never missing from the log)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fleet.server.models import AuditEntry, utcnow


def record(session: Session, operator: str, action: str, target: str = "", *, outcome: str = "ok",
           detail: dict[str, Any] | None = None, source: str = "") -> None:
    session.add(AuditEntry(at=utcnow(), operator=operator[:64], action=action, target=target[:128],
                           outcome=outcome, detail=detail or {}, source=source[:64]))
