"""Health messages in bulk, without the ORM: the ingest path for the fleet's main load.

Nearly everything kiosks publish is routine health from a known kiosk with nothing
wrong. For those, one batch costs a fixed number of statements whatever its size
(PostgreSQL: a lookup, two COPYs, then an INSERT, a lock and an UPDATE in one round trip; no ORM
objects, no per-message statement):

- one lookup: which of the batch's kiosks exist and which have an open alert;
- the samples by COPY into a temporary staging table (COPY is by far the cheapest way in
  for the client: psycopg's array parameters cost ~30× more per row), the payload as the
  JSON text the kiosk sent (no second encoding), then one INSERT … SELECT … ``ON
  CONFLICT (kiosk_id, sent_at) DO NOTHING``: a QoS 1 redelivery, or a kiosk's resend,
  is stored once;
- each kiosk's latest health in the batch — coalesced, one row per kiosk — by COPY into
  a second staging table, the kiosks' rows locked in kiosk-id order (`FOR NO KEY
  UPDATE`, the lock the UPDATE takes anyway, which does not conflict with the key-share
  locks other workers' sample INSERTs hold on the same rows through the foreign key;
  two workers updating the same kiosks then wait for each other, never deadlock), and one
  UPDATE … FROM it, guarded by ``last_health_sent_at`` (the kiosk's own time), so an
  older message never overwrites a newer one, whichever worker got it and whenever it
  was redelivered.

SQLite (the single-server default) does the same with executemany.

A health message takes the ordinary ORM path (`fleet.server.ingest`) when its kiosk is
unknown, has any open alert, or the message itself calls for one — the alert rules live
in one place only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Engine, bindparam, case, event, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fleet.protocol import Channel, Health
from fleet.server import alerts
from fleet.server.models import Alert, HealthSample, Kiosk, UtcDateTime


def sent_at(msg: Health) -> dt.datetime:
    """The message's own time, as an aware UTC datetime (a naive `ts` is taken as UTC)."""
    ts = msg.ts
    return ts.replace(tzinfo=dt.timezone.utc) if ts.tzinfo is None else ts.astimezone(dt.timezone.utc)


def split(session: Session, items: list[Any], queue_age_alert_s: float) -> tuple[list[Any], list[Any]]:
    """(fast, slow): the health items the bulk path may take, and everything else."""
    health = [i for i in items if i.channel is Channel.HEALTH and i.bulk]
    if not health:
        return [], items
    ids = sorted({i.kiosk_id for i in health})
    if session.bind.dialect.name == "postgresql":
        cursor = _cursor(session)
        eligible = {row[0] for row in cursor.execute(_PG_ELIGIBLE, [ids]) if not row[1]}
    else:
        alert_open = select(Alert.id).where(Alert.kiosk_id == Kiosk.kiosk_id, Alert.cleared_at.is_(None)).exists()
        eligible = {kiosk_id for kiosk_id, alerting in
                    session.execute(select(Kiosk.kiosk_id, alert_open).where(Kiosk.kiosk_id.in_(ids))) if not alerting}
    troubled = {i.kiosk_id for i in health if i.kiosk_id in eligible
                and alerts.health_conditions(i.msg, queue_age_alert_s, i.message.received_at)}
    eligible -= troubled
    fast = [i for i in health if i.kiosk_id in eligible]
    chosen = {id(i) for i in fast}
    return fast, [i for i in items if id(i) not in chosen]


def apply(session: Session, items: list[Any]) -> None:
    """Store health `items` (all eligible, see `split`) with bulk statements."""
    if not items:
        return
    samples: dict[tuple[str, dt.datetime], tuple] = {}  # one per kiosk and sent_at, even within a batch
    latest: dict[str, tuple[dt.datetime, Any]] = {}
    for item in items:
        sent = sent_at(item.msg)
        key = (item.kiosk_id, sent)
        if key not in samples:  # a row in SAMPLE_COLUMNS order, then the item
            samples[key] = (item.kiosk_id, item.message.received_at, sent, *figure_values(item.msg), item)
        known = latest.get(item.kiosk_id)
        if known is None or sent >= known[0]:
            latest[item.kiosk_id] = (sent, item)
    newest = [(kiosk_id, *latest[kiosk_id]) for kiosk_id in sorted(latest)]
    if session.bind.dialect.name == "postgresql":
        _pg_apply(session, list(samples.values()), newest)
    else:
        _insert_samples(session, list(samples.values()))
        _update_kiosks(session, newest)


