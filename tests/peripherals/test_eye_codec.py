"""KVT/1 codec: CRC, golden frames from docs/protocols/eye-tester.md §6, parser, properties."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peripherals.errors import CodecError
from peripherals.eye import codec
from peripherals.eye.errors import BadPayloadLength, BadValue, CrcMismatch, FramingError, KvtCodecError, UnknownType
from peripherals.eye.models import (
    LEVELS,
    MAX_TEXT,
    Ack,
    Blank,
    Eye,
    FrameType,
    Hello,
    Info,
    Nak,
    NakCode,
    Optotype,
    Orientation,
    PadEvent,
    SelfTest,
    SelfTestReport,
    Show,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- CRC ---------------------------------------------------------------------------------
def test_crc_check_value_from_public_catalogue():
    # reveng CRC catalogue, CRC-16/IBM-3740 (alias CRC-16/CCITT-FALSE):
    # width=16 poly=0x1021 init=0xffff refin=false refout=false xorout=0x0000 check=0x29b1
    # https://reveng.sourceforge.io/crc-catalogue/16.htm
    assert codec.crc16_ccitt_false(b"123456789") == 0x29B1


def bitwise_crc16_ccitt_false(data: bytes) -> int:
    """The catalogue's definition bit by bit (poly 0x1021, init 0xFFFF, MSB first, no xorout)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


@given(st.binary(max_size=80))
def test_crc_matches_the_bitwise_definition_and_the_standard_library(data):
    # peripherals.crc delegates to binascii.crc_hqx (the CCITT CRC, poly 0x1021, MSB first,
    # caller-given init); check it against the definition written out independently.
    assert codec.crc16_ccitt_false(data) == bitwise_crc16_ccitt_false(data) == binascii.crc_hqx(data, 0xFFFF)


# --- golden frames: the examples of docs/protocols/eye-tester.md §6 --------------------------
GOLDEN = [
    (1, Hello(version=1), "02 01 48 01 01 65 68 03"),
    (
        1,
        Info(distance_mm=5000, pixel_pitch_um=100, model="KVT-100", serial="SN0001", firmware="1.0.0"),
        "02 01 49 1A 01 13 88 00 64 07 4B 56 54 2D 31 30 30 06 53 4E 30 30 30 31 05 31 2E 30 2E 30 AA F1 03",
    ),
    (2, Show(optotype=Optotype(level=5.0, orientation="right", eye="left")), "02 02 53 03 32 52 4C AF 3C 03"),
    (2, Ack(shown_ms=123456), "02 02 06 04 00 01 E2 40 9C EE 03"),
    (3, Blank(), "02 03 42 00 FE 62 03"),
    (3, Ack(), "02 03 06 00 3F 6A 03"),
    (4, SelfTest(), "02 04 54 00 D2 27 03"),
    (4, SelfTestReport(lamp=True, display=True, occluder=True, pad=True), "02 04 52 01 0F BC 41 03"),
    (5, Show(optotype=Optotype(level=4.9, orientation="up", eye="right")), "02 05 53 03 31 55 52 54 45 03"),
    (5, Nak(code=NakCode.OCCLUDER_JAMMED), "02 05 15 01 10 B1 16 03"),
    (0x21, PadEvent(key=Orientation.RIGHT, device_time_ms=124321), "02 21 50 05 52 00 01 E5 A1 88 1E 03"),
    (0x21, Ack(), "02 21 06 00 D7 CC 03"),
    (0x22, PadEvent(key=None, device_time_ms=130000), "02 22 50 05 58 00 01 FB D0 48 0F 03"),
    (7, Nak(code=NakCode.BAD_CRC), "02 07 15 01 01 5E 6E 03"),
]


@pytest.mark.parametrize("seq,msg,wire", GOLDEN, ids=[f"{i}-{type(m).__name__}" for i, (_, m, _) in enumerate(GOLDEN, 1)])
def test_golden_frames(seq, msg, wire):
    raw = h(wire)
    assert codec.encode(seq, msg) == raw
    assert codec.decode(raw) == (seq, msg)
    # The CRC in each documented frame is checked by an independent implementation too.
    length = raw[3]
    assert int.from_bytes(raw[4 + length : 6 + length], "big") == binascii.crc_hqx(raw[1 : 4 + length], 0xFFFF)


def test_worked_crc_example_in_the_doc():
    assert codec.crc16_ccitt_false(h("03 42 00")) == 0xFE62


# --- decode errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "wire,error",
    [
        ("02 03 42 00 FE 62", FramingError),  # no ETX: too short
        ("01 03 42 00 FE 62 03", FramingError),  # no STX
        ("02 03 42 00 FE 62 04", FramingError),  # wrong ETX
        ("02 03 42 41 FE 62 03", FramingError),  # LEN 65 > 64
        ("02 03 42 01 FE 62 03", FramingError),  # LEN does not fit the frame
        ("02 03 42 00 FE 63 03", CrcMismatch),
    ],
)
def test_decode_frame_rejects(wire, error):
    with pytest.raises(error):
        codec.decode_frame(h(wire))


def frame(type_: int, payload: bytes, seq: int = 9) -> codec.Frame:
    return codec.Frame(seq=seq, type=type_, payload=payload)


