"""Scale-out ingest: worker processes on an MQTT 5 shared subscription, one PostgreSQL;
the bulk health path and the fast decoder agree with the ORM path and the protocol.

The worker test runs the real thing: the fleet server with two `fleet.server.workers`
processes (their own certificates, `$share/fleet-ingest/...`) on the shipped Mosquitto,
kiosks heartbeating — every message stored exactly once, both workers subscribed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from fleet.protocol import Channel, DeviceHealth, Health, SystemHealth, decode_kiosk_publish, kiosk_topic, outgoing
from fleet.server.db import Database
from fleet.server.fastdecode import decode_fast
from fleet.server.ingest import Decoded, Ingest
from fleet.server.models import Alert, HealthSample, Kiosk
from fleet.server.mqtt import Inbound
from fleet.server.testing import FleetHarness, default_devices, wait_until
from fleet.server.workers import identity_name

A = "kiosk-a"


class Beat:
    """A kiosk's health without a connection (SimKiosk's fields, for the unit tests)."""

    def __init__(self, kiosk_id: str = A) -> None:
        self.kiosk_id, self.devices = kiosk_id, default_devices()

    def set_device(self, kind: str, state: str, **consumables: str) -> None:
        self.devices = [d for d in self.devices if d.kind.value != kind] + [
            DeviceHealth(kind=kind, state=state, consumables=consumables)]

    def health(self) -> Health:
        return Health(kiosk_id=self.kiosk_id, app_version="1.4.2", heartbeat_s=30, devices=self.devices,
                      system=SystemHealth(disk_total_bytes=64 << 30, disk_free_bytes=40 << 30, load_1m=0.4,
                                          cpu_count=2, temperature_c=48.0))


def sim(kiosk_id: str = A) -> Beat:
    return Beat(kiosk_id)


def test_fast_decoder_gives_the_protocols_answer_and_refuses_personal_data():
    out = outgoing(sim().health())
    assert decode_fast(out.topic, out.payload) == decode_kiosk_publish(out.topic, out.payload)
    leaky = out.payload.replace(b'"reason":""', b'"reason":"110101199003077777"', 1)
    with pytest.raises(ValueError, match="personal data"):
        decode_fast(out.topic, leaky)
    with pytest.raises(ValueError, match="personal data"):
        decode_kiosk_publish(out.topic, leaky)
    with pytest.raises(ValueError, match="kiosk-b"):
        decode_fast(kiosk_topic("kiosk-b", Channel.HEALTH), out.payload)


def inbound(kiosk: Beat, at: dt.datetime, *, sent: dt.datetime | None = None) -> Inbound:
    """The kiosk's health written at `sent` (default: `at`) and received at `at`."""
    out = outgoing(kiosk.health().model_copy(update={"ts": sent or at}))
    return Inbound(topic=out.topic, payload=out.payload, qos=1, mid=1, retain=False, properties=None, received_at=at)


def test_bulk_health_path_keeps_the_newest_and_hands_troubled_kiosks_to_the_orm(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'fleet.db'}")
    ingest = Ingest(db, lambda m: None)
    t0 = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=60)  # within the clock-skew limit
    with db.session() as session:
        session.add(Kiosk(kiosk_id=A, online=True, session=1, config_desired_version=0))
    ok = sim()
    newer, older = inbound(ok, t0 + dt.timedelta(seconds=30)), inbound(ok, t0)
    ingest._write([newer])
    ingest._write([older])  # arrives late (another worker, a redelivery): stored, never the latest
    with db.session() as session:
        kiosk = session.get(Kiosk, A)
        assert kiosk.last_health_at == newer.received_at and kiosk.last_seen == newer.received_at
        assert session.scalar(select(func.count()).select_from(HealthSample)) == 2
    ok.set_device("printer", "ready", paper="near_end")  # calls for an alert: the ORM path opens it
    ingest._write([inbound(ok, t0 + dt.timedelta(seconds=60))])
    with db.session() as session:
        assert [a.kind for a in session.scalars(select(Alert))] == ["paper_low"]
    ok.set_device("printer", "ready", paper="ok")  # an open alert: the ORM path clears it
    ingest._write([inbound(ok, t0 + dt.timedelta(seconds=90))])
    with db.session() as session:
        assert session.scalar(select(Alert)).cleared_at is not None
        assert session.get(Kiosk, A).last_health_at == t0 + dt.timedelta(seconds=90)
    assert isinstance(ingest._decode(newer), Decoded)
    db.close()