def _percent(used: float, total: float) -> float | None:
    return round(100.0 * used / total, 2) if total > 0 else None


def figure_values(msg: Health) -> tuple[float | None, float | None, float | None, float | None, int, int]:
    """`fleet.server.views.health_figures` of the message itself (no JSON parse), in
    FIGURE_COLUMNS order."""
    system = msg.system
    cpus = system.cpu_count or 0
    memory = system.memory_total_bytes or 0
    disk = system.disk_total_bytes or 0
    devices = msg.devices
    ok = 0
    for device in devices:
        if device.state in ("ready", "busy"):
            ok += 1
    return (_percent(system.load_1m or 0.0, cpus) if cpus else None,
            _percent(memory - (system.memory_available_bytes or 0), memory),
            _percent(disk - (system.disk_free_bytes or 0), disk),
            system.temperature_c, ok, len(devices))


FIGURE_COLUMNS = ("cpu_percent", "memory_percent", "disk_percent", "temperature_c", "devices_ok", "devices_total")
SAMPLE_COLUMNS = ("kiosk_id", "received_at", "sent_at", *FIGURE_COLUMNS)
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS health_staging (kiosk_id text, received_at timestamptz, sent_at timestamptz, "
    "cpu_percent float8, memory_percent float8, disk_percent float8, temperature_c float8, devices_ok int4, "
    "devices_total int4, payload json) ON COMMIT DELETE ROWS; "
    "CREATE TEMP TABLE IF NOT EXISTS kiosk_staging (id text, r timestamptz, s timestamptz, p json, a text, b float8) "
    "ON COMMIT DELETE ROWS"
)
_PG_ELIGIBLE = ("SELECT k.kiosk_id, EXISTS (SELECT 1 FROM alerts a WHERE a.kiosk_id = k.kiosk_id AND a.cleared_at IS NULL) "
                "FROM kiosks k WHERE k.kiosk_id = ANY(%s::text[])")
_PG_INSERT = (
    f"INSERT INTO health_samples ({', '.join(SAMPLE_COLUMNS)}, payload) "
    f"SELECT {', '.join(SAMPLE_COLUMNS)}, payload FROM health_staging ON CONFLICT (kiosk_id, sent_at) DO NOTHING"
)
_NEWER = "(k.last_health_sent_at IS NULL OR k.last_health_sent_at <= v.s)"
_PG_LOCK = ("SELECT 1 FROM kiosks k JOIN kiosk_staging v ON k.kiosk_id = v.id "
            "ORDER BY k.kiosk_id FOR NO KEY UPDATE OF k")
_PG_UPDATE = (
    "UPDATE kiosks AS k SET "
    f"health = CASE WHEN {_NEWER} THEN v.p ELSE k.health END, "
    f"app_version = CASE WHEN {_NEWER} THEN coalesce(v.a, k.app_version) ELSE k.app_version END, "
    f"heartbeat_s = CASE WHEN {_NEWER} THEN coalesce(v.b, k.heartbeat_s) ELSE k.heartbeat_s END, "
    f"last_health_at = CASE WHEN {_NEWER} THEN v.r ELSE k.last_health_at END, "
    f"last_health_sent_at = CASE WHEN {_NEWER} THEN v.s ELSE k.last_health_sent_at END, "
    "last_seen = greatest(k.last_seen, v.r) "
    "FROM kiosk_staging v WHERE k.kiosk_id = v.id"
)

_PG_APPLY = f"{_PG_INSERT}; {_PG_LOCK}; {_PG_UPDATE}"


