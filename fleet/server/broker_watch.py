"""What the broker's own log says about kiosks misusing their certificates → alerts.

The shipped Mosquitto config binds both username and client id to the certificate's CN
(`use_identity_as_username`, `use_username_as_clientid`) and publishes its log lines on
``$SYS/broker/log/<level>`` (`log_dest topic`). Two kinds of line matter:

- ``$SYS/broker/log/E``: "Client kiosk-b already connected, closing old connection." —
  with the client id bound to the CN, only a second holder of kiosk-b's own certificate
  can do that: the certificate is in two places (copied, or a kiosk cloned). Alert
  ``cert_takeover`` on that kiosk.
- ``$SYS/broker/log/M/subscribe``: "kiosk-b 1 kiosk/kiosk-a/cmd/req" — a kiosk asking
  for topics beyond its own inbound channels. The ACL delivers nothing, but the attempt
  is a compromised or misconfigured kiosk. Alert ``acl_violation``.

Mosquitto 2.0 logs a *denied publish* only at debug level (not enabled: it would log
every message), so a forged publish is refused (PUBACK 0x87) but not seen here; EMQX
logs and counts authorization denials (docs/fleet.md).

Each finding opens one alert per (kiosk, kind) — repeated lines update its message and
count — and goes into the audit log as `broker@<kiosk>`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.protocol import KIOSK_SUBSCRIBES, kiosk_filter
from fleet.protocol.topics import valid_kiosk_id
from fleet.server import audit
from fleet.server.db import Database
from fleet.server.models import Alert, Kiosk, utcnow

log = logging.getLogger(__name__)

LOG_TOPICS = ("$SYS/broker/log/E", "$SYS/broker/log/N", "$SYS/broker/log/M/subscribe")
_DROPPING = re.compile(r"Outgoing messages are being dropped for client (?P<client>\S+?)\.?$")
SECURITY_KINDS = frozenset({"cert_takeover", "acl_violation"})

_TAKEOVER = re.compile(r"Client (?P<client>\S+) already connected, closing old connection")
_SUBSCRIBE = re.compile(r"^(?:\d+: )?(?P<client>\S+) (?P<qos>\d+) (?P<filter>\S+)$")


@dataclass(frozen=True)
class Finding:
    kind: str  # cert_takeover | acl_violation
    kiosk_id: str
    message: str


def allowed_filters(kiosk_id: str) -> set[str]:
    return {kiosk_filter(channel, kiosk_id) for channel in KIOSK_SUBSCRIBES}


def parse(topic: str, payload: bytes) -> Finding | None:
    """A finding in one broker log line, or None (most lines are nothing to us)."""
    line = payload.decode("utf-8", "replace").strip()
    if topic.endswith("/E"):
        match = _TAKEOVER.search(line)
        if match and valid_kiosk_id(match["client"]):
            return Finding("cert_takeover", match["client"],
                           "a second connection used this kiosk's certificate and took over its session "
                           "(certificate copied or kiosk cloned?)")
    elif topic.endswith("/subscribe"):
        match = _SUBSCRIBE.match(line)
        if match and valid_kiosk_id(match["client"]):
            wanted = match["filter"]
            if wanted not in allowed_filters(match["client"]):
                return Finding("acl_violation", match["client"],
                               f"subscribed to {wanted}, outside its own topics (the ACL delivers nothing)")
    return None


def record(session: Session, finding: Finding, now: dt.datetime) -> Alert:
    """Open (or update) the finding's alert and audit it, in `session`'s transaction."""
    if session.get(Kiosk, finding.kiosk_id) is None:
        session.add(Kiosk(kiosk_id=finding.kiosk_id, first_seen=now, online=False, session=-1,
                          config_desired_version=0))
        session.flush()
    alert = session.scalar(select(Alert).where(Alert.kiosk_id == finding.kiosk_id, Alert.kind == finding.kind,
                                               Alert.cleared_at.is_(None)))
    if alert is None:
        alert = Alert(kiosk_id=finding.kiosk_id, kind=finding.kind, device="", severity="critical",
                      message=finding.message, opened_at=now)
        session.add(alert)
    else:
        alert.message = finding.message
    audit.record(session, f"broker@{finding.kiosk_id}", f"broker.{finding.kind}", finding.kiosk_id,
                 outcome="denied", detail={"message": finding.message}, source="broker")
    return alert


class BrokerWatch:
    """Feeds broker log lines (received by the server's MQTT link) into alerts."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.findings = 0
        self.drops: dict[str, int] = {}  # client id -> "messages are being dropped" lines seen

    def handle(self, topic: str, payload: bytes) -> Finding | None:
        if topic.endswith("/N"):
            match = _DROPPING.search(payload.decode("utf-8", "replace").strip())
            if match:  # the broker's queue for this client overflowed: QoS 1 messages lost
                client = match["client"]
                self.drops[client] = self.drops.get(client, 0) + 1
                log.error("broker: its queue for %s overflowed; messages to it are being dropped", client)
                if self.drops[client] == 1:
                    with self.db.session() as session:
                        audit.record(session, "broker", "broker.queue_overflow", client, outcome="failed",
                                     detail={"message": "outgoing messages are being dropped"}, source="broker")
            return None
        finding = parse(topic, payload)
        if finding is None:
            return None
        log.warning("broker: %s on %s: %s", finding.kind, finding.kiosk_id, finding.message)
        try:
            with self.db.session() as session:
                record(session, finding, utcnow())
        except Exception:
            log.exception("could not record a broker finding")
        self.findings += 1
        return finding