def worker_counts(log_dir) -> dict[int, int]:
    """Messages each worker handled, from the summary line it logs when it stops."""
    counts = {}
    for log in sorted(log_dir.glob("fleet-ingest.*.log")):
        for line in log.read_text().splitlines():
            if "messages in" in line and "ingest worker" in line:
                head = line.split("ingest worker ", 1)[1]
                counts[int(head.split(":")[0])] = int(head.split(": ", 1)[1].split()[0])
    return counts


def test_two_worker_processes_split_the_load_without_storing_twice(fleet_pki, mosquitto, postgres, tmp_path):
    for index in (1, 2):
        fleet_pki.issue_service(identity_name(index))
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, postgres.create_database("workers_two"))
    harness.settings.ingest_workers, harness.settings.pki_dir = 2, fleet_pki.dir
    harness.settings.ingest_log_dir = tmp_path / "workers"
    harness.start()
    try:
        def subscribed() -> set[str]:
            lines = [line for line in mosquitto.log().splitlines() if "$share/fleet-ingest/kiosk/+/health" in line]
            return {line.split()[1] for line in lines}

        wait_until(lambda: {identity_name(1), identity_name(2)} <= subscribed(), 30, what="both workers subscribed")
        kiosks = [harness.kiosk(f"w-{i}") for i in range(6)]
        db = harness.server.db

        def count(model) -> int:
            with db.session() as session:
                return session.scalar(select(func.count()).select_from(model))

        wait_until(lambda: count(Kiosk) == 6, 20, what="every birth stored by the workers")
        for _ in range(20):
            for kiosk in kiosks:
                kiosk.send_health()
        for kiosk in kiosks:
            kiosk.send_health().wait_for_publish(5)
        wait_until(lambda: count(HealthSample) >= 126, 20, what="every health message stored")
        assert count(HealthSample) == 126  # nothing twice
        assert harness.server.ingest.stored == 0  # the main server's own ingest only sweeps
    finally:
        harness.stop()
    handled = worker_counts(tmp_path / "workers")
    assert set(handled) == {1, 2} and all(handled.values()), handled  # the broker split the load
    assert sum(handled.values()) >= 126 + 6


@pytest.mark.parametrize("value", ["13812345678", "11010119900307123X", "<pii>x</pii>", "１３８１２３４５６７８",
                                   "tel\\u0020138 1234 5678"])
def test_fast_decoder_finds_personal_data_wherever_the_protocol_does(value):
    """Escaped, full-width, in a short field or a long one: the shortcut never hides it."""
    payload = outgoing(sim().health()).payload.replace(b'"reason":""', f'"reason":"{value}"'.encode(), 1)
    topic = kiosk_topic(A, Channel.HEALTH)
    with pytest.raises(ValueError, match="personal data"):
        decode_kiosk_publish(topic, payload)
    with pytest.raises(ValueError, match="personal data"):
        decode_fast(topic, payload)


def test_fast_decoder_refuses_what_the_protocol_refuses():
    topic = kiosk_topic(A, Channel.HEALTH)
    good = outgoing(sim().health()).payload
    for bad, why in ((b"{not json", "not JSON"), (b"[1, 2]", "not a JSON object"),
                     (good.replace(b'"v":1', b'"v":7', 1), "v7")):
        for decode in (decode_fast, decode_kiosk_publish):
            with pytest.raises(ValueError, match=why):
                decode(topic, bad)


def test_bulk_figures_are_the_consoles():
    from fleet.server.fast_ingest import FIGURE_COLUMNS, figure_values
    from fleet.server.views import health_figures

    for health in (sim().health(), Health(kiosk_id=A)):
        assert dict(zip(FIGURE_COLUMNS, figure_values(health))) == health_figures(health.model_dump(mode="json"))
