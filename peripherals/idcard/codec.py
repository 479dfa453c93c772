"""GA 467 SAM frames and the ID card text block: bytes <-> pydantic models, no I/O.

Frame (both directions): ``AA AA AA 96 69 | LEN (2 B, big-endian) | body | CHK``.
LEN counts body + CHK; CHK is the XOR of LEN1 .. last body byte. A request body is
``CMD PARA data``, a response body ``SW1 SW2 SW3 data`` (SW1 = SW2 = 0). Sources:
raymond1860/idr ``source/host/IdentityCard.c`` (command table, expected replies),
HslCommunication ``Profinet/IDCard/SAMSerial.cs`` (``PackToSAMCommand``,
``CheckADSCommandAndSum``, ``ExtractSafeModuleNumber``), libsamv.h (SW3 codes).

The 256-byte text block (UCS-2LE; its layout chosen by the letter at bytes 248-249) is
decoded into the typed card models by `text_block.py`; layouts and sources:
docs/devices/idcard.md.

Every failure raises `IdCardCodecError` (or one of its subclasses, see errors.py); messages
never carry card contents.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from pydantic import BaseModel, ConfigDict

from peripherals.idcard.errors import IdCardCodecError
from peripherals.idcard.models import IdCard
from peripherals.idcard.errors import TextBlockTruncated
from peripherals.idcard.text_block import TEXT_LEN, decode_card_text, encode_text
from peripherals.idcard.text_block import card_flag, decode_text  # noqa: F401  (re-exported: the codec's API)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2  # preamble + LEN
MIN_LEN = 3  # CMD PARA CHK, the shortest real frame
MAX_LEN = 0x1000  # the largest real reply is 0x090A (text + photo + fingerprint)
PHOTO_LEN = 1024
FINGERPRINT_LEN = 1024


class Command(IntEnum):
    """(CMD << 8) | PARA of each request we send (libsamv.h SAMV_CMD_*/SAMV_PARA_*)."""

    RESET = 0x10FF
    SAM_STATUS = 0x11FF
    READ_SAM_ID = 0x12FF
    FIND_CARD = 0x2001
    SELECT_CARD = 0x2002
    READ_BASE_INFO = 0x3001
    READ_WITH_FINGERPRINT = 0x3010
    READ_LATEST_ADDRESS = 0x3003  # 追加住址: the address the card was updated to after a move

    @property
    def cmd(self) -> int:
        return self.value >> 8

    @property
    def para(self) -> int:
        return self.value & 0xFF


class Sw3(IntEnum):
    OK = 0x90
    CARD_FOUND = 0x9F
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    COMMAND_ERROR = 0x21
    CARD_READ_FAILED = 0x41
    NO_CARD = 0x80
    SELECT_FAILED = 0x81
    NO_CONTENT = 0x91  # "item has no content": e.g. no appended address on the card


# -- messages -------------------------------------------------------------------------------
class Frame(BaseModel):
    """One checked frame: the bytes between LEN and CHK."""

    model_config = ConfigDict(frozen=True)
    body: bytes

    def to_bytes(self) -> bytes:
        return encode_frame(self.body)


class BadFrame(BaseModel):
    """What the incremental parser reports instead of a frame it had to drop."""

    model_config = ConfigDict(frozen=True)
    reason: str


class Request(BaseModel):
    model_config = ConfigDict(frozen=True)
    cmd: int
    para: int
    data: bytes = b""

    @classmethod
    def of(cls, command: Command, data: bytes = b"") -> "Request":
        return cls(cmd=command.cmd, para=command.para, data=data)

    @property
    def command(self) -> int:
        return (self.cmd << 8) | self.para


class Response(BaseModel):
    model_config = ConfigDict(frozen=True)
    sw1: int = 0
    sw2: int = 0
    sw3: int
    data: bytes = b""


class CardData(BaseModel):
    """The data of a read reply: text block, WLT photo and (30 10 only) fingerprint."""

    model_config = ConfigDict(frozen=True)
    text: bytes
    photo: bytes
    fingerprint: bytes | None = None  # None: the reply had no fingerprint length (30 01)


class SamId(BaseModel):
    """The 16 bytes after `00 00 90` in the READ SAM ID reply."""

    model_config = ConfigDict(frozen=True)
    raw: bytes

    def __str__(self) -> str:
        return format_sam_id(self.raw)


# -- frames ---------------------------------------------------------------------------------
def xor_checksum(data: bytes) -> int:
    """XOR of all bytes, folded on one big integer (fast for the 1.3-2.3 kB read replies)."""
    width = len(data)
    value = int.from_bytes(data, "little")
    while width > 1:
        half = (width + 1) // 2
        bits = 8 * half
        value = (value >> bits) ^ (value & ((1 << bits) - 1))
        width = half
    return value


def encode_frame(body: bytes) -> bytes:
    length = len(body) + 1
    if not MIN_LEN <= length <= 0xFFFF:
        raise IdCardCodecError("frame body length out of range")
    head = length.to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([xor_checksum(head + body)])


def encode_request(request: Request) -> bytes:
    return encode_frame(bytes([request.cmd, request.para]) + request.data)


def encode_response(response: Response) -> bytes:
    return encode_frame(bytes([response.sw1, response.sw2, response.sw3]) + response.data)


def command_frame(command: Command) -> bytes:
    """The 10-byte request for a data-less command, e.g. reset `AA AA AA 96 69 00 03 10 FF EC`."""
    return encode_request(Request.of(command))


def decode_request(frame: Frame) -> Request:
    body = frame.body
    if len(body) < 2:
        raise IdCardCodecError("request frame shorter than CMD PARA")
    return Request(cmd=body[0], para=body[1], data=body[2:])


def decode_response(frame: Frame) -> Response:
    body = frame.body
    if len(body) < 3:
        raise IdCardCodecError("response frame shorter than SW1 SW2 SW3")
    return Response(sw1=body[0], sw2=body[1], sw3=body[2], data=body[3:])


def _check_frame_at(data: bytes, pos: int) -> int:
    """Validate the frame starting at `pos`; return its end offset."""
    if data[pos : pos + 5] != PREAMBLE:
        raise IdCardCodecError("frame does not start with AA AA AA 96 69")
    if len(data) < pos + HEADER_LEN:
        raise IdCardCodecError("frame shorter than its header")
    length = (data[pos + 5] << 8) | data[pos + 6]
    if not MIN_LEN <= length <= MAX_LEN:
        raise IdCardCodecError("frame length out of range")
    end = pos + HEADER_LEN + length
    if len(data) < end:
        raise IdCardCodecError("frame truncated")
    if xor_checksum(data[pos + 5 : end - 1]) != data[end - 1]:
        raise IdCardCodecError("frame checksum mismatch")
    return end


def decode_frames(data: bytes) -> list[Frame]:
    """Strictly decode `data` as back-to-back frames (no garbage allowed); for tests and benchmarks."""
    frames: list[Frame] = []
    pos = 0
    data = bytes(data)
    while pos < len(data):
        end = _check_frame_at(data, pos)
        frames.append(Frame(body=data[pos + HEADER_LEN : end - 1]))
        pos = end
    return frames


class FrameParser:
    """Incremental frame parser for the driver (and the simulator's request side).

    `feed()` returns the frames completed by the new bytes, plus a `BadFrame` for each
    candidate frame dropped (bad length or checksum). Bytes before a preamble are
    skipped and counted in `discarded`; after a bad candidate the scan restarts one byte
    after its preamble, so a good frame inside garbage is still found. Never raises.
    """

    def __init__(self, max_len: int = MAX_LEN) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self.discarded = 0

    def reset(self) -> None:
        self._buf.clear()
        self.discarded = 0

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        buf = self._buf
        buf += data
        out: list[Frame | BadFrame] = []
        while True:
            start = buf.find(PREAMBLE)
            if start < 0:
                keep = _partial_preamble_suffix(buf)
                self.discarded += len(buf) - keep
                del buf[: len(buf) - keep]
                return out
            if start:
                self.discarded += start
                del buf[:start]
            if len(buf) < HEADER_LEN:
                return out
            length = (buf[5] << 8) | buf[6]
            if not MIN_LEN <= length <= self.max_len:
                out.append(BadFrame(reason="length out of range"))
                self.discarded += 1
                del buf[:1]
                continue
            end = HEADER_LEN + length
            if len(buf) < end:
                return out
            if xor_checksum(bytes(buf[5 : end - 1])) != buf[end - 1]:
                out.append(BadFrame(reason="checksum mismatch"))
                self.discarded += 1
                del buf[:1]
                continue
            out.append(Frame(body=bytes(buf[HEADER_LEN : end - 1])))
            del buf[:end]


def _partial_preamble_suffix(buf: bytearray) -> int:
    """Length of the longest tail of `buf` that could be the start of a preamble."""
    for n in range(min(len(buf), len(PREAMBLE) - 1), 0, -1):
        if buf[-n:] == PREAMBLE[:n]:
            return n
    return 0


# -- SAM ID ---------------------------------------------------------------------------------
def format_sam_id(raw: bytes) -> str:
    """`xx.xx-<u32 LE>-<u32 LE>-<u32 LE>` from the 16 SAM ID bytes.

    Two u16 LE (2 digits each), then three u32 LE padded to 8, 10 and 10 digits, as
    raymond1860/idr `SamID_Caculate` pads them; the dot after the first field is
    HslCommunication `ExtractSafeModuleNumber`'s (which reads bytes 0 and 2 as one byte
    each: the same value while the high bytes are zero, as on real SAMs).
    """
    if len(raw) != 16:
        raise IdCardCodecError("SAM ID is 16 bytes")
    a, b, c, d, e = struct.unpack("<HHIII", raw)
    return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"


def encode_sam_id(a: int, b: int, c: int, d: int, e: int) -> bytes:
    try:
        return struct.pack("<HHIII", a, b, c, d, e)
    except struct.error:
        raise IdCardCodecError("SAM ID field out of range") from None


def decode_sam_id(data: bytes) -> SamId:
    if len(data) < 16:
        raise IdCardCodecError("SAM ID reply shorter than 16 bytes")
    return SamId(raw=bytes(data[:16]))


# -- read reply -----------------------------------------------------------------------------
def decode_card_data(data: bytes) -> CardData:
    """Split read-reply data: text len, photo len [, fingerprint len] (2 B BE each), then blocks.

    Whether a fingerprint length is present is told by the total size (30 01 vs 30 10).
    """
    if len(data) < 4:
        raise IdCardCodecError("read reply shorter than its length fields")
    text_len = (data[0] << 8) | data[1]
    photo_len = (data[2] << 8) | data[3]
    if text_len != TEXT_LEN:
        raise TextBlockTruncated("text block is not 256 bytes")
    if len(data) == 4 + text_len + photo_len:
        start, fp_len = 4, None
    elif len(data) >= 6 and len(data) == 6 + text_len + photo_len + ((data[4] << 8) | data[5]):
        start, fp_len = 6, (data[4] << 8) | data[5]
    else:
        raise IdCardCodecError("read reply length does not match its length fields")
    text = bytes(data[start : start + text_len])
    photo = bytes(data[start + text_len : start + text_len + photo_len])
    fingerprint = None if fp_len is None else bytes(data[start + text_len + photo_len :])
    return CardData(text=text, photo=photo, fingerprint=fingerprint)


def encode_card_data(card: CardData) -> bytes:
    if len(card.text) != TEXT_LEN or len(card.photo) > 0xFFFF:
        raise IdCardCodecError("text block must be 256 bytes")
    head = struct.pack(">HH", len(card.text), len(card.photo))
    if card.fingerprint is None:
        return head + card.text + card.photo
    return head + struct.pack(">H", len(card.fingerprint)) + card.text + card.photo + card.fingerprint


def decode_card(data: CardData) -> IdCard:
    """The typed card in a read reply's data (text block decoded, photo/fingerprint attached)."""
    return decode_card_text(data.text, data.photo, data.fingerprint)