@pytest.mark.parametrize(
    "f,error",
    [
        (frame(0x7A, b""), UnknownType),
        (frame(FrameType.SHOW, b"\x32\x52"), BadPayloadLength),
        (frame(FrameType.BLANK, b"\x00"), BadPayloadLength),
        (frame(FrameType.ACK, b"\x00\x00"), BadPayloadLength),
        (frame(FrameType.SHOW, b"\x3c\x52\x4c"), BadValue),  # level 6.0
        (frame(FrameType.SHOW, b"\x32\x51\x4c"), BadValue),  # orientation 'Q'
        (frame(FrameType.SHOW, b"\x32\x52\x58"), BadValue),  # eye 'X'
        (frame(FrameType.PAD, b"\x41\x00\x00\x00\x01"), BadValue),  # key 'A'
        (frame(FrameType.INFO, b"\x01\x13\x88\x00\x64\x01\x07\x00\x00"), BadValue),  # control char in text
        (frame(FrameType.INFO, b"\x01\x13\x88\x00\x64\x05AB\x00\x00"), BadPayloadLength),  # text runs past the end
    ],
)
def test_decode_message_rejects(f, error):
    with pytest.raises(error):
        codec.decode_message(f)


def test_ack_decodes_with_and_without_timestamp():
    assert codec.decode_message(frame(FrameType.ACK, b"")) == Ack()
    assert codec.decode_message(frame(FrameType.ACK, b"\xff\xff\xff\xff")) == Ack(shown_ms=0xFFFFFFFF)


def test_unknown_nak_codes_still_decode():
    assert codec.decode_message(frame(FrameType.NAK, b"\x7e")) == Nak(code=0x7E)


# --- the streaming parser ----------------------------------------------------------------
def test_parser_resynchronises_after_garbage_and_damage():
    good1, good2 = h(GOLDEN[4][2]), h(GOLDEN[10][2])
    damaged = bytearray(h(GOLDEN[2][2]))
    damaged[-2] ^= 0xFF
    stream = b"\xff\x02\x00\x50\x40" + good1 + bytes(damaged) + b"\x02\x02" + good2
    parser = codec.FrameParser()
    items = []
    for i in range(0, len(stream), 3):  # arrives in dribs
        items += parser.feed(stream[i : i + 3])
    frames = [x for x in items if isinstance(x, codec.Frame)]
    corrupt = [x for x in items if isinstance(x, codec.CorruptFrame)]
    assert [codec.encode_frame(f) for f in frames] == [good1, good2]
    assert [(c.seq, c.type) for c in corrupt] == [(2, FrameType.SHOW)]
    assert parser.pending == 0 and parser.discarded > 0


def test_parser_waits_for_the_rest_of_a_frame():
    raw = h(GOLDEN[1][2])
    parser = codec.FrameParser()
    assert parser.feed(raw[:10]) == []
    assert parser.pending == 10
    assert parser.feed(raw[10:]) == [codec.decode_frame(raw)]


# --- properties --------------------------------------------------------------------------
u32 = st.integers(0, 0xFFFF_FFFF)
optotypes = st.builds(
    Optotype, level=st.sampled_from(LEVELS), orientation=st.sampled_from(list(Orientation)), eye=st.sampled_from(list(Eye))
)
texts = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=MAX_TEXT)
messages = st.one_of(
    st.builds(Hello, version=st.integers(0, 255)),
    st.builds(Show, optotype=optotypes),
    st.just(Blank()),
    st.just(SelfTest()),
    st.builds(Ack, shown_ms=st.none() | u32),
    st.builds(Nak, code=st.integers(0, 255)),
    st.builds(
        Info,
        version=st.integers(0, 255),
        distance_mm=st.integers(0, 0xFFFF),
        pixel_pitch_um=st.integers(0, 0xFFFF),
        model=texts,
        serial=texts,
        firmware=texts,
    ),
    st.builds(SelfTestReport, lamp=st.booleans(), display=st.booleans(), occluder=st.booleans(), pad=st.booleans()),
    st.builds(PadEvent, key=st.none() | st.sampled_from(list(Orientation)), device_time_ms=u32),
)
frames = st.builds(codec.Frame, seq=st.integers(0, 255), type=st.integers(0, 255), payload=st.binary(max_size=64))


@given(st.integers(0, 255), messages)
def test_message_round_trip(seq, msg):
    assert codec.decode(codec.encode(seq, msg)) == (seq, msg)


@given(frames)
def test_frame_round_trip(f):
    assert codec.decode_frame(codec.encode_frame(f)) == f


@given(st.binary(max_size=100))
def test_arbitrary_bytes_raise_only_the_codec_error(data):
    try:
        codec.decode(data)
    except KvtCodecError:
        pass


@given(frames)
def test_arbitrary_payloads_raise_only_the_codec_error(f):
    try:
        codec.decode_message(f)
    except KvtCodecError:
        pass
    assert issubclass(KvtCodecError, CodecError)


@given(st.lists(st.binary(max_size=40), max_size=8))
def test_parser_never_raises(chunks):
    parser = codec.FrameParser()
    for chunk in chunks:
        for item in parser.feed(chunk):
            assert isinstance(item, (codec.Frame, codec.CorruptFrame))


@settings(max_examples=200)
@given(st.binary(max_size=80), frames, st.integers(1, 20))
def test_parser_finds_a_frame_after_any_garbage(garbage, f, chunk):
    # Zero padding completes any phantom frame that the garbage started, so the parser
    # gives up on it; the real frame must still come out.
    stream = garbage + codec.encode_frame(f) + bytes(codec.MAX_PAYLOAD + codec.MIN_FRAME)
    parser = codec.FrameParser()
    found = []
    for i in range(0, len(stream), chunk):
        found += parser.feed(stream[i : i + chunk])
    assert f in found


@given(st.lists(st.tuples(st.integers(0, 255), messages), min_size=1, max_size=5), st.integers(1, 9))
def test_parser_splits_a_stream_into_its_messages(items, chunk):
    stream = b"".join(codec.encode(seq, msg) for seq, msg in items)
    parser = codec.FrameParser()
    got = []
    for i in range(0, len(stream), chunk):
        got += parser.feed(stream[i : i + chunk])
    assert [(f.seq, codec.decode_message(f)) for f in got] == items
