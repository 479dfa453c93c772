"""paho-mqtt's Client with a receive path made for ingest: bursts, lazy properties, batched acks.

paho's network thread spends ~40 µs of Python per received message before ingest sees
it (docs/fleet-server.md "Ingest cost"): one select() per packet (`loop_read` ignores
its argument unless QoS 2 flows are open), three socket reads per packet (command byte,
each length byte, the rest), an `MQTTMessage` with its `MQTTMessageInfo` and Condition,
the message's MQTT 5 properties decoded into a `Properties` object, a topic-filter walk,
and for the acknowledgements one queued write, one wake-up of the network thread and
one TLS record per PUBACK. `BatchingClient` keeps paho for everything else (connecting,
TLS, keep-alive, reconnects, subscribing, publishing, QoS 2) and changes only this:

- `loop_read` reads every packet that has arrived (up to `READ_BURST`) before paho
  selects again, and `_packet_read` takes what the socket has in one read into a buffer
  and cuts packets out of it;
- with a `receiver` set, a QoS 0 or 1 PUBLISH goes to it as
  ``receiver(topic, payload, qos, mid, retain, raw_properties)``: no `MQTTMessage`,
  the properties left as the bytes the broker sent (`decode_properties` when needed —
  only command results read one). QoS 2 and everything else take paho's own path;
- `ack_all` queues a whole batch's PUBACKs as one write, byte for byte what
  `Client.ack` sends for each (MQTT 5 §3.4.2.1: remaining length 2, reason 0 omitted).

It relies on paho 2.2's private layout (`_sock`, `_in_packet`, `_packet_handle`,
`_packet_queue`); tests/fleet/test_paho_client.py feeds it real packets cut at every
byte and checks it against paho's own decoding.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import MalformedPacket, Properties, VariableByteIntegers

from fleet.server import paho_speed

READ_BURST = 1000  # packets read per select() at most: bounds how long acks wait to be written
RECV_BYTES = 65536
_PUBACK = struct.Struct("!BBH")
_PUBLISH = 0x30
Receiver = Callable[[str, bytes, int, int, bool, bytes], None]


def decode_properties(raw: bytes) -> Properties:
    """A PUBLISH's properties (`raw`: length and properties as received) as paho's object."""
    paho_speed.install()
    props = paho_speed.FastProperties(PacketTypes.PUBLISH)
    props.unpack(raw)
    return props


def _fresh_in_packet() -> dict:
    return {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
            "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}


def split_packet(buffer: bytes | bytearray) -> tuple[int, int, int] | None:
    """(command byte, body start, body end) of the first whole MQTT packet in `buffer`,
    None if it has not all arrived; MalformedPacket for a length over four bytes."""
    multiplier, length, at = 1, 0, 1
    while True:
        if at >= len(buffer):
            return None
        byte = buffer[at]
        length += (byte & 0x7F) * multiplier
        at += 1
        if not byte & 0x80:
            break
        if at > 4:
            raise MalformedPacket("remaining length over four bytes")
        multiplier *= 128
    if len(buffer) < at + length:
        return None
    return buffer[0], at, at + length


class BatchingClient(mqtt.Client):
    """paho's Client with the receive path above; `receiver` None keeps paho's on_message."""

    receiver: Receiver | None = None
    # Pause after the socket ran dry (seconds). At a few hundred messages a second each
    # one arrives alone and costs a whole wake-up of this thread (select, a TLS read, the
    # GIL); a pause lets them arrive together, and they wait in the kernel's socket buffer
    # meanwhile. 0: paho's behaviour.
    coalesce_s: float = 0.0

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """paho's `loop_read`, but on until the socket has nothing more (or READ_BURST);
        then, with `coalesce_s`, a pause so that the next select() finds several packets."""
        for _ in range(max(max_packets, READ_BURST)):
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:
                if self.coalesce_s:
                    time.sleep(self.coalesce_s)
                break
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        """One packet from the buffer, reading the socket only when the buffer has no
        whole packet; MQTT_ERR_AGAIN when the socket has nothing more for now."""
        if getattr(self, "_rx_sock", None) is not self._sock:  # a new connection: a new stream
            self._rx_sock, self._rx = self._sock, bytearray()
        buffer = self._rx
        try:
            whole = split_packet(buffer)
        except MalformedPacket:
            return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
        while whole is None:
            try:
                data = self._sock_recv(RECV_BYTES)
            except BlockingIOError:
                return mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
                return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
            if not data:
                return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
            buffer += data
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()
            try:
                whole = split_packet(buffer)
            except MalformedPacket:
                return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
        command, start, end = whole
        body = bytes(buffer[start:end])
        del buffer[:end]
        receiver = self.receiver
        try:
            if receiver is not None and command & 0xF0 == _PUBLISH and (command & 0x06) >> 1 < 2:
                rc = self._deliver(receiver, command, body)
            else:
                self._in_packet = _fresh_in_packet() | {
                    "command": command, "have_remaining": 1, "remaining_length": len(body), "packet": body}
                rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
        finally:
            self._in_packet = _fresh_in_packet()
        return rc

    def _deliver(self, receiver: Receiver, command: int, body: bytes) -> mqtt.MQTTErrorCode:
        """A QoS 0/1 PUBLISH straight to `receiver` (its properties undecoded)."""
        qos = (command & 0x06) >> 1
        if len(body) < 2:
            raise MalformedPacket("PUBLISH shorter than its topic length")
        end = 2 + int.from_bytes(body[:2], "big")
        topic_bytes = body[2:end]
        mid = 0
        if qos:
            mid = int.from_bytes(body[end:end + 2], "big")
            end += 2
        props_start = end
        if self._protocol == mqtt.MQTTv5:
            props_len, vbi_len = VariableByteIntegers.decode(body[end:end + 4])
            end += vbi_len + props_len
        if end > len(body):
            raise MalformedPacket("PUBLISH shorter than its header")
        try:
            topic = topic_bytes.decode("utf-8")
        except UnicodeDecodeError:
            self._easy_log(mqtt.MQTT_LOG_ERR, "PUBLISH with an invalid UTF-8 topic %r dropped", topic_bytes)
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        try:
            receiver(topic, body[end:], qos, mid, bool(command & 0x01), body[props_start:end])
        except Exception as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in the receiver: %s", err)
            if not self.suppress_exceptions:
                raise
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_all(self, mids: Iterable[int]) -> None:
        """PUBACK each QoS 1 message id in `mids` (manual_ack), all in one queued write."""
        packet = b"".join(_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(mqtt.PUBACK, packet, 0, 0)
