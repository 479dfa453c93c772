"""The ingest batch path stores exactly what arrives: every message once (redelivered or
resent ones too), the latest health by the kiosk's own time whatever the arrival order,
and two writers on the same kiosks (two workers) neither lose, double nor deadlock.
On SQLite and on a real PostgreSQL (`db_url`)."""

from __future__ import annotations

import datetime as dt
import random
import threading

from sqlalchemy import func, insert, select

from fleet.protocol import Health, outgoing
from fleet.server.db import Database
from fleet.server.ingest import Ingest
from fleet.server.models import Alert, HealthSample, Kiosk
from fleet.server.mqtt import Inbound
from fleet.server.testing import default_devices

T0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=1)  # within the skew limit
KIOSKS = [f"b-{i:02d}" for i in range(8)]


def health(kiosk_id: str, second: int, **fields) -> Inbound:
    """Kiosk `kiosk_id`'s health written at T0 + `second` s (and received then)."""
    at = T0 + dt.timedelta(seconds=second)
    msg = Health(kiosk_id=kiosk_id, ts=at, app_version=f"1.0.{second}", heartbeat_s=30, devices=default_devices(),
                 **fields)
    out = outgoing(msg)
    return Inbound(topic=out.topic, payload=out.payload, qos=1, mid=1, retain=False, properties=None, received_at=at)


def redelivered(message: Inbound, later_s: float = 100.0) -> Inbound:
    """The same publish again (QoS 1 redelivery / kiosk resend), received later."""
    return Inbound(topic=message.topic, payload=message.payload, qos=1, mid=2, retain=False, properties=None,
                   received_at=message.received_at + dt.timedelta(seconds=later_s))


def setup(db_url: str) -> tuple[Database, Ingest]:
    db = Database(db_url)
    with db.session() as session:
        session.execute(insert(Kiosk), [dict(kiosk_id=k, online=True, session=1, config_desired_version=0)
                                        for k in KIOSKS])
    return db, Ingest(db, lambda m: None)


def stored(db: Database) -> dict[tuple[str, dt.datetime], int]:
    with db.session() as session:
        rows = session.execute(select(HealthSample.kiosk_id, HealthSample.sent_at, func.count())
                               .group_by(HealthSample.kiosk_id, HealthSample.sent_at)).all()
    return {(kiosk_id, sent.astimezone(dt.timezone.utc)): n for kiosk_id, sent, n in rows}


def latest(db: Database) -> dict[str, tuple[str, dt.datetime]]:
    with db.session() as session:
        return {k.kiosk_id: (k.health["app_version"], k.last_health_sent_at) for k in session.scalars(select(Kiosk)) if k.health}


def test_every_message_once_and_the_newest_wins_whatever_the_order(db_url):
    db, ingest = setup(db_url)
    messages = [health(k, s) for k in KIOSKS for s in range(0, 60, 3)]  # 20 per kiosk
    arriving = messages + [redelivered(m) for m in messages[::4]]  # a quarter comes twice
    random.Random(7).shuffle(arriving)  # any order: older after newer, copies in the same batch or later ones
    for start in range(0, len(arriving), 37):
        ingest._write(arriving[start:start + 37])
    got = stored(db)
    assert len(got) == len(messages) and set(got.values()) == {1}
    assert latest(db) == {k: ("1.0.57", T0 + dt.timedelta(seconds=57)) for k in KIOSKS}
    ingest._write([redelivered(m, 500) for m in messages[:40]])  # redelivered after a restart, much later
    assert stored(db) == got and latest(db)[KIOSKS[0]][0] == "1.0.57"
    assert ingest.rejected == 0  # copies are skipped by the batch, not refused one by one
    with db.session() as session:  # a redelivery is still a sign of life: last_seen moves on
        assert session.get(Kiosk, KIOSKS[0]).last_seen > T0 + dt.timedelta(seconds=500)
    db.close()


def test_the_orm_path_stores_once_too(db_url):
    """A kiosk with an open alert goes through the ORM path (alert rules in one place);
    its redeliveries are not stored twice either, and its latest health is by its ts."""
    db, ingest = setup(db_url)
    k = KIOSKS[0]
    with db.session() as session:
        session.add(Alert(kiosk_id=k, kind="paper_low", device="printer", severity="warning", message="paper low",
                          opened_at=T0))
    first, second = health(k, 10), health(k, 20)
    ingest._write([second, first, redelivered(second)])
    ingest._write([redelivered(first)])
    assert sorted(stored(db).values()) == [1, 1]
    assert latest(db)[k] == ("1.0.20", T0 + dt.timedelta(seconds=20)) and ingest.rejected == 0
    db.close()


def test_two_writers_on_the_same_kiosks_lose_nothing_and_store_nothing_twice(db_url):
    """Two ingest writers (as two workers on a round-robin shared subscription) get
    interleaved messages of the same kiosks, at the same time."""
    db, first = setup(db_url)
    second = Ingest(Database(db_url, run_migrations=False), lambda m: None)
    messages = [health(k, s) for s in range(40) for k in KIOSKS]
    shares = [messages[0::2] + [redelivered(m) for m in messages[1::10]], messages[1::2]]
    errors: list[BaseException] = []

    def run(ingest: Ingest, share: list[Inbound]) -> None:
        try:
            for start in range(0, len(share), 25):
                ingest._write(share[start:start + 25])
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w, s)) for w, s in ((first, shares[0]), (second, shares[1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and first.rejected == second.rejected == 0
    got = stored(db)
    assert len(got) == len(messages) and set(got.values()) == {1}
    assert latest(db) == {k: ("1.0.39", T0 + dt.timedelta(seconds=39)) for k in KIOSKS}
    second.db.close()
    db.close()


def test_a_deadlocked_batch_is_tried_again_not_dropped(tmp_path, monkeypatch):
    """PostgreSQL may end one of two workers' transactions with 'deadlock detected'
    (40P01): the batch is tried again, nothing is refused one by one."""
    from sqlalchemy.exc import OperationalError

    db, ingest = setup(f"sqlite:///{tmp_path / 'fleet.db'}")

    class Deadlock(Exception):
        sqlstate = "40P01"

    real, failures = ingest.apply, []

    def apply_once_deadlocked(session, items):
        if not failures:
            failures.append(len(items))
            raise OperationalError("UPDATE kiosks ...", {}, Deadlock("deadlock detected"))
        return real(session, items)

    monkeypatch.setattr(ingest, "apply", apply_once_deadlocked)
    ingest._write([health(k, 1) for k in KIOSKS])
    assert failures == [len(KIOSKS)] and ingest.rejected == 0 and len(stored(db)) == len(KIOSKS)
    db.close()
