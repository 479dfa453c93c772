"""Session takeover on the shipped Mosquitto config: the client id is the certificate's CN.

Kiosk B's (valid) certificate with kiosk A's client id must not knock A offline, must
not reach A's topics, and the attempt must become an alert on the fleet server, which
learns of it from the broker's own log lines ($SYS/broker/log/#, `log_dest topic`)."""

from __future__ import annotations

import pytest

from fleet.broker.testing import MqttProbe
from fleet.protocol import Channel, kiosk_topic
from fleet.server import broker_watch
from fleet.server.models import Alert, AuditEntry, Kiosk
from fleet.server.testing import FleetHarness, wait_until

A, B = "kiosk-a", "kiosk-b"


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}").start()
    yield harness
    harness.stop()


def open_alerts(fleet, kind: str) -> list[Alert]:
    with fleet.server.db.session() as session:
        return list(session.query(Alert).filter(Alert.kind == kind, Alert.cleared_at.is_(None)))


def test_b_with_as_client_id_leaves_a_online_reaches_nothing_and_raises_alerts(fleet, mosquitto, fleet_pki, mqtt_probe):
    watch = mqtt_probe()
    watch.subscribe("kiosk/#")
    a = fleet.kiosk(A)  # the real kiosk A (client id kiosk-a, its own certificate)
    real_b = fleet.kiosk(B)
    viewer = fleet.client("viewer")
    wait_until(lambda: viewer.get(f"/api/kiosks/{A}").json().get("status") == "online", 10, what="A online")
    a_drops = []
    a.client.on_disconnect = lambda *args: a_drops.append(args)

    thief = MqttProbe(mosquitto.host, mosquitto.port, fleet_pki.kiosk_identity(B), client_id=A)
    thief.client.reconnect_delay_set(30, 60)  # no ping-pong with the real B after it is kicked
    thief.connect()
    thief.subscribe(kiosk_topic(A, Channel.CMD_REQ))
    assert thief.publish(kiosk_topic(A, Channel.HEALTH), b'{"forged": true}').is_failure  # PUBACK 0x87

    # the server learns of both: B's certificate used twice, and B reaching for A's topics
    wait_until(lambda: open_alerts(fleet, "acl_violation") and open_alerts(fleet, "cert_takeover"), 10,
               what="the broker's log lines to become alerts")
    violation, = open_alerts(fleet, "acl_violation")
    takeover, = open_alerts(fleet, "cert_takeover")
    assert (violation.kiosk_id, takeover.kiosk_id) == (B, B)
    assert kiosk_topic(A, Channel.CMD_REQ) in violation.message
    with fleet.server.db.session() as session:
        actions = {e.action for e in session.query(AuditEntry).filter(AuditEntry.target == B)}
    assert {"broker.acl_violation", "broker.cert_takeover"} <= actions

    # a command for A reaches A and not the thief; A was never disconnected
    fleet.client("operator").post(f"/api/kiosks/{A}/commands", json={"name": "self_test"}).raise_for_status()
    wait_until(lambda: a.commands, 10, what="A to get its command")
    assert thief.received() == []
    assert a.client.is_connected() and a_drops == []
    with fleet.server.db.session() as session:  # no will, no goodbye from A: presence still online
        assert session.get(Kiosk, A).online is True
    assert not [m for m in watch.received(kiosk_topic(A, Channel.HEALTH)) if b"forged" in m.payload]
    thief.close()
    real_b.close(goodbye=False)


def test_broker_log_lines_parse_into_findings():
    sub = broker_watch.parse("$SYS/broker/log/M/subscribe", b"1796596451: kiosk-b 1 kiosk/kiosk-a/cmd/req")
    assert sub == broker_watch.Finding("acl_violation", B, sub.message) and "kiosk/kiosk-a/cmd/req" in sub.message
    assert broker_watch.parse("$SYS/broker/log/M/subscribe", b"1796596451: kiosk-b 1 kiosk/kiosk-b/cmd/req") is None
    assert broker_watch.parse("$SYS/broker/log/M/subscribe", b"1: fleet-server 1 kiosk/+/health") is None
    assert broker_watch.parse("$SYS/broker/log/M/subscribe", b"1: fleet-ingest.1 1 $share/g/kiosk/+/health") is None
    take = broker_watch.parse("$SYS/broker/log/E", b"1: Client kiosk-b already connected, closing old connection.")
    assert take.kind == "cert_takeover" and take.kiosk_id == B
    assert broker_watch.parse("$SYS/broker/log/E", b"1: Client fleet-server already connected, closing old connection.") is None
    assert broker_watch.parse("$SYS/broker/log/N", b"1: New client connected from 1.2.3.4 as kiosk-b") is None
