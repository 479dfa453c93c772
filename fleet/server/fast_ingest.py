"""Health messages in bulk, without the ORM: the ingest path for the fleet's main load.

Nearly everything kiosks publish is routine health from a known kiosk with nothing
wrong. For those, one batch costs three statements whatever its size: a multi-row
INSERT of the samples, one executemany UPDATE of the kiosks' latest health (guarded by
``last_health_at`` so an older message never overwrites a newer one, whichever worker
stored it), after two lookups (which kiosks exist, which have open alerts). No ORM
objects, no per-message round trip.

A health message takes the ordinary ORM path (`fleet.server.ingest`) when its kiosk is
unknown, has any open alert, or the message itself calls for one — the alert rules live
in one place only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from fleet.protocol import Channel, Health
from fleet.server import alerts
from fleet.server.models import Alert, HealthSample, Kiosk, UtcDateTime


def split(session: Session, items: list[Any], queue_age_alert_s: float) -> tuple[list[Any], list[Any]]:
    """(fast, slow): the health items the bulk path may take, and everything else."""
    health = [i for i in items if i.channel is Channel.HEALTH and i.bulk]
    if not health:
        return [], items
    ids = sorted({i.kiosk_id for i in health})
    known = set(session.scalars(select(Kiosk.kiosk_id).where(Kiosk.kiosk_id.in_(ids))))
    alerting = set(session.scalars(select(Alert.kiosk_id).where(Alert.kiosk_id.in_(ids), Alert.cleared_at.is_(None))))
    eligible = known - alerting
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
    samples = []
    latest: dict[str, tuple[dt.datetime, Any]] = {}
    for item in items:
        at = item.message.received_at
        samples.append(dict(kiosk_id=item.kiosk_id, received_at=at, **figures(item.msg)))
        known = latest.get(item.kiosk_id)
        if known is None or at >= known[0]:
            latest[item.kiosk_id] = (at, item)
    if session.bind.dialect.name == "postgresql":
        _copy_samples(session, items, samples)
    else:
        for item, row in zip(items, samples):
            row["payload"] = item.raw
        session.execute(insert(HealthSample), samples)
    rows = []
    for kiosk_id, (at, item) in latest.items():
        msg: Health = item.msg
        rows.append(dict(k_id=kiosk_id, k_at=at, k_health=item.raw, k_app=msg.app_version or None,
                         k_beat=msg.heartbeat_s or None))
    table = Kiosk.__table__
    at = bindparam("k_at", type_=UtcDateTime())
    newer = or_(table.c.last_health_at.is_(None), table.c.last_health_at <= at)
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
                last_health_at=case((newer, at), else_=table.c.last_health_at))
    )
    session.execute(statement, rows)


def _percent(used: float, total: float) -> float | None:
    return round(100.0 * used / total, 2) if total > 0 else None


def figures(msg: Health) -> dict[str, float | int | None]:
    """`fleet.server.views.health_figures` of the message itself (no JSON parse)."""
    system = msg.system
    cpus = system.cpu_count or 0
    memory = system.memory_total_bytes or 0
    disk = system.disk_total_bytes or 0
    return {
        "cpu_percent": _percent(system.load_1m or 0.0, cpus) if cpus else None,
        "memory_percent": _percent(memory - (system.memory_available_bytes or 0), memory),
        "disk_percent": _percent(disk - (system.disk_free_bytes or 0), disk),
        "temperature_c": system.temperature_c,
        "devices_ok": sum(1 for d in msg.devices if d.state in ("ready", "busy")),
        "devices_total": len(msg.devices),
    }


SAMPLE_COLUMNS = ("kiosk_id", "received_at", "cpu_percent", "memory_percent", "disk_percent", "temperature_c",
                  "devices_ok", "devices_total", "payload")


def _copy_samples(session: Session, items: list[Any], samples: list[dict]) -> None:
    """PostgreSQL: the samples through COPY (psycopg), the payload as the JSON text the
    kiosk sent — no ORM, no per-row bind processing, no second JSON encoding."""
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY health_samples ({', '.join(SAMPLE_COLUMNS)}) FROM STDIN") as copy:
        for item, row in zip(items, samples):
            copy.write_row((row["kiosk_id"], row["received_at"], row["cpu_percent"], row["memory_percent"],
                            row["disk_percent"], row["temperature_c"], row["devices_ok"], row["devices_total"],
                            bytes(item.message.payload).decode()))
