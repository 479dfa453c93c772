"""The server's MQTT 5 connection: TLS as the `fleet-server` certificate identity.

One paho-mqtt 2.x client (CallbackAPIVersion.VERSION2) both receives everything kiosks
publish and sends commands and desired configuration. It keeps a persistent session
(clean start off, session expiry) so QoS 1 messages published while the server was down
are delivered when it comes back, and acknowledges each QoS 1 message only after the
ingest committed it to the database (paho's manual_ack) — a server killed mid-batch
gets the batch again instead of losing it.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.server import paho_speed
from fleet.server.paho_client import BatchingClient, decode_properties
from fleet.protocol import (
    KIOSK_PUBLISHES,
    SERVER_USERNAME,
    Outgoing,
    ServerPresence,
    kiosk_filter,
    server_presence_outgoing,
    server_will,
)

log = logging.getLogger(__name__)
SESSION_EXPIRY_S = 7 * 24 * 3600  # how long the broker keeps our subscriptions and queue
READ_COALESCE_S = 0.02  # fleet.server.paho_client: reads ≤ 20 ms later, many messages per wake-up
RECEIVE_MAXIMUM = 2000  # unacknowledged QoS 1 messages the broker may send us (≥ one ingest batch)


@dataclass
class MqttSettings:
    host: str = "localhost"
    port: int = 8883
    ca: str | None = None  # CA that signed the broker's certificate
    cert: str | None = None  # the server's client certificate (CN fleet-server)
    key: str | None = None
    client_id: str = SERVER_USERNAME
    tls: bool = True
    keepalive: int = 30

    @classmethod
    def parse_address(cls, address: str, **kwargs) -> MqttSettings:
        host, _, port = address.rpartition(":")
        return cls(host=host or "localhost", port=int(port), **kwargs)


@dataclass
class Inbound:
    """One message as received; `ack()` once it is safely stored."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool
    properties: Properties | None
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    raw_properties: bytes = b""  # as received, when `properties` was not decoded (paho_client)

    def decoded_properties(self) -> Properties | None:
        """The MQTT 5 properties, decoded on first use (most messages never need them)."""
        if self.properties is None and self.raw_properties:
            self.properties = decode_properties(self.raw_properties)
        return self.properties


class MqttLink:
    """Connect, subscribe to every kiosk channel, publish; reconnects by itself (paho)."""

    def __init__(self, settings: MqttSettings, on_message: Callable[[Inbound], None],
                 server_version: str = "", extra_subscriptions: tuple[str, ...] = (), *,
                 kiosk_channels: bool = True, share_group: str | None = None, presence: bool = True) -> None:
        self.settings = settings
        self.extra_subscriptions = extra_subscriptions  # QoS 0 (the broker's log lines)
        # kiosk_channels: subscribe to what kiosks publish; share_group: through the MQTT 5
        # shared subscription $share/<group>/... (ingest workers); presence: publish the
        # server's own presence and will (the main server only).
        self.kiosk_channels, self.share_group, self.presence = kiosk_channels, share_group, presence
        self.server_version = server_version
        self._on_message = on_message
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._pending_sub: int | None = None
        paho_speed.install()  # received properties decoded without paho's per-message tables
        client = BatchingClient(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                                protocol=mqtt.MQTTv5, manual_ack=True)
        client.receiver = self._receive  # QoS 0/1 PUBLISH without paho's MQTTMessage
        client.coalesce_s = READ_COALESCE_S
        if settings.tls:
            client.tls_set(ca_certs=settings.ca, certfile=settings.cert, keyfile=settings.key,
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if presence:
            will = server_will(server_version)
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain, properties=will.properties)
        client.reconnect_delay_set(0.5, 10)
        client.max_queued_messages_set(0)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_subscribe = self._subscribed
        client.on_message = self._message
        self.client = client

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        # We acknowledge only after the database commit, so let the broker have many
        # messages in flight to us (MQTT 5 Receive Maximum; the broker's default is 20):
        # otherwise every commit stalls the stream and its queue overflows under load.
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive,
                                  clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        """Say we are going (retained offline), then disconnect cleanly."""
        if self.connected.is_set() and self.presence:
            info = server_presence_outgoing(ServerPresence(online=False, server_version=self.server_version)).publish(self.client)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout) and self.subscribed.wait(timeout)

    def publish(self, out: Outgoing) -> mqtt.MQTTMessageInfo:
        return out.publish(self.client)

    def ack(self, messages: list[Inbound]) -> None:
        """Acknowledge `messages` (stored, or refused for good): QoS 1 ones in one write."""
        self.client.ack_all(m.mid for m in messages if m.qos == 1)
        for message in messages:
            if message.qos == 2:
                self.client.ack(message.mid, 2)

    # paho callbacks (network thread)
    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        self.connected.set()
        prefix = f"$share/{self.share_group}/" if self.share_group else ""
        subs = [(prefix + kiosk_filter(channel), 1) for channel in KIOSK_PUBLISHES] if self.kiosk_channels else []
        subs += [(topic, 0) for topic in self.extra_subscriptions]
        if subs:
            _, self._pending_sub = client.subscribe(subs)
        else:
            self.subscribed.set()
        if self.presence:
            server_presence_outgoing(ServerPresence(online=True, server_version=self.server_version)).publish(client)

    def _subscribed(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("broker refused subscriptions: %s", failed)
        if mid == self._pending_sub:
            self.subscribed.set()

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if reason_code.is_failure:
            log.warning("disconnected from the broker: %s", reason_code)

    def _receive(self, topic: str, payload: bytes, qos: int, mid: int, retain: bool, raw_properties: bytes) -> None:
        self._on_message(Inbound(topic=topic, payload=payload, qos=qos, mid=mid, retain=retain, properties=None,
                                 raw_properties=raw_properties))

    def _message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._on_message(Inbound(topic=message.topic, payload=message.payload, qos=message.qos,
                                 mid=message.mid, retain=bool(message.retain),
                                 properties=getattr(message, "properties", None)))
