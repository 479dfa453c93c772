"""GA 467 SAM frames and the ID card text block: bytes <-> pydantic models, no I/O.

Frame (both directions): ``AA AA AA 96 69 | LEN (2 B, big-endian) | body | CHK``.
LEN counts body + CHK; CHK is the XOR of LEN1 .. last body byte. A request body is
``CMD PARA data``, a response body ``SW1 SW2 SW3 data`` (SW1 = SW2 = 0). Sources:
raymond1860/idr ``source/host/IdentityCard.c`` (command table, expected replies),
HslCommunication ``Profinet/IDCard/SAMSerial.cs`` (``PackToSAMCommand``,
``CheckADSCommandAndSum``, ``ExtractSafeModuleNumber``), libsamv.h (SW3 codes).

The 256-byte text block is UCS-2LE, space padded; its layout depends on the letter at
bytes 248-249 (none: resident card, 'J' HK/Macau/Taiwan permit, 'I' / 'Y' foreign
permanent resident cards). Layouts: /work/shared/reference/peripherals.md §1.

Every failure raises `IdCardCodecError` (or its subclasses `InvalidIdNumber`,
`UnsupportedCardLayout`); messages never carry card contents.
"""

from __future__ import annotations

import re
import struct
from datetime import date
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, ValidationError

from peripherals.idcard import id_number as idn
from peripherals.idcard.errors import IdCardCodecError, UnsupportedCardLayout
from peripherals.idcard.models import LONG_TERM, CardType, IdCard
from peripherals.idcard.nations import nation_code, nation_name

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2  # preamble + LEN
MIN_LEN = 3  # CMD PARA CHK, the shortest real frame
MAX_LEN = 0x1000  # the largest real reply is 0x090A (text + photo + fingerprint)
TEXT_LEN = 256
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
        raise IdCardCodecError("text block is not 256 bytes")
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
    """The card in a read reply's data (text block decoded, photo/fingerprint attached)."""
    fields = decode_text(data.text)
    try:
        return IdCard(**fields, photo_wlt=data.photo, fingerprint=data.fingerprint or None)
    except ValidationError:
        raise IdCardCodecError("card fields do not make a valid card") from None


def decode_read_reply_frame(frame: bytes) -> IdCard:
    """Fastest path from one complete read-reply frame (SW3 must be 0x90) to an IdCard."""
    frame = bytes(frame)
    end = _check_frame_at(frame, 0)
    if end != len(frame):
        raise IdCardCodecError("bytes after the frame")
    if len(frame) < HEADER_LEN + 4 or frame[9] != Sw3.OK:
        raise IdCardCodecError("not a successful read reply")
    return decode_card(decode_card_data(frame[10:-1]))


# -- 256-byte text block --------------------------------------------------------------------
_SEX_BY_CODE = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}
_CODE_BY_SEX = {v: k for k, v in _SEX_BY_CODE.items()}
_DIGITS8 = re.compile(r"[0-9]{8}")
_DIGITS = re.compile(r"[0-9]{1,2}")


def _text(block: bytes, start: int, end: int) -> str:
    try:
        return block[start:end].decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError:
        raise IdCardCodecError("text block is not valid UCS-2") from None


