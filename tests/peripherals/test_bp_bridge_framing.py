"""USB/serial bridge framing for 11073 records: CRC, frames, stream splitting, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peripherals.bp.bridge_framing import (
    PAYLOAD_LENGTHS,
    BridgeFrame,
    BridgeInfo,
    FrameDecoder,
    FrameType,
    crc16_ccitt_false,
    decode_frame,
    decode_info,
    encode_frame,
    encode_info,
    error_code,
    frame,
)
from peripherals.bp.errors import BridgeFramingError


# Check values from NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/util/CRC16Test.java (CCITT_FALSE_*),
# which match the CRC catalogue's check value 0x29B1 for CRC-16/CCITT-FALSE.
@pytest.mark.parametrize("data, crc", [(b"123456789", 0x29B1), (b"A", 0xB915), (b"", 0xFFFF)])
def test_crc16_ccitt_false_check_values(data, crc):
    assert crc16_ccitt_false(data) == crc


def test_frame_layout():
    # SOH, type, length, payload, CRC over type+length+payload, big-endian
    wire = frame(FrameType.ACK, b"S")
    assert wire[:4] == bytes([0x01, 0x06, 0x01, 0x53])
    assert int.from_bytes(wire[4:], "big") == crc16_ccitt_false(bytes([0x06, 0x01, 0x53]))
    assert frame(FrameType.START) == bytes([0x01, 0x53, 0x00]) + crc16_ccitt_false(bytes([0x53, 0x00])).to_bytes(2, "big")


def test_decoder_splits_a_stream_fed_byte_by_byte():
    stream = frame(FrameType.ACK, b"S") + frame(FrameType.CUFF_PRESSURE, bytes(7)) + frame(FrameType.ERROR, b"\x02")
    dec = FrameDecoder()
    out = []
    for b in stream:
        out += dec.feed(bytes([b]))
    assert [f.type for f in out] == [FrameType.ACK, FrameType.CUFF_PRESSURE, FrameType.ERROR]
    assert error_code(out[2]) == 2 and dec.pending == 0


def test_truncated_frame_stays_pending():
    dec = FrameDecoder()
    assert dec.feed(frame(FrameType.MEASUREMENT, bytes(7))[:5]) == []
    assert dec.pending == 5


@pytest.mark.parametrize(
    "wire",
    [
        b"\x02\x06\x01\x53\x00\x00",  # not SOH
        b"\x01\x99\x00\x00\x00",  # unknown type
        b"\x01\x06\x02\x53\x53\x00\x00",  # ACK with 2 payload bytes
        b"\x01\x35\x03\x00\x00\x00\x00\x00",  # record shorter than 7
        frame(FrameType.ACK, b"S")[:-1] + b"\x00",  # CRC wrong
    ],
)
def test_bad_frames_raise_framing_error_and_reset(wire):
    dec = FrameDecoder()
    with pytest.raises(BridgeFramingError):
        dec.feed(wire)
    assert dec.pending == 0
    assert dec.feed(frame(FrameType.INFO, b"a|b|c"))[0].type is FrameType.INFO  # usable again


def test_decode_frame_wants_exactly_one():
    with pytest.raises(BridgeFramingError):
        decode_frame(frame(FrameType.START) * 2)
    with pytest.raises(BridgeFramingError):
        decode_frame(frame(FrameType.START)[:-1])


def test_encode_rejects_wrong_payload_length():
    with pytest.raises(BridgeFramingError):
        encode_frame(BridgeFrame(type=FrameType.START, payload=b"x"))


def test_info_payload():
    info = BridgeInfo(model="M1", serial="S2", firmware="3.4")
    assert decode_info(encode_info(info)) == info
    for bad in (b"only-two|parts", b"a|b|c\x00", b"\xff|b|c"):
        with pytest.raises(BridgeFramingError):
            decode_info(bad)
    with pytest.raises(BridgeFramingError):
        encode_info(BridgeInfo(model="a|b"))


def _payload_for(ftype: FrameType) -> st.SearchStrategy[bytes]:
    allowed = PAYLOAD_LENGTHS[ftype]
    return st.binary(min_size=allowed.start, max_size=allowed.stop - 1)


frames = st.sampled_from(list(FrameType)).flatmap(
    lambda t: st.builds(BridgeFrame, type=st.just(t), payload=_payload_for(t))
)


@given(st.lists(frames, max_size=5), st.integers(1, 7))
def test_frames_round_trip_through_chunked_stream(items, chunk):
    stream = b"".join(encode_frame(f) for f in items)
    dec = FrameDecoder()
    out = []
    for i in range(0, len(stream), chunk):
        out += dec.feed(stream[i : i + chunk])
    assert out == items and dec.pending == 0


@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_framing_error(data):
    try:
        FrameDecoder().feed(data)
    except BridgeFramingError:
        pass
    try:
        decode_frame(data)
    except BridgeFramingError:
        pass
    try:
        decode_info(data)
    except BridgeFramingError:
        pass
