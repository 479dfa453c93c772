"""Sending commands and desired configuration to kiosks.

A command is stored (status `sent`) and committed before it is published, so its result
can never arrive for a row that does not exist yet. It goes out as the protocol says
(`fleet.protocol.command_outgoing`): QoS 1 on ``kiosk/{id}/cmd/req`` with MQTT 5 Response
Topic, Correlation Data (the id) and Message Expiry Interval, so a kiosk that is offline
longer than the command's lifetime never runs it. The ingest then records `accepted` and
the final status; the sweep marks a command nobody acknowledged before it expired as
`timed_out`.

Configuration: the operator's settings are checked against `KioskSettings` (refused here
rather than by every kiosk), get the next version number, and are published retained on
``kiosk/{id}/config/desired``; the kiosk answers retained on ``config/reported``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fleet.protocol import (
    Command as CommandMessage,
    CommandName,
    ConfigDesired,
    KioskSettings,
    Outgoing,
    command_outgoing,
    outgoing,
)
from fleet.server import audit
from fleet.server.db import Database
from fleet.server.models import Command, Kiosk

MAX_TTL_S = 24 * 3600


class UnknownKiosk(LookupError):
    pass


class Dispatcher:
    """Commands and configuration, stored, audited and published."""

    def __init__(self, db: Database, publish: Callable[[Outgoing], Any]) -> None:
        self.db = db
        self._publish = publish

    def send_command(self, kiosk_id: str, name: str, args: dict[str, Any] | None, *, operator: str,
                     ttl_s: float = 300.0, source: str = "") -> Command:
        """Validate, store, audit and publish a command; the stored row."""
        ttl_s = min(max(ttl_s, 1.0), MAX_TTL_S)
        now = dt.datetime.now(dt.timezone.utc)
        message = CommandMessage(kiosk_id=kiosk_id, name=CommandName(name), args=args or {},
                                 issued_at=now, expires_at=now + dt.timedelta(seconds=ttl_s))
        with self.db.session() as session:
            if session.get(Kiosk, kiosk_id) is None:
                raise UnknownKiosk(kiosk_id)
            row = Command(command_id=str(message.id), kiosk_id=kiosk_id, name=message.name.value,
                          args=message.args, operator=operator, created_at=now, expires_at=message.expires_at,
                          status="sent")
            session.add(row)
            audit.record(session, operator, "command", kiosk_id, source=source,
                         detail={"command_id": row.command_id, "name": row.name, "args": row.args, "ttl_s": ttl_s})
        self._publish(command_outgoing(message))
        return row

    def push_config(self, kiosk_id: str, settings: dict[str, Any], *, operator: str, source: str = "") -> int:
        """Store the next desired configuration and publish it retained; its version."""
        checked = KioskSettings.model_validate(settings).model_dump(mode="json")
        with self.db.session() as session:
            kiosk = session.get(Kiosk, kiosk_id, with_for_update=True)
            if kiosk is None:
                raise UnknownKiosk(kiosk_id)
            version = max(kiosk.config_desired_version, kiosk.config_reported_version or 0) + 1
            kiosk.config_desired_version = version
            kiosk.config_desired = checked
            kiosk.config_desired_at = dt.datetime.now(dt.timezone.utc)
            audit.record(session, operator, "config", kiosk_id, source=source,
                         detail={"version": version, "settings": checked})
        self._publish(outgoing(ConfigDesired(kiosk_id=kiosk_id, version=version, settings=checked)))
        return version
