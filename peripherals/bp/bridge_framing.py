"""Framing for a Bluetooth blood-pressure monitor carried over a USB/serial bridge (no I/O).

Bluetooth BP cuffs deliver 0x2A35 / 0x2A36 values over GATT; a kiosk reaches them through
a small bridge (a BLE central on a microcontroller, a USB CDC-ACM serial port). No public
standard frames those values on a serial line, so this module *defines* one — keep bridge
firmware in step with it (docs/devices/bp.md):

    SOH(0x01) | TYPE (1) | LEN (1, payload bytes) | PAYLOAD (LEN) | CRC16 (2, big-endian)

CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR; check value
0x29B1 for "123456789") over TYPE, LEN and PAYLOAD.

| type | dir | payload |
|---|---|---|
| 0x35 MEASUREMENT    | bridge→host | one 0x2A35 value (7..19 bytes) |
| 0x36 CUFF_PRESSURE  | bridge→host | one 0x2A36 value (7..19 bytes) |
| 0x06 ACK            | bridge→host | the TYPE of the command acknowledged (1 byte) |
| 0x45 ERROR ('E')    | bridge→host | one error code (1 byte, `BridgeErrorCode`) |
| 0x49 INFO ('I')     | bridge→host | ASCII ``model|serial|firmware`` (0..64 bytes) |
| 0x53 START ('S')    | host→bridge | empty: start a measurement (answered ACK, then CUFF_PRESSURE…, MEASUREMENT) |
| 0x58 STOP ('X')     | host→bridge | empty: stop and deflate (answered ACK) |
| 0x3F IDENTIFY ('?') | host→bridge | empty: answered INFO |
| 0x50 STATIC_PRESSURE ('P') | host→bridge | empty: answered by one CUFF_PRESSURE, the pressure in the cuff now, pump off (manometer mode, for the calibration check) |

STATIC_PRESSURE exists for maintenance: staff inflate the cuff by hand through a T-piece
with a reference manometer and compare its reading with the cuff sensor's (the static
pressure accuracy check of IEC 80601-2-30 / ISO 81060-1, limit ±3 mmHg). The bridge
reads its sensor without starting the pump or opening the valve; during a measurement it
answers ERROR BUSY.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, Field

from peripherals.bp.errors import BridgeFramingError
from peripherals.crc import crc16_ccitt_false

SOH = 0x01
HEADER_LEN = 3  # SOH, TYPE, LEN
CRC_LEN = 2
MAX_INFO_LEN = 64


class FrameType(IntEnum):
    MEASUREMENT = 0x35
    CUFF_PRESSURE = 0x36
    ACK = 0x06
    ERROR = 0x45
    INFO = 0x49
    START = 0x53
    STOP = 0x58
    IDENTIFY = 0x3F
    STATIC_PRESSURE = 0x50


# Allowed payload lengths per type: a wrong one is a framing error before the CRC is read.
PAYLOAD_LENGTHS: dict[FrameType, range] = {
    FrameType.MEASUREMENT: range(7, 20),
    FrameType.CUFF_PRESSURE: range(7, 20),
    FrameType.ACK: range(1, 2),
    FrameType.ERROR: range(1, 2),
    FrameType.INFO: range(0, MAX_INFO_LEN + 1),
    FrameType.START: range(0, 1),
    FrameType.STOP: range(0, 1),
    FrameType.IDENTIFY: range(0, 1),
    FrameType.STATIC_PRESSURE: range(0, 1),
}


class BridgeErrorCode(IntEnum):
    """Codes in an ERROR frame (defined here, with the framing)."""

    CUFF_LOOSE = 0x01  # cuff loose or not connected
    MOTION = 0x02  # body movement spoiled the measurement
    NO_PULSE = 0x03  # no usable oscillations found
    OVERPRESSURE = 0x04  # cuff pressure over the safety limit; deflated
    BUSY = 0x05  # START while a measurement runs
    ABORTED = 0x06  # stopped on the cuff itself (its stop button)
    LOW_BATTERY = 0x07
    BAD_FRAME = 0x10  # the bridge received a frame it could not read (CRC, length)
    INTERNAL = 0xFF


class BridgeFrame(BaseModel):
    type: FrameType
    payload: bytes = Field(default=b"", max_length=255)


class BridgeInfo(BaseModel):
    model: str = ""
    serial: str = ""
    firmware: str = ""


def encode_frame(frame: BridgeFrame) -> bytes:
    if len(frame.payload) not in PAYLOAD_LENGTHS[frame.type]:
        raise BridgeFramingError(f"payload length {len(frame.payload)} not allowed for {frame.type.name}")
    body = bytes([frame.type, len(frame.payload)]) + frame.payload
    return bytes([SOH]) + body + crc16_ccitt_false(body).to_bytes(2, "big")


def frame(type_: FrameType, payload: bytes = b"") -> bytes:
    """Shorthand: the wire bytes of one frame."""
    return encode_frame(BridgeFrame(type=type_, payload=payload))


class FrameDecoder:
    """Splits a byte stream into frames. Raises BridgeFramingError at the first bad byte.

    After an error the buffer is dropped: the caller resynchronises (flushes the port).
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of a frame begun but not complete (a truncated frame shows here)."""
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[BridgeFrame]:
        self._buf += data
        frames: list[BridgeFrame] = []
        while self._buf:
            try:
                found = self._take_one()
            except BridgeFramingError:
                self._buf.clear()
                raise
            if found is None:
                break
            frames.append(found)
        return frames

    def _take_one(self) -> BridgeFrame | None:
        buf = self._buf
        if buf[0] != SOH:
            raise BridgeFramingError(f"expected SOH, got 0x{buf[0]:02X}")
        if len(buf) < 2:
            return None
        try:
            ftype = FrameType(buf[1])
        except ValueError:
            raise BridgeFramingError(f"unknown frame type 0x{buf[1]:02X}") from None
        if len(buf) < HEADER_LEN:
            return None
        length = buf[2]
        if length not in PAYLOAD_LENGTHS[ftype]:
            raise BridgeFramingError(f"length {length} not allowed for {ftype.name}")
        total = HEADER_LEN + length + CRC_LEN
        if len(buf) < total:
            return None
        body = bytes(buf[1 : HEADER_LEN + length])
        crc = int.from_bytes(buf[HEADER_LEN + length : total], "big")
        if crc != crc16_ccitt_false(body):
            raise BridgeFramingError("CRC mismatch")
        del buf[:total]
        return BridgeFrame(type=ftype, payload=body[2:])


def decode_frame(data: bytes) -> BridgeFrame:
    """Exactly one complete frame. Raises BridgeFramingError."""
    decoder = FrameDecoder()
    frames = decoder.feed(bytes(data))
    if len(frames) != 1 or decoder.pending:
        raise BridgeFramingError("not exactly one complete frame")
    return frames[0]


# -- payload helpers -------------------------------------------------------------------------
def error_code(frame_: BridgeFrame) -> int:
    """The raw code of an ERROR frame (may be one `BridgeErrorCode` does not name)."""
    if frame_.type is not FrameType.ERROR or len(frame_.payload) != 1:
        raise BridgeFramingError("not an ERROR frame")
    return frame_.payload[0]


def encode_info(info: BridgeInfo) -> bytes:
    if any("|" in part for part in (info.model, info.serial, info.firmware)):
        raise BridgeFramingError("INFO fields may not contain '|'")
    text = "|".join((info.model, info.serial, info.firmware))
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        raise BridgeFramingError("INFO must be ASCII") from None
    if len(data) > MAX_INFO_LEN:
        raise BridgeFramingError("INFO too long")
    return data


def decode_info(payload: bytes) -> BridgeInfo:
    try:
        text = bytes(payload).decode("ascii")
    except UnicodeDecodeError:
        raise BridgeFramingError("INFO is not ASCII") from None
    if not text.isprintable():
        raise BridgeFramingError("INFO has control characters")
    parts = text.split("|")
    if len(parts) != 3:
        raise BridgeFramingError("INFO is not model|serial|firmware")
    return BridgeInfo(model=parts[0], serial=parts[1], firmware=parts[2])
