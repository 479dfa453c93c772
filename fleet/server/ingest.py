"""Ingest: what kiosks publish, into the database — in batches, acknowledged after commit.

paho's network thread only puts each message on a queue. One writer thread takes what
has gathered (up to `batch_size`), applies it all in one transaction and then
acknowledges the QoS 1 messages, so throughput is one commit per batch rather than per
message, and nothing is acknowledged that is not stored. The same thread runs the
periodic sweeps (silent kiosks, commands nobody answered) when it is idle, so the
server has a single writer of ingest data.

Per channel:
- status (Presence): the session-counter rule — an offline whose session is lower than
  the latest online's is a late will and ignored, as is any presence older than the
  latest session; a clean offline or a will opens an offline alert.
- health: latest health on the kiosk row, one health_samples row, alert conditions.
- events: stored once per event id (QoS 1 and the agent's outbox may repeat them).
- cmd/res: the command's status and result (the command must belong to that kiosk).
- config/reported: the reported state beside the desired one.
- update/reported: kept as an event (rollouts read it).
Anything undecodable is logged (topic and error only) and acknowledged, so one bad
message cannot block the queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from fleet.protocol import (
    Channel,
    CommandResult,
    ConfigReported,
    Event as EventMessage,
    Health,
    KioskMessage,
    Presence,
    UpdateReported,
    correlation_id,
    decode_kiosk_publish,
)
from fleet.protocol.messages import EventKind
from fleet.server import alerts, audit, fast_ingest
from fleet.server.fastdecode import decode_fast
from fleet.server.db import Database
from fleet.server.models import Alert, Command, Event, Kiosk
from fleet.server.mqtt import Inbound
from fleet.server.views import health_figures

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"succeeded", "failed", "refused", "expired"})
LINGER_POLL_S = 0.02  # how often a lingering batch looks whether it is full
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def _transient(exc: DBAPIError) -> bool:
    """A database error that retrying the transaction may not meet again."""
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES or "database is locked" in str(exc.orig)


class Ingest:
    """The writer thread and what it does with each message."""

    def __init__(self, db: Database, ack: Callable[[list[Inbound]], None], *, default_heartbeat_s: float = 30.0,
                 missed_heartbeats: int = 3, sweep_every_s: float = 1.0, batch_size: int = 500,
                 queue_age_alert_s: float = alerts.QUEUE_AGE_ALERT_S, sweeps: bool = True,
                 linger_s: float = 0.0) -> None:
        self.sweeps = sweeps  # ingest workers leave the sweeps to the main server
        self.linger_s = linger_s  # wait this long for more messages after the first of a batch
        self.queue_age_alert_s = queue_age_alert_s
        self.bulk_health = True  # routine health of known kiosks via fast_ingest (no ORM)
        fast_ingest.prepare(db.engine)
        self.db = db
        self._ack = ack
        self.default_heartbeat_s = default_heartbeat_s
        self.missed_heartbeats = missed_heartbeats
        self.sweep_every_s = sweep_every_s
        self.batch_size = batch_size
        self._queue: queue.Queue[Inbound | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.stored = 0  # messages handled so far, committed or rejected (bench, tests)
        self.batches = 0
        self.cpu_s = self.decode_cpu_s = 0.0  # the writer thread's CPU time in batches, and decoding's share
        self.rejected = 0

    # ------------------------------------------------------------------ threading
    def submit(self, message: Inbound) -> None:
        self._queue.put(message)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fleet-ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        next_sweep = time.monotonic()
        while True:
            wait = max(0.0, next_sweep - time.monotonic())
            try:
                first = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                first = ...
            batch: list[Inbound] = []
            stop = first is None
            if isinstance(first, Inbound):
                batch.append(first)
                self._linger()
                while len(batch) < self.batch_size:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
            if batch:
                self._write(batch)
            if time.monotonic() >= next_sweep:
                if self.sweeps:
                    self._sweep()
                next_sweep = time.monotonic() + self.sweep_every_s
            if stop and self._stopping:
                return

    def _linger(self) -> None:
        """Let a batch gather for up to `linger_s`, unless a whole batch is already waiting.

        It sleeps in steps of LINGER_POLL_S rather than waiting on the queue for each
        message: at a few hundred messages a second a wake-up per message (the
        network thread's notify, this thread's wait) cost more CPU than the message."""
        deadline = time.monotonic() + self.linger_s
        while self._queue.qsize() < self.batch_size - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, LINGER_POLL_S))

    def _write(self, batch: list[Inbound]) -> None:
        cpu = time.thread_time()
        decoded = [d for d in (self._decode(m) for m in batch) if d is not None]
        self.decode_cpu_s += time.thread_time() - cpu
        try:
            self._store(decoded)
        except Exception:
            log.exception("ingest batch of %d failed; storing one by one", len(batch))
            for item in decoded:
                try:
                    self._store([item])
                except Exception:
                    log.exception("dropping a message on %s that cannot be stored", item.message.topic)
                    self.rejected += 1
        self._ack(batch)
        self.stored += len(batch)
        self.batches += 1
        self.cpu_s += time.thread_time() - cpu

    def _store(self, items: list[Decoded], attempts: int = 3) -> None:
        """One transaction; again (up to `attempts`) if the database says it may succeed
        if retried — a deadlock or serialization failure between workers, a locked SQLite."""
        for attempt in range(1, attempts + 1):
            try:
                with self.db.session() as session:
                    self.apply(session, items)
                return
            except DBAPIError as exc:
                if attempt == attempts or not _transient(exc):
                    raise
                log.warning("ingest batch of %d: %s; trying again", len(items), str(exc.orig).splitlines()[0])

    def _sweep(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        try:
            with self.db.session() as session:
                alerts.sweep_offline(session, now, self.default_heartbeat_s, self.missed_heartbeats)
                for command in session.scalars(
                    select(Command).where(Command.status == "sent", Command.expires_at < now)
                ):
                    command.status = "timed_out"
                    command.result_at = now
        except Exception:
            log.exception("sweep failed")

    # ------------------------------------------------------------------ applying
    def _decode(self, message: Inbound) -> Decoded | None:
        if not message.payload:
            return None  # a cleared retained topic
        bulk = message.topic.endswith("/health")  # the bulk of the traffic: one scan, no ORM
        try:
            if bulk:
                kiosk_id, channel, msg = decode_fast(message.topic, message.payload)
            else:
                kiosk_id, channel, msg = decode_kiosk_publish(message.topic, message.payload)
        except (ValueError, ValidationError) as exc:
            self.rejected += 1
            log.warning("rejected a message on %s: %s", message.topic, str(exc).splitlines()[0])
            return None
        return Decoded(message, kiosk_id, channel, msg, bulk)

    def apply(self, session: Session, items: list[Decoded]) -> None:
        """Apply decoded messages, in order, inside `session`'s transaction.

        Rows the batch touches are loaded with one query per table, changes are made in
        memory (no autoflush), health samples go in as one multi-row insert, and alerts
        are reconciled once per kiosk against its latest health."""
        if not items:
            return
        fast, items = fast_ingest.split(session, items, self.queue_age_alert_s) if self.bulk_health else ([], items)
        if items:
            self._apply_orm(session, items)
        fast_ingest.apply(session, fast)

    def _apply_orm(self, session: Session, items: list[Decoded]) -> None:
        with session.no_autoflush:
            batch = Batch(session, {item.kiosk_id for item in items}, self.queue_age_alert_s,
                          event_ids={str(item.msg.id) for item in items if item.channel is Channel.EVENTS})
            for item in items:
                kiosk = batch.kiosk(item.kiosk_id, item.message.received_at)
                self._handlers[item.channel](self, batch, kiosk, item.msg, item.message)
            batch.finish()

    def _seen(self, batch: Batch, kiosk: Kiosk, at: dt.datetime) -> None:
        """Any message but a goodbye is a sign of life."""
        if kiosk.last_seen is None or at > kiosk.last_seen:
            kiosk.last_seen = at
        if kiosk.online:
            alerts.clear_offline(batch.open_alerts(kiosk.kiosk_id), at)

    def _presence(self, batch: Batch, kiosk: Kiosk, msg: Presence, message: Inbound) -> None:
        at = message.received_at
        if msg.session < kiosk.session:
            log.info("%s: ignored presence of old session %d (latest %d)", kiosk.kiosk_id, msg.session, kiosk.session)
            return
        if msg.session == kiosk.session and msg.online and not kiosk.online:
            return  # a birth replayed after its own will: the will stands
        if msg.online:
            kiosk.session = msg.session
            kiosk.online = True
            kiosk.presence_changed = at
            kiosk.app_version = msg.app_version or kiosk.app_version
            self._seen(batch, kiosk, at)
        else:
            kiosk.session = msg.session
            if kiosk.online or kiosk.presence_changed is None:
                kiosk.presence_changed = at
            kiosk.online = False
            why = "it disconnected unexpectedly (last will)" if msg.reason == "will" else f"it went offline ({msg.reason or 'no reason'})"
            alerts.open_offline(batch.session, batch.open_alerts(kiosk.kiosk_id), kiosk.kiosk_id, why, at, explains=True)

    def _health(self, batch: Batch, kiosk: Kiosk, msg: Health, message: Inbound) -> None:
        at = message.received_at
        sent = fast_ingest.sent_at(msg)
        payload = msg.model_dump(mode="json")
        if kiosk.last_health_sent_at is None or sent >= kiosk.last_health_sent_at:  # the kiosk's newest
            kiosk.health = payload
            kiosk.last_health_at = at
            kiosk.last_health_sent_at = sent
            kiosk.app_version = msg.app_version or kiosk.app_version
            if msg.heartbeat_s:
                kiosk.heartbeat_s = msg.heartbeat_s
            batch.latest_health[kiosk.kiosk_id] = (msg, at)
        batch.samples.setdefault((kiosk.kiosk_id, sent), dict(kiosk_id=kiosk.kiosk_id, received_at=at, sent_at=sent,
                                                              payload=payload, **health_figures(payload)))
        self._seen(batch, kiosk, at)

    def _event(self, batch: Batch, kiosk: Kiosk, msg: EventMessage, message: Inbound) -> None:
        event_id = str(msg.id)
        if batch.new_event(event_id):
            batch.session.add(Event(kiosk_id=kiosk.kiosk_id, event_id=event_id, received_at=message.received_at,
                                    kind=msg.kind.value, severity=_event_severity(msg), payload=msg.model_dump(mode="json")))
            if msg.kind in AUDITED_EVENT_KINDS:
                _audit_kiosk_action(batch.session, kiosk.kiosk_id, msg)
            _event_alert(batch, kiosk.kiosk_id, msg, message.received_at)
        self._seen(batch, kiosk, message.received_at)

    def _command_result(self, batch: Batch, kiosk: Kiosk, msg: CommandResult, message: Inbound) -> None:
        command_id = correlation_id(message.decoded_properties()) or msg.id
        if command_id != msg.id:
            log.warning("%s: result correlation data does not match its id; using the id", kiosk.kiosk_id)
            command_id = msg.id
        command = batch.session.get(Command, str(command_id))
        if command is None or command.kiosk_id != kiosk.kiosk_id:
            log.warning("%s: result for a command it was not sent", kiosk.kiosk_id)
        elif not (command.status in FINAL_STATUSES and msg.status.value == "accepted"):
            command.status = msg.status.value
            command.result_at = message.received_at
            command.result = msg.model_dump(mode="json", exclude={"kiosk_id", "v"})
        self._seen(batch, kiosk, message.received_at)

    def _config_reported(self, batch: Batch, kiosk: Kiosk, msg: ConfigReported, message: Inbound) -> None:
        if kiosk.config_reported_version is None or msg.version >= kiosk.config_reported_version:
            kiosk.config_reported_version = msg.version
            kiosk.config_reported = msg.model_dump(mode="json", exclude={"kiosk_id", "v"})
            kiosk.config_reported_at = message.received_at
        if not message.retain:
            self._seen(batch, kiosk, message.received_at)

    def _update_reported(self, batch: Batch, kiosk: Kiosk, msg: UpdateReported, message: Inbound) -> None:
        batch.session.add(Event(kiosk_id=kiosk.kiosk_id, event_id=None, received_at=message.received_at,
                                kind="update_reported", severity="info", payload=msg.model_dump(mode="json")))
        why = f": {msg.reason}" if msg.reason else ""
        alerts.sync_update_alert(batch.session, batch.open_alerts(kiosk.kiosk_id), kiosk.kiosk_id, msg.state.value,
                                 f"update to {msg.version or '?'} {msg.state.value.replace('_', ' ')}{why}",
                                 message.received_at)
        self._seen(batch, kiosk, message.received_at)

    def _ignore(self, batch: Batch, kiosk: Kiosk, msg: KioskMessage, message: Inbound) -> None:
        """Server-to-kiosk channels we do not subscribe to; nothing to do."""

    _handlers: dict[Channel, Callable] = {
        Channel.STATUS: _presence,
        Channel.HEALTH: _health,
        Channel.EVENTS: _event,
        Channel.CMD_RES: _command_result,
        Channel.CONFIG_REPORTED: _config_reported,
        Channel.UPDATE_REPORTED: _update_reported,
        Channel.CMD_REQ: _ignore,
        Channel.CONFIG_DESIRED: _ignore,
        Channel.UPDATE_DESIRED: _ignore,
    }


@dataclass
class Decoded:
    message: Inbound
    kiosk_id: str
    channel: Channel
    msg: KioskMessage
    bulk: bool = False  # decoded by fastdecode: may take the bulk health path (fast_ingest)
    _raw: dict | None = field(default=None, repr=False)

    @property
    def raw(self) -> dict:
        """The payload as parsed JSON, parsed when first asked for (the bulk path needs it
        only for a kiosk's latest health, and on SQLite)."""
        if self._raw is None:
            self._raw = orjson.loads(self.message.payload)
        return self._raw


class Batch:
    """What one transaction of ingest works on: the kiosks and open alerts it touches
    (loaded with one query each), health samples to insert, latest health per kiosk."""

    def __init__(self, session: Session, kiosk_ids: set[str], queue_age_alert_s: float = alerts.QUEUE_AGE_ALERT_S,
                 event_ids: set[str] = frozenset()) -> None:
        self.session = session
        self.queue_age_alert_s = queue_age_alert_s
        self.bulk_health = True  # routine health of known kiosks via fast_ingest (no ORM)
        ids = sorted(kiosk_ids)
        self.kiosks = {k.kiosk_id: k for k in session.scalars(select(Kiosk).where(Kiosk.kiosk_id.in_(ids)))}
        self._open_alerts: dict[str, list[Alert]] = {kiosk_id: [] for kiosk_id in ids}
        for alert in session.scalars(select(Alert).where(Alert.kiosk_id.in_(ids), Alert.cleared_at.is_(None))):
            self._open_alerts[alert.kiosk_id].append(alert)
        self.samples: dict[tuple[str, dt.datetime], dict] = {}  # one per kiosk and sent_at
        self.latest_health: dict[str, tuple[Health, dt.datetime]] = {}
        # event ids of the batch already stored: one query, not one per event
        self._prefetched = bool(event_ids)
        self._event_ids: set[str] = set(session.scalars(select(Event.event_id).where(
            Event.event_id.in_(sorted(event_ids))))) if event_ids else set()

    def kiosk(self, kiosk_id: str, at: dt.datetime) -> Kiosk:
        kiosk = self.kiosks.get(kiosk_id)
        if kiosk is None:
            kiosk = Kiosk(kiosk_id=kiosk_id, first_seen=at, online=False, session=-1, config_desired_version=0)
            self.session.add(kiosk)
            self.session.flush()  # now: rows that refer to it (alerts, samples) may be flushed before it
            self.kiosks[kiosk_id] = kiosk
        return kiosk

    def open_alerts(self, kiosk_id: str) -> list[Alert]:
        return self._open_alerts[kiosk_id]

    def new_event(self, event_id: str) -> bool:
        """False for an event id already stored or already seen in this batch."""
        if event_id in self._event_ids:
            return False
        if self._prefetched is False and self.session.scalar(select(Event.id).where(Event.event_id == event_id)) is not None:
            return False  # an event the batch did not announce (not from `_apply_orm`): look it up
        self._event_ids.add(event_id)
        return True

    def finish(self) -> None:
        for kiosk_id, (health, at) in self.latest_health.items():
            alerts.sync_health_alerts(self.session, self.open_alerts(kiosk_id), kiosk_id, alerts.health_conditions(health, self.queue_age_alert_s, at), at)
        self.session.flush()  # kiosks first: samples refer to them
        if self.samples:
            fast_ingest.insert_samples_once(self.session, list(self.samples.values()))


# What maintenance staff do at a kiosk belongs in the same audit log as operators' actions.
AUDITED_EVENT_KINDS = frozenset({EventKind.STAFF_ACTION, EventKind.OUT_OF_SERVICE_CHANGED})


def _audit_kiosk_action(session, kiosk_id: str, msg: EventMessage) -> None:
    """File a staff action reported by a kiosk as `staff@<kiosk>` in the audit log."""
    action = msg.action or msg.kind.value
    detail = {k: str(v) for k, v in {"event_id": msg.id, "kind": msg.kind.value, "device": msg.device,
                                     "reason": msg.reason, "detail": msg.detail}.items() if v}
    audit.record(session, f"staff@{kiosk_id}", f"kiosk.{action}"[:64], kiosk_id,
                 outcome="denied" if "failed" in action or "lockout" in action else "ok",
                 detail=detail, source="kiosk")


def _event_alert(batch: "Batch", kiosk_id: str, msg: EventMessage, at: dt.datetime) -> None:
    """Paper holds open an alert with the hold event and clear it with the resolution."""
    if msg.kind is EventKind.PAPER_HOLD:
        alerts.open_event_alert(batch.session, batch.open_alerts(kiosk_id), kiosk_id, "paper_hold", "printer",
                                f"invoice printing held: {msg.reason or 'check the paper'} (hold {msg.count})", at)
    elif msg.kind is EventKind.PAPER_HOLD_RESOLVED:
        alerts.clear_event_alert(batch.open_alerts(kiosk_id), "paper_hold", "printer", at)


def _event_severity(msg: EventMessage) -> str:
    if msg.kind is EventKind.PAPER_HOLD:
        return "critical"
    if msg.state is not None and msg.state.value in ("fault", "absent"):
        return "warning"
    if msg.kind.value == "app_unreachable":
        return "warning"
    return "info"
