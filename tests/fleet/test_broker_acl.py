"""The shipped Mosquitto TLS + ACL config, against a real broker: each kiosk's
certificate confines it to its own prefix; the fleet server's reaches everything."""

from __future__ import annotations

import ssl
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fleet.broker.certs import CertificateAuthority
from fleet.broker.testing import MqttProbe
from fleet.protocol import Channel, kiosk_topic
from fleet.protocol.topics import KIOSK_PUBLISHES, KIOSK_SUBSCRIBES, SERVER_STATUS

A, B = "kiosk-a", "kiosk-b"
QUIET = 0.5  # how long "nothing arrives" is watched; every positive control arrives well within it


def test_kiosk_cannot_publish_on_another_kiosk_or_the_server(mqtt_probe):
    server = mqtt_probe("fleet-server")
    server.subscribe("#")
    a = mqtt_probe(A)
    for channel in Channel:
        a.publish(kiosk_topic(B, channel), b"forged")
    a.publish(SERVER_STATUS, b"forged")
    a.publish(kiosk_topic(A, Channel.CMD_REQ), b"forged")  # a kiosk may not command itself
    a.publish(kiosk_topic(A, Channel.CONFIG_DESIRED), b"forged", retain=True)
    # positive control, published last: when it has arrived, anything leaked would have too
    a.publish(kiosk_topic(A, Channel.EVENTS), b"marker")
    server.wait_for(kiosk_topic(A, Channel.EVENTS))
    time.sleep(0.1)
    assert [m.topic for m in server.received()] == [kiosk_topic(A, Channel.EVENTS)]


def test_kiosk_publishes_on_its_own_channels_only(mqtt_probe):
    server = mqtt_probe("fleet-server")
    server.subscribe("kiosk/#")
    a = mqtt_probe(A)
    for channel in Channel:
        code = a.publish(kiosk_topic(A, channel), channel.value.encode())
        assert code.is_failure == (channel not in KIOSK_PUBLISHES), (channel, code)
    a.publish(kiosk_topic(A, Channel.STATUS), b"", retain=True)  # clear the retained test value
    got = {m.topic for m in server.wait_for("kiosk/#", count=len(KIOSK_PUBLISHES))}
    time.sleep(0.1)
    assert {m.topic for m in server.received() if m.payload} == {kiosk_topic(A, c) for c in KIOSK_PUBLISHES}
    assert got <= {kiosk_topic(A, c) for c in KIOSK_PUBLISHES}


def test_kiosk_receives_nothing_from_another_kiosks_or_the_servers_topics(mqtt_probe):
    server = mqtt_probe("fleet-server")
    b = mqtt_probe(B)
    # retained state already there before A subscribes, plus live traffic afterwards
    b.publish(kiosk_topic(B, Channel.STATUS), b"b-status", retain=True)
    server.publish(kiosk_topic(B, Channel.CONFIG_DESIRED), b"b-config", retain=True)
    server.publish(SERVER_STATUS, b"server", retain=True)

    a = mqtt_probe(A)
    for topic in ("#", "kiosk/#", "kiosk/+/status", f"kiosk/{B}/#", kiosk_topic(B, Channel.CMD_REQ),
                  "fleet/#", "$SYS/#", kiosk_topic(A, Channel.CMD_REQ)):
        a.subscribe(topic)
    for channel in Channel:
        sender = b if channel in KIOSK_PUBLISHES else server
        sender.publish(kiosk_topic(B, channel), b"for-b-only")
    server.publish(SERVER_STATUS, b"server-live")
    server.publish(kiosk_topic(A, Channel.CMD_REQ), b"for-a")  # positive control, last
    a.wait_for(kiosk_topic(A, Channel.CMD_REQ))
    time.sleep(QUIET)
    assert {m.topic for m in a.received()} == {kiosk_topic(A, Channel.CMD_REQ)}
    # SUBACK itself: mosquitto's acl_file grants every subscription and filters at
    # delivery (documented in docs/fleet.md); what counts is that nothing is delivered.


def test_kiosk_reads_exactly_its_own_inbound_channels(mqtt_probe):
    server = mqtt_probe("fleet-server")
    a = mqtt_probe(A)
    a.subscribe(f"kiosk/{A}/#")
    for channel in Channel:
        server.publish(kiosk_topic(A, channel), channel.value.encode())
    a.wait_for(f"kiosk/{A}/#", count=len(KIOSK_SUBSCRIBES))
    time.sleep(0.2)
    assert {m.topic for m in a.received()} == {kiosk_topic(A, c) for c in KIOSK_SUBSCRIBES}


def test_clients_without_a_certificate_from_our_ca_are_refused(mosquitto, fleet_pki, tmp_path):
    other = CertificateAuthority(tmp_path / "other-pki")
    other.init()
    stranger = other.issue_kiosk(A)  # right name, wrong CA
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="stranger", protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(fleet_pki.ca_cert_path), certfile=str(stranger.cert), keyfile=str(stranger.key))
    with pytest.raises((ssl.SSLError, OSError)):
        client.connect(mosquitto.host, mosquitto.port)
        for _ in range(20):  # TLS 1.3 may report the refusal on the first read
            client.loop(0.05)
            assert not client.is_connected()
        raise ssl.SSLError("no connection")

    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon", protocol=mqtt.MQTTv5)
    anonymous.tls_set(ca_certs=str(fleet_pki.ca_cert_path))  # TLS, but no client certificate
    with pytest.raises((ssl.SSLError, OSError)):
        anonymous.connect(mosquitto.host, mosquitto.port)
        for _ in range(20):
            anonymous.loop(0.05)
            assert not anonymous.is_connected()
        raise ssl.SSLError("no connection")


def test_there_is_no_plaintext_listener(mosquitto):
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plain", protocol=mqtt.MQTTv5)
    connected = []
    client.on_connect = lambda *a: connected.append(a)
    try:
        client.connect(mosquitto.host, mosquitto.port, keepalive=5)
        for _ in range(20):
            client.loop(0.05)
    except OSError:
        pass
    assert not connected
    assert "listener" in mosquitto.conf_path.read_text()
    assert mosquitto.conf_path.read_text().count("\nlistener ") == 1