def _date(value: str) -> date:
    if not _DIGITS8.fullmatch(value):
        raise IdCardCodecError("date field is not YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise IdCardCodecError("date field is not a calendar date") from None


def _valid_to(value: str) -> date | str:
    return LONG_TERM if value == LONG_TERM else _date(value)


def _sex(value: str) -> str:
    try:
        return _SEX_BY_CODE[value]
    except KeyError:
        raise IdCardCodecError("unknown gender code") from None


def _count(value: str) -> int | None:
    if not value:
        return None
    if not _DIGITS.fullmatch(value):
        raise IdCardCodecError("count field is not a number")
    return int(value)


def card_flag(block: bytes) -> str:
    """'' (resident card), 'J', 'I' or 'Y' from bytes 248-249; UnsupportedCardLayout otherwise."""
    if len(block) != TEXT_LEN:
        raise IdCardCodecError("text block is not 256 bytes")
    flag = _text(block, 248, 250)
    if flag not in ("", "J", "I", "Y"):
        raise UnsupportedCardLayout("unknown card type flag")
    return flag


def decode_text(block: bytes) -> dict:
    """The IdCard fields (without photo) held in a 256-byte text block."""
    flag = card_flag(block)
    if flag == "I":
        return _decode_foreign_i(block)
    if flag == "Y":
        return _decode_foreign_y(block)
    return _decode_resident(block, hmt=flag == "J")


def _decode_resident(b: bytes, hmt: bool) -> dict:
    nation = _text(b, 32, 36)
    fields = dict(
        card_type=CardType.HMT_PERMIT if hmt else CardType.RESIDENT,
        card_flag="J" if hmt else "",
        name=_text(b, 0, 30),
        sex=_sex(_text(b, 30, 32)),
        nation=nation_name(nation) if nation or not hmt else None,
        birth_date=_date(_text(b, 36, 52)),
        address=_text(b, 52, 122),
        id_number=idn.validate(_text(b, 122, 158)),
        issuer=_text(b, 158, 188),
        valid_from=_date(_text(b, 188, 204)),
        valid_to=_valid_to(_text(b, 204, 220)),
    )
    if hmt:
        fields["pass_number"] = _text(b, 220, 238) or None
        fields["issue_count"] = _count(_text(b, 238, 242))
    return fields


def _decode_foreign_i(b: bytes) -> dict:
    card_number = _text(b, 122, 152)
    if not card_number.isascii() or not card_number.isalnum():
        raise IdCardCodecError("foreign card number is not alphanumeric")
    return dict(
        card_type=CardType.FOREIGN_PR,
        card_flag="I",
        english_name=_text(b, 0, 120) or None,
        sex=_sex(_text(b, 120, 122)),
        id_number=card_number,
        nationality=_text(b, 152, 158) or None,
        name=_text(b, 158, 188),
        valid_from=_date(_text(b, 188, 204)),
        valid_to=_valid_to(_text(b, 204, 220)),
        birth_date=_date(_text(b, 220, 236)),
        card_version=_text(b, 236, 240) or None,
        issuer=_text(b, 240, 248),
    )


def _decode_foreign_y(b: bytes) -> dict:
    try:
        english = (b[52:122] + b[220:242]).decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError:
        raise IdCardCodecError("text block is not valid UCS-2") from None
    return dict(
        card_type=CardType.FOREIGN_PR,
        card_flag="Y",
        name=_text(b, 0, 30),
        sex=_sex(_text(b, 30, 32)),
        issue_count=_count(_text(b, 32, 36)),
        birth_date=_date(_text(b, 36, 52)),
        english_name=english or None,
        id_number=idn.validate(_text(b, 122, 158)),
        valid_from=_date(_text(b, 188, 204)),
        valid_to=_valid_to(_text(b, 204, 220)),
        nationality=_text(b, 242, 248) or None,
        related_card=_text(b, 250, 256) or None,
    )


# -- encoding the text block (the simulator's side) -----------------------------------------
def _put(block: bytearray, start: int, end: int, value: str) -> None:
    try:
        raw = value.encode("utf-16-le")
    except UnicodeEncodeError:
        raise IdCardCodecError("field is not encodable as UCS-2") from None
    if len(raw) > end - start or len(raw) != 2 * len(value):
        raise IdCardCodecError("field too long for its slot, or outside UCS-2")
    block[start:end] = raw + " ".encode("utf-16-le") * ((end - start - len(raw)) // 2)


def _ymd(value: date | str) -> str:
    return value if isinstance(value, str) else f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _flag_for(card: IdCard) -> str:
    if card.card_type is CardType.RESIDENT:
        return ""
    if card.card_type is CardType.HMT_PERMIT:
        return "J"
    return card.card_flag if card.card_flag in ("I", "Y") else "Y"


def encode_text(card: IdCard) -> bytes:
    """The 256-byte UCS-2LE text block a SAM would return for `card`."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_LEN // 2))
    flag = _flag_for(card)
    sex = _CODE_BY_SEX[card.sex]
    if flag in ("", "J"):
        _put(block, 0, 30, card.name)
        _put(block, 30, 32, sex)
        _put(block, 32, 36, nation_code(card.nation) if card.nation else "")
        _put(block, 36, 52, _ymd(card.birth_date))
        _put(block, 52, 122, card.address)
        _put(block, 122, 158, card.id_number)
        _put(block, 158, 188, card.issuer)
        _put(block, 188, 204, _ymd(card.valid_from))
        _put(block, 204, 220, _ymd(card.valid_to))
        if flag == "J":
            _put(block, 220, 238, card.pass_number or "")
            _put(block, 238, 242, "" if card.issue_count is None else f"{card.issue_count:02d}")
    elif flag == "I":
        _put(block, 0, 120, card.english_name or "")
        _put(block, 120, 122, sex)
        _put(block, 122, 152, card.id_number)
        _put(block, 152, 158, card.nationality or "")
        _put(block, 158, 188, card.name)
        _put(block, 188, 204, _ymd(card.valid_from))
        _put(block, 204, 220, _ymd(card.valid_to))
        _put(block, 220, 236, _ymd(card.birth_date))
        _put(block, 236, 240, card.card_version or "")
        _put(block, 240, 248, card.issuer)
    else:  # "Y"
        english = card.english_name or ""
        if len(english) > 46:
            raise IdCardCodecError("English name longer than 46 characters")
        english = english.ljust(46)
        _put(block, 0, 30, card.name)
        _put(block, 30, 32, sex)
        _put(block, 32, 36, "" if card.issue_count is None else f"{card.issue_count:02d}")
        _put(block, 36, 52, _ymd(card.birth_date))
        _put(block, 52, 122, english[:35])
        _put(block, 122, 158, card.id_number)
        _put(block, 188, 204, _ymd(card.valid_from))
        _put(block, 204, 220, _ymd(card.valid_to))
        _put(block, 220, 242, english[35:])
        _put(block, 242, 248, card.nationality or "")
        _put(block, 250, 256, card.related_card or "")
    if flag:
        _put(block, 248, 250, flag)
    return bytes(block)


def encode_card(card: IdCard, with_fingerprint: bool = False) -> bytes:
    """Read-reply data for `card` (30 01, or 30 10 when `with_fingerprint`)."""
    fingerprint = (card.fingerprint or b"") if with_fingerprint else None
    return encode_card_data(CardData(text=encode_text(card), photo=card.photo_wlt, fingerprint=fingerprint))


def encode_read_reply_frame(card: IdCard, with_fingerprint: bool = False) -> bytes:
    return encode_response(Response(sw3=Sw3.OK, data=encode_card(card, with_fingerprint)))
