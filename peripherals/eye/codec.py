"""KVT/1 codec: frames and messages <-> bytes, no I/O.

Frame (docs/protocols/eye-tester.md):

    STX(0x02) SEQ TYPE LEN PAYLOAD[LEN] CRC_HI CRC_LO ETX(0x03)

CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout; check value
0x29B1 for "123456789", reveng CRC catalogue "CRC-16/IBM-3740") over SEQ..PAYLOAD, sent
high byte first. Framing is by length, without byte stuffing: `FrameParser` finds a
frame by STX + a plausible LEN + ETX at the right place + a good CRC; on a mismatch it
drops the STX (or, for a well-laid-out frame with a bad CRC, the whole frame) and searches
again, and it never waits for a long "frame" while a whole valid one sits later in the
buffer — so it resynchronises after garbage.

Only `KvtCodecError` subclasses are raised on bad input.
"""

from __future__ import annotations

import struct

from pydantic import BaseModel, Field, ValidationError

from peripherals.crc import crc16_ccitt_false

from .errors import BadPayloadLength, BadValue, CrcMismatch, FramingError, KvtCodecError, UnknownType
from .models import (
    Ack,
    Blank,
    Eye,
    FrameType,
    Hello,
    Info,
    Message,
    Nak,
    Optotype,
    Orientation,
    PadEvent,
    SelfTest,
    SelfTestReport,
    Show,
)

STX = 0x02
ETX = 0x03
HEADER_LEN = 4  # STX SEQ TYPE LEN
TRAILER_LEN = 3  # CRC_HI CRC_LO ETX
MAX_PAYLOAD = 64  # a longer LEN marks the STX as garbage, so garbage never stalls the parser long
MIN_FRAME = HEADER_LEN + TRAILER_LEN


# --- frames ------------------------------------------------------------------------------
class Frame(BaseModel):
    seq: int = Field(ge=0, le=255)
    type: int = Field(ge=0, le=255)
    payload: bytes = Field(default=b"", max_length=MAX_PAYLOAD)


class CorruptFrame(BaseModel):
    """A frame whose layout was right but whose CRC was not; seq/type are best guesses."""

    seq: int
    type: int


def encode_frame(frame: Frame) -> bytes:
    body = bytes((frame.seq, frame.type, len(frame.payload))) + frame.payload
    return bytes((STX,)) + body + struct.pack(">H", crc16_ccitt_false(body)) + bytes((ETX,))


def decode_frame(data: bytes) -> Frame:
    """Exactly one frame, nothing before or after it."""
    data = bytes(data)
    if len(data) < MIN_FRAME:
        raise FramingError(f"frame too short ({len(data)} bytes)")
    if data[0] != STX:
        raise FramingError("no STX")
    length = data[3]
    if length > MAX_PAYLOAD:
        raise FramingError(f"LEN {length} > {MAX_PAYLOAD}")
    if len(data) != length + MIN_FRAME:
        raise FramingError(f"LEN {length} does not match a {len(data)}-byte frame")
    if data[-1] != ETX:
        raise FramingError("no ETX")
    body = data[1 : HEADER_LEN + length]
    (crc,) = struct.unpack(">H", data[HEADER_LEN + length : HEADER_LEN + length + 2])
    if crc != crc16_ccitt_false(body):
        raise CrcMismatch(f"CRC {crc:04X} != {crc16_ccitt_false(body):04X}")
    return Frame(seq=data[1], type=data[2], payload=data[HEADER_LEN : HEADER_LEN + length])