def decode_read_reply_frame(frame: bytes) -> IdCard:
    """Fastest path from one complete read-reply frame (SW3 must be 0x90) to an IdCard."""
    frame = bytes(frame)
    end = _check_frame_at(frame, 0)
    if end != len(frame):
        raise IdCardCodecError("bytes after the frame")
    if len(frame) < HEADER_LEN + 4 or frame[9] != Sw3.OK:
        raise IdCardCodecError("not a successful read reply")
    return decode_card(decode_card_data(frame[10:-1]))


ADDRESS_LEN = 70  # one appended address: 35 UCS-2LE characters, like the text block's address


def decode_latest_address(data: bytes) -> str:
    """The appended address in a 30 03 reply's data ("" when the card has none)."""
    if len(data) < ADDRESS_LEN or len(data) % 2:
        raise IdCardCodecError("appended address reply shorter than 70 bytes")
    try:
        return bytes(data[:ADDRESS_LEN]).decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError:
        raise IdCardCodecError("appended address is not UCS-2") from None


def encode_latest_address(address: str) -> bytes:
    raw = address.encode("utf-16-le")
    if len(raw) > ADDRESS_LEN or len(raw) != 2 * len(address):
        raise IdCardCodecError("appended address too long, or outside UCS-2")
    return raw + " ".encode("utf-16-le") * ((ADDRESS_LEN - len(raw)) // 2)


def encode_card(card: IdCard, with_fingerprint: bool = False) -> bytes:
    """Read-reply data for `card` (30 01, or 30 10 when `with_fingerprint`)."""
    fingerprint = (card.fingerprint or b"") if with_fingerprint else None
    return encode_card_data(CardData(text=encode_text(card), photo=card.photo_wlt, fingerprint=fingerprint))


def encode_read_reply_frame(card: IdCard, with_fingerprint: bool = False) -> bytes:
    return encode_response(Response(sw3=Sw3.OK, data=encode_card(card, with_fingerprint)))
