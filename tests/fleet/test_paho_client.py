"""BatchingClient's own receive path against paho's decoding, on packets cut at every byte."""

from __future__ import annotations

import random
import struct

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.server.mqtt import Inbound
from fleet.server.paho_client import BatchingClient, decode_properties, split_packet


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, qos: int, mid: int = 0, retain: bool = False,
            props: Properties | None = None) -> bytes:
    body = struct.pack("!H", len(topic.encode())) + topic.encode()
    if qos:
        body += struct.pack("!H", mid)
    body += (props or Properties(PacketTypes.PUBLISH)).pack() + payload
    return bytes([0x30 | qos << 1 | int(retain)]) + remaining_length(len(body)) + body


def command_props(correlation: bytes) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.PayloadFormatIndicator = 1
    props.ContentType = "application/json"
    props.CorrelationData = correlation
    props.UserProperty = [("k", "v"), ("二", "三")]
    return props


class Stream:
    """A non-blocking socket that hands out `data` in pieces of `chunk` bytes."""

    def __init__(self, data: bytes, chunk) -> None:
        self.data, self.chunk = bytearray(data), chunk

    def recv(self, size: int) -> bytes:
        if not self.data:
            raise BlockingIOError
        n = min(size, self.chunk())
        piece = bytes(self.data[:n])
        del self.data[:n]
        return piece

    def close(self) -> None:
        self.data.clear()


def client(received: list) -> BatchingClient:
    c = BatchingClient(mqtt.CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5, manual_ack=True)
    c.receiver = lambda *args: received.append(args)
    return c


MESSAGES = [
    ("kiosk/a/health", b'{"v":1}', 1, 7, False, None),
    ("kiosk/a/cmd/res", b"x" * 300, 1, 65535, False, command_props(b"\x00\x01cmd")),
    ("kiosk/b/events", b"", 0, 0, True, None),
    ("kiosk/重庆/health", bytes(range(256)) * 80, 1, 1, False, None),  # 20 KB: a three-byte length
]
STREAM = b"".join(publish(*m) for m in MESSAGES) + b"\xd0\x00"  # and a PINGRESP


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 65536, "random"])
def test_every_packet_arrives_whole_however_the_stream_is_cut(chunk):
    rng = random.Random(chunk)
    received: list = []
    c = client(received)
    c._sock = Stream(STREAM, (lambda: rng.randint(1, 900)) if chunk == "random" else (lambda: chunk))
    c._ping_t = 123.0
    assert c.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert [(t, p, q, m, r) for t, p, q, m, r, _ in received] == [m[:5] for m in MESSAGES]
    assert c._ping_t == 0  # the PINGRESP went to paho's own handler
    props = decode_properties(received[1][5])
    assert props.CorrelationData == b"\x00\x01cmd" and props.UserProperty == [("k", "v"), ("二", "三")]
    assert not received[0][5][1:]  # no properties: just the zero length


def test_inbound_decodes_its_properties_when_asked():
    raw = command_props(b"id-1").pack()
    message = Inbound(topic="kiosk/a/cmd/res", payload=b"{}", qos=1, mid=1, retain=False, properties=None,
                      raw_properties=raw)
    assert message.decoded_properties().CorrelationData == b"id-1"
    assert Inbound(topic="t", payload=b"", qos=0, mid=0, retain=False, properties=None).decoded_properties() is None


def test_qos2_and_no_receiver_take_paho_path():
    got: list = []
    c = BatchingClient(mqtt.CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5, manual_ack=True)
    c.on_message = lambda client, userdata, message: got.append((message.topic, message.payload, message.qos))
    c._sock = Stream(publish("kiosk/a/health", b"{}", 1, 9), lambda: 4)
    c.loop_read()
    assert got == [("kiosk/a/health", b"{}", 1)]


def test_a_length_over_four_bytes_is_a_protocol_error():
    with pytest.raises(Exception):
        split_packet(b"\x30\xff\xff\xff\xff\x01")
    c = client([])
    c._sock = Stream(b"\x30\xff\xff\xff\xff\x01", lambda: 100)
    assert c._packet_read() == mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL


def test_ack_all_sends_what_ack_sends_one_by_one():
    mids = [1, 2, 300, 65535]
    one_by_one = BatchingClient(mqtt.CallbackAPIVersion.VERSION2, client_id="a", protocol=mqtt.MQTTv5, manual_ack=True)
    for mid in mids:
        one_by_one.ack(mid, 1)
    batched = BatchingClient(mqtt.CallbackAPIVersion.VERSION2, client_id="b", protocol=mqtt.MQTTv5, manual_ack=True)
    batched.ack_all(mids)
    assert len(batched._out_packet) == 1
    assert batched._out_packet[0]["packet"] == b"".join(p["packet"] for p in one_by_one._out_packet)
    batched.ack_all([])
    assert len(batched._out_packet) == 1