class FrameParser:
    """Streaming deframer: feed bytes as they arrive, get whole frames out.

    `discarded` counts bytes dropped as garbage; `pending` is how many bytes wait for the
    rest of a frame. Never raises: bad input is garbage to skip, not an error to throw.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.discarded = 0

    @property
    def pending(self) -> int:
        return len(self._buf)

    @property
    def pending_bytes(self) -> bytes:
        return bytes(self._buf)

    def reset(self) -> None:
        self.discarded += len(self._buf)
        self._buf.clear()

    def feed(self, data: bytes) -> list[Frame | CorruptFrame]:
        buf = self._buf
        buf += data
        out: list[Frame | CorruptFrame] = []
        while buf:
            start = buf.find(STX)
            if start < 0:
                self.discarded += len(buf)
                buf.clear()
                break
            if start:
                self.discarded += start
                del buf[:start]
            if len(buf) < HEADER_LEN:
                break
            length = buf[3]
            if length > MAX_PAYLOAD:
                self._skip_one()
                continue
            total = length + MIN_FRAME
            if len(buf) < total:
                # Wait for the rest — unless a whole valid frame already sits further on:
                # then this "frame" was garbage whose LEN would swallow real frames.
                later = self._complete_frame_after_head()
                if later is None:
                    break
                self.discarded += later
                del buf[:later]
                continue
            if buf[total - 1] != ETX:
                self._skip_one()
                continue
            body = bytes(buf[1 : HEADER_LEN + length])
            crc = (buf[HEADER_LEN + length] << 8) | buf[HEADER_LEN + length + 1]
            if crc != crc16_ccitt_false(body):
                # Drop the damaged frame — but if a whole valid frame starts inside it, this
                # was garbage that merely looked framed: resume at that frame instead.
                out.append(CorruptFrame(seq=buf[1], type=buf[2]))
                later = self._complete_frame_after_head()
                skip = later if later is not None and later < total else total
                self.discarded += skip
                del buf[:skip]
                continue
            out.append(Frame(seq=buf[1], type=buf[2], payload=body[3:]))
            del buf[:total]
        return out

    def _complete_frame_after_head(self) -> int | None:
        """Offset of the first complete, CRC-valid frame that starts after offset 0."""
        buf = self._buf
        i = buf.find(STX, 1)
        while 0 < i <= len(buf) - MIN_FRAME:
            length = buf[i + 3]
            end = i + length + MIN_FRAME
            if length <= MAX_PAYLOAD and end <= len(buf) and buf[end - 1] == ETX:
                body = bytes(buf[i + 1 : i + HEADER_LEN + length])
                if (buf[end - 3] << 8 | buf[end - 2]) == crc16_ccitt_false(body):
                    return i
            i = buf.find(STX, i + 1)
        return None

    def _skip_one(self) -> None:
        del self._buf[:1]
        self.discarded += 1


# --- messages ----------------------------------------------------------------------------
ORIENTATION_CODE: dict[Orientation, int] = {
    Orientation.UP: ord("U"),
    Orientation.DOWN: ord("D"),
    Orientation.LEFT: ord("L"),
    Orientation.RIGHT: ord("R"),
}
CANNOT_SEE = ord("X")
EYE_CODE: dict[Eye, int] = {Eye.LEFT: ord("L"), Eye.RIGHT: ord("R"), Eye.BOTH: ord("B")}
_ORIENTATION_BY_CODE = {v: k for k, v in ORIENTATION_CODE.items()}
_EYE_BY_CODE = {v: k for k, v in EYE_CODE.items()}

_SELF_TEST_BITS = ("lamp", "display", "occluder", "pad")  # bit 0 .. bit 3, 1 = part OK


def encode_payload(msg: Message) -> bytes:
    if isinstance(msg, Hello):
        return bytes((msg.version,))
    if isinstance(msg, Show):
        o = msg.optotype
        return bytes((round(o.level * 10), ORIENTATION_CODE[o.orientation], EYE_CODE[o.eye]))
    if isinstance(msg, (Blank, SelfTest)):
        return b""
    if isinstance(msg, Ack):
        return b"" if msg.shown_ms is None else struct.pack(">I", msg.shown_ms)
    if isinstance(msg, Nak):
        return bytes((msg.code,))
    if isinstance(msg, Info):
        out = bytearray(struct.pack(">BHH", msg.version, msg.distance_mm, msg.pixel_pitch_um))
        for text in (msg.model, msg.serial, msg.firmware):
            raw = text.encode("ascii")
            out += bytes((len(raw),)) + raw
        return bytes(out)
    if isinstance(msg, SelfTestReport):
        return bytes((sum(1 << i for i, name in enumerate(_SELF_TEST_BITS) if getattr(msg, name)),))
    if isinstance(msg, PadEvent):
        key = CANNOT_SEE if msg.key is None else ORIENTATION_CODE[msg.key]
        return bytes((key,)) + struct.pack(">I", msg.device_time_ms)
    raise TypeError(f"not a KVT/1 message: {type(msg).__name__}")  # programming error, not bad input


def encode(seq: int, msg: Message) -> bytes:
    """One message as a complete frame."""
    return encode_frame(Frame(seq=seq, type=msg.frame_type, payload=encode_payload(msg)))


def _need(payload: bytes, *sizes: int) -> None:
    if len(payload) not in sizes:
        raise BadPayloadLength(f"payload of {len(payload)} bytes, expected {' or '.join(map(str, sizes))}")


def _decode_info(p: bytes) -> Info:
    if len(p) < 8:
        raise BadPayloadLength(f"INFO payload of {len(p)} bytes is too short")
    version, distance, pitch = struct.unpack(">BHH", p[:5])
    texts: list[str] = []
    pos = 5
    for _ in range(3):
        if pos >= len(p):
            raise BadPayloadLength("INFO text missing")
        n = p[pos]
        raw = p[pos + 1 : pos + 1 + n]
        if len(raw) != n:
            raise BadPayloadLength("INFO text runs past the payload")
        if any(not 0x20 <= b <= 0x7E for b in raw):
            raise BadValue("INFO text is not printable ASCII")
        texts.append(raw.decode("ascii"))
        pos += 1 + n
    if pos != len(p):
        raise BadPayloadLength("bytes after INFO texts")
    return Info(version=version, distance_mm=distance, pixel_pitch_um=pitch, model=texts[0], serial=texts[1], firmware=texts[2])


def _decode_show(p: bytes) -> Show:
    _need(p, 3)
    if not 40 <= p[0] <= 53:
        raise BadValue(f"level {p[0]} is not a GB 11533 row (40..53)")
    if p[1] not in _ORIENTATION_BY_CODE or p[2] not in _EYE_BY_CODE:
        raise BadValue("unknown orientation or eye code")
    return Show(optotype=Optotype(level=p[0] / 10, orientation=_ORIENTATION_BY_CODE[p[1]], eye=_EYE_BY_CODE[p[2]]))


def _decode_pad(p: bytes) -> PadEvent:
    _need(p, 5)
    if p[0] != CANNOT_SEE and p[0] not in _ORIENTATION_BY_CODE:
        raise BadValue(f"unknown key code 0x{p[0]:02X}")
    key = None if p[0] == CANNOT_SEE else _ORIENTATION_BY_CODE[p[0]]
    return PadEvent(key=key, device_time_ms=struct.unpack(">I", p[1:])[0])


def _decode_self_test_report(p: bytes) -> SelfTestReport:
    _need(p, 1)
    return SelfTestReport(**{name: bool(p[0] >> i & 1) for i, name in enumerate(_SELF_TEST_BITS)})


def _decode_ack(p: bytes) -> Ack:
    _need(p, 0, 4)
    return Ack(shown_ms=struct.unpack(">I", p)[0] if p else None)


def _decode_empty(cls):
    def decode(p: bytes):
        _need(p, 0)
        return cls()

    return decode


def _decode_hello(p: bytes) -> Hello:
    _need(p, 1)
    return Hello(version=p[0])


def _decode_nak(p: bytes) -> Nak:
    _need(p, 1)
    return Nak(code=p[0])


_DECODERS = {
    FrameType.HELLO: _decode_hello,
    FrameType.SHOW: _decode_show,
    FrameType.BLANK: _decode_empty(Blank),
    FrameType.SELF_TEST: _decode_empty(SelfTest),
    FrameType.ACK: _decode_ack,
    FrameType.NAK: _decode_nak,
    FrameType.INFO: _decode_info,
    FrameType.SELF_TEST_REPORT: _decode_self_test_report,
    FrameType.PAD: _decode_pad,
}


def decode_message(frame: Frame) -> Message:
    """The message a frame carries. UnknownType / BadPayloadLength / BadValue on bad input."""
    try:
        decoder = _DECODERS[FrameType(frame.type)]
    except ValueError:
        raise UnknownType(f"unknown frame type 0x{frame.type:02X}") from None
    try:
        return decoder(bytes(frame.payload))
    except KvtCodecError:
        raise
    except (ValidationError, ValueError, struct.error) as exc:
        raise BadValue(f"bad {FrameType(frame.type).name} payload") from exc


def decode(data: bytes) -> tuple[int, Message]:
    """One complete frame -> (seq, message)."""
    frame = decode_frame(data)
    return frame.seq, decode_message(frame)