def _payload_text(item: Any) -> str:
    return bytes(item.message.payload).decode()


def prepare(engine: Engine) -> None:
    """PostgreSQL: every pooled connection gets the staging tables when first checked out,
    in a transaction of their own — so a batch rolled back later cannot take them away."""
    if engine.dialect.name == "postgresql" and not event.contains(engine, "checkout", _create_staging):
        event.listen(engine, "checkout", _create_staging)


def _create_staging(dbapi_connection, record, proxy) -> None:
    if not record.info.get("health_staging"):
        with dbapi_connection.cursor() as cursor:  # no transaction of the caller's yet: checkout
            cursor.execute(_STAGING)
        dbapi_connection.commit()
        record.info["health_staging"] = True


def _cursor(session: Session):
    """The psycopg cursor of the session's connection (staging tables: `prepare`)."""
    return session.connection().connection.driver_connection.cursor()


def _pg_apply(session: Session, samples: list[tuple], newest: list[tuple[str, dt.datetime, Any]]) -> None:
    """PostgreSQL: the samples and each kiosk's latest health through COPY (psycopg, the
    cheapest way in for the client) into the staging tables, then in one round trip the
    INSERT … ON CONFLICT DO NOTHING, the kiosks' rows locked in kiosk-id order, and one
    UPDATE … FROM the staging table (a batch's fixed cost is mostly round trips)."""
    cursor = _cursor(session)
    with cursor.copy(f"COPY health_staging ({', '.join(SAMPLE_COLUMNS)}, payload) FROM STDIN") as copy:
        for row in samples:
            copy.write_row((*row[:-1], _payload_text(row[-1])))
    with cursor.copy("COPY kiosk_staging (id, r, s, p, a, b) FROM STDIN") as copy:
        for kiosk_id, sent, item in newest:
            copy.write_row((kiosk_id, item.message.received_at, sent, _payload_text(item),
                            item.msg.app_version or None, item.msg.heartbeat_s or None))
    cursor.execute(_PG_APPLY)  # several statements, no parameters: one simple-protocol query


def _insert_samples(session: Session, samples: list[tuple]) -> None:
    insert_samples_once(session, [dict(zip(SAMPLE_COLUMNS, row[:-1]), payload=row[-1].raw) for row in samples])


def insert_samples_once(session: Session, rows: list[dict]) -> None:
    """health_samples rows, skipping any already stored (same kiosk and sent_at)."""
    dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    session.execute(dialect_insert(HealthSample).on_conflict_do_nothing(index_elements=["kiosk_id", "sent_at"]), rows)


def _update_kiosks(session: Session, newest: list[tuple[str, dt.datetime, Any]]) -> None:
    rows = [dict(k_id=kiosk_id, k_at=item.message.received_at, k_sent=sent, k_health=item.raw,
                 k_app=item.msg.app_version or None, k_beat=item.msg.heartbeat_s or None)
            for kiosk_id, sent, item in newest]
    table = Kiosk.__table__
    at = bindparam("k_at", type_=UtcDateTime())
    sent = bindparam("k_sent", type_=UtcDateTime())
    newer = or_(table.c.last_health_sent_at.is_(None), table.c.last_health_sent_at <= sent)
    statement = (
        update(table)
        .where(table.c.kiosk_id == bindparam("k_id"))
        .values(health=case((newer, bindparam("k_health", type_=JSON())), else_=table.c.health),
                app_version=case((newer, func.coalesce(bindparam("k_app"), table.c.app_version)),
                                 else_=table.c.app_version),
                heartbeat_s=case((newer, func.coalesce(bindparam("k_beat"), table.c.heartbeat_s)),
                                 else_=table.c.heartbeat_s),
                last_seen=case((or_(table.c.last_seen.is_(None), table.c.last_seen < at), at),
                               else_=table.c.last_seen),
                last_health_at=case((newer, at), else_=table.c.last_health_at),
                last_health_sent_at=case((newer, sent), else_=table.c.last_health_sent_at))
    )
    session.execute(statement, rows)
