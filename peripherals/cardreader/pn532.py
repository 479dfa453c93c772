"""NXP PN532 host frames over HSU (UART, 115200 8N1): the reader's documented wire protocol.

Why the PN532 over serial and not PC/SC: the kiosk's contactless readers are serial/USB-CDC
modules, and the PN532's frame format is public (NXP UM0701-02 "PN532 User Manual",
§6.2 "Host controller communication protocol"): so a simulator on a pty speaks exactly
what the real module speaks, with no pcscd, no driver bundle and no virtual-reader daemon
in CI. APDUs to an ISO/IEC 14443-4 card travel inside InDataExchange.

Normal information frame (§6.2.1.1):
    00 | 00 FF | LEN | LCS | TFI | PD0 … PDn | DCS | 00
    LEN = bytes of TFI + PD;  LEN + LCS ≡ 0 (mod 256);  TFI + ΣPD + DCS ≡ 0 (mod 256)
    TFI = D4 host → PN532, D5 PN532 → host; PD0 = command code (answer: code + 1)
ACK 00 00 FF 00 FF 00 (the PN532 confirms every command before it answers), NACK
00 00 FF FF 00 00, application error frame 00 00 FF 01 FF 7F 81 00. Before its first
command after power-up a host wakes an HSU PN532 with 55 55 00 00 00 … (§7.2.11).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from peripherals.errors import CodecError

START = b"\x00\xff"
ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"
WAKEUP = b"\x55\x55" + b"\x00" * 14
TFI_HOST = 0xD4
TFI_PN532 = 0xD5


class Pn532Command(IntEnum):
    GET_FIRMWARE_VERSION = 0x02
    SAM_CONFIGURATION = 0x14
    IN_DATA_EXCHANGE = 0x40
    IN_LIST_PASSIVE_TARGET = 0x4A
    IN_RELEASE = 0x52


class InStatus(IntEnum):
    """The status byte of InDataExchange (UM0701-02 §7.1 "Error handling"), the ones we meet."""

    OK = 0x00
    TIMEOUT = 0x01  # the target did not answer: the card left the field
    CRC_ERROR = 0x02
    TARGET_RELEASED = 0x29


class Pn532CodecError(CodecError):
    pass


@dataclass(frozen=True)
class Frame:
    tfi: int
    data: bytes  # PD0 … PDn

    @property
    def command(self) -> int:
        return self.data[0] if self.data else -1


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Nack:
    pass


@dataclass(frozen=True)
class ErrorFrame:
    pass


@dataclass(frozen=True)
class BadFrame:
    reason: str


Parsed = Frame | Ack | Nack | ErrorFrame | BadFrame


def encode(tfi: int, data: bytes) -> bytes:
    body = bytes([tfi]) + data
    if not 1 <= len(body) <= 255:
        raise Pn532CodecError("a normal frame carries 1-255 bytes")
    return b"\x00\x00\xff" + bytes([len(body), (-len(body)) & 0xFF]) + body + bytes([(-sum(body)) & 0xFF, 0x00])


def command(code: Pn532Command, params: bytes = b"") -> bytes:
    return encode(TFI_HOST, bytes([code]) + params)


def answer(code: int, params: bytes = b"") -> bytes:
    return encode(TFI_PN532, bytes([code + 1]) + params)


class FrameParser:
    """Bytes in, frames out; skips noise (wake-up bytes, preambles) between frames."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def reset(self) -> None:
        self.buf.clear()

    def feed(self, data: bytes) -> list[Parsed]:
        self.buf += data
        out: list[Parsed] = []
        while True:
            at = self.buf.find(START)
            if at < 0:
                del self.buf[: max(0, len(self.buf) - 1)]
                return out
            del self.buf[:at]
            if len(self.buf) < 4:
                return out
            ln, lcs = self.buf[2], self.buf[3]
            if (ln, lcs) == (0x00, 0xFF):
                del self.buf[:4]
                out.append(Ack())
                continue
            if (ln, lcs) == (0xFF, 0x00):
                del self.buf[:4]
                out.append(Nack())
                continue
            if (ln + lcs) & 0xFF:
                del self.buf[:2]
                out.append(BadFrame("length checksum"))
                continue
            need = 4 + ln + 1
            if len(self.buf) < need:
                return out
            body = bytes(self.buf[4: 4 + ln])
            dcs = self.buf[4 + ln]
            del self.buf[:need]
            if (sum(body) + dcs) & 0xFF:
                out.append(BadFrame("data checksum"))
            elif body == b"\x7f":
                out.append(ErrorFrame())
            else:
                out.append(Frame(body[0], body[1:]))


@dataclass(frozen=True)
class Target:
    """One ISO/IEC 14443 type A target from InListPassiveTarget (106 kbps)."""

    number: int
    sens_res: bytes
    sel_res: int
    uid: bytes
    ats: bytes

    @property
    def iso14443_4(self) -> bool:
        return bool(self.sel_res & 0x20)  # SAK bit 6: ISO/IEC 14443-4 compliant


def encode_targets(targets: list[Target]) -> bytes:
    out = bytes([len(targets)])
    for t in targets:
        out += bytes([t.number]) + t.sens_res + bytes([t.sel_res, len(t.uid)]) + t.uid + t.ats
    return out


def decode_targets(data: bytes) -> list[Target]:
    """The parameters of an InListPassiveTarget answer (after the 0x4B code)."""
    try:
        count, i, out = data[0], 1, []
        for _ in range(count):
            number, sens, sel, uid_len = data[i], data[i + 1: i + 3], data[i + 3], data[i + 4]
            i += 5
            uid = data[i: i + uid_len]
            i += uid_len
            ats = b""
            if sel & 0x20:
                ats_len = data[i]
                ats = data[i: i + ats_len]
                i += ats_len
            if len(uid) != uid_len or len(sens) != 2:
                raise IndexError
            out.append(Target(number, bytes(sens), sel, bytes(uid), bytes(ats)))
        return out
    except IndexError:
        raise Pn532CodecError("truncated InListPassiveTarget answer") from None
