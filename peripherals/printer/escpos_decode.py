"""ESC/POS codec: a byte stream back into printed documents, and the DLE EOT status bytes.

The printer simulator runs every byte the driver sends through `EscPosStreamDecoder`, so
tests can assert what would have come out of the printer (text lines with their style,
QR payloads, cuts) instead of comparing opaque byte strings. No I/O here.

Command set and byte layouts, from python-escpos 3.1 `src/escpos/constants.py` and
`escpos.py` (`_send_2d_code_data`, `cut`, `set`, `print_and_feed`) and the Epson /
Bixolon command references summarised in /work/shared/reference/peripherals.md §4:

- ESC @ init; ESC ! n print mode (bit3 emphasised, bit4 double height, bit5 double
  width); ESC E n bold; ESC a n align; GS ! n size (high nibble width-1, low nibble
  height-1); GS V m [n] cut; ESC d n feed; FS & / FS . Chinese mode on/off.
- GS ( k pL pH cn fn [m] data: 2D codes; cn 0x31 = QR; fn 65 model, 67 module size,
  69 error correction, 80 store (m = 0x30), 81 print (m = 0x30).
- GS k m ...: 1D barcodes; m 0..6 NUL-terminated, m 65..79 with a length byte
  (73 = CODE128, whose data starts with the code set "{A"/"{B"/"{C"); GS h n height.
- DLE EOT n (n = 1..4): real-time status request.

Text between commands is GB18030 (Chinese-market printers boot in GB18030/GBK mode).
GB18030 lead/trail bytes are all >= 0x30, so a control byte can never sit inside a
multi-byte character and the stream can be split on control bytes safely.
Unknown commands, malformed parameters and undecodable text raise `EscPosCodecError`;
a stream that ends inside a command raises `EscPosTruncated` (only from `finish()`).
"""

from __future__ import annotations

from typing import Union

from peripherals.printer.errors import EscPosCodecError, EscPosTruncated
from peripherals.printer.models import (
    PaperLevel,
    PrintedBarcode,
    PrintedDocument,
    PrintedLine,
    PrintedQr,
    PrinterStatus,
    StatusRequest,
)

NUL, HT, LF, FF, CR, CAN = 0x00, 0x09, 0x0A, 0x0C, 0x0D, 0x18
DLE, EOT, ENQ, ESC, FS, GS = 0x10, 0x04, 0x05, 0x1B, 0x1C, 0x1D

# ESC x: number of fixed parameter bytes (python-escpos constants.py + Epson reference)
_ESC_PARAMS: dict[int, int] = {
    ord("@"): 0, ord("!"): 1, ord("E"): 1, ord("G"): 1, ord("-"): 1, ord("a"): 1,
    ord("M"): 1, ord("t"): 1, ord("d"): 1, ord("J"): 1, ord("2"): 0, ord("3"): 1,
    ord("+"): 1, ord("A"): 1, ord("{"): 1, ord("r"): 1, ord("p"): 3, ord("B"): 2,
    ord("="): 1, ord("V"): 1, ord(" "): 1, ord("c"): 2, ord("R"): 1, ord("K"): 1,
    ord("U"): 1, ord("S"): 0, ord("L"): 0, ord("i"): 0, ord("m"): 0, ord("e"): 1,
}  # fmt: skip
# GS x: fixed parameter bytes; GS ( , GS V, GS v 0 and GS k are variable and handled below
_GS_PARAMS: dict[int, int] = {
    ord("!"): 1, ord("B"): 1, ord("b"): 1, ord("H"): 1, ord("f"): 1, ord("h"): 1,
    ord("w"): 1, ord("L"): 2, ord("W"): 2, ord("a"): 1, ord("I"): 1, ord("r"): 1,
    ord("$"): 2, ord("P"): 2,
}  # fmt: skip
# FS x
_FS_PARAMS: dict[int, int] = {
    ord("&"): 0, ord("."): 0, ord("!"): 1, ord("-"): 1, ord("W"): 1, ord("C"): 1,
    ord("p"): 2, ord("S"): 2,
}  # fmt: skip

_ALIGN = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}
_FULL_CUT_MODES = {0, 48, 65, 97, 103}
_PARTIAL_CUT_MODES = {1, 49, 66, 98, 104}
_CUT_WITH_N = {65, 66, 97, 98, 103, 104}
QR_EC_NAMES = {48: "L", 49: "M", 50: "Q", 51: "H"}
_BARCODES = {65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "NW7", 72: "CODE93",
             73: "CODE128"}

Event = Union[StatusRequest, PrintedDocument]


class _NeedMore(Exception):
    """The buffer ends inside a command: wait for more bytes."""


class EscPosStreamDecoder:
    """Incremental decoder; `feed()` returns the events completed by the new bytes.

    Events are `StatusRequest` (answer it now) and finished `PrintedDocument`s (one per
    cut). The document being printed is `current`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._events: list[Event] = []
        self.current = PrintedDocument()
        self.chinese_mode = False
        self._reset_style()
        self._line = bytearray()
        self._line_style: PrintedLine | None = None
        self._qr_data: str | None = None
        self._qr_model, self._qr_size, self._qr_ec = 2, 3, "L"
        self._barcode_height = 162

    # -- public -------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        try:
            while self._buf:
                try:
                    used = self._step()
                except _NeedMore:
                    break
                del self._buf[:used]
        except EscPosCodecError:
            self._buf.clear()  # resynchronise: drop what we could not read
            raise  # events completed before the bad command stay for take_events()
        return self.take_events()

    def take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def finish(self) -> PrintedDocument | None:
        """End of stream: the unfinished document (if any); raises if inside a command."""
        if self._buf:
            raise EscPosTruncated(f"stream ends inside a command ({len(self._buf)} bytes left)")
        self._flush_line(force=False)
        doc, self.current = self.current, PrintedDocument()
        return None if doc.is_empty() else doc

    def abort(self) -> PrintedDocument | None:
        """Power loss / unplug: drop any partial command, return what was on the paper."""
        self._buf.clear()
        self._line.clear()
        self._line_style = None
        doc, self.current = self.current, PrintedDocument()
        self._reset_style()
        return None if doc.is_empty() else doc

    # -- parsing ------------------------------------------------------------------------
    def _need(self, n: int) -> None:
        if len(self._buf) < n:
            raise _NeedMore

    def _step(self) -> int:
        b = self._buf
        c = b[0]
        if c >= 0x20 or c == HT:
            end = 1
            while end < len(b) and (b[end] >= 0x20 or b[end] == HT):
                end += 1
            self._text(bytes(b[:end]))
            return end
        if c == LF:
            self._flush_line(force=True)
            return 1
        if c in (CR, FF, CAN, NUL):
            return 1  # carriage return / page-mode print / cancel / padding: nothing printed
        if c == ESC:
            return self._esc()
        if c == GS:
            return self._gs()
        if c == FS:
            return self._fs()
        if c == DLE:
            return self._dle()
        raise EscPosCodecError(f"unexpected control byte 0x{c:02X}")

    def _esc(self) -> int:
        self._need(2)
        cmd = self._buf[1]
        if cmd == ord("*"):  # ESC * m nL nH d1..dk (bit image)
            self._need(5)
            m, n = self._buf[2], self._buf[3] | self._buf[4] << 8
            if m not in (0, 1, 32, 33):
                raise EscPosCodecError(f"ESC * with bad mode {m}")
            size = 5 + n * (3 if m >= 32 else 1)
            self._need(size)
            return size
        if cmd not in _ESC_PARAMS:
            raise EscPosCodecError(f"unsupported command ESC 0x{cmd:02X}")
        size = 2 + _ESC_PARAMS[cmd]
        self._need(size)
        p = self._buf[2:size]
        if cmd == ord("@"):
            self._flush_line(force=False)
            self._reset_style()
            self.current.initialised = True
        elif cmd == ord("!"):
            self.bold = bool(p[0] & 0x08)
            self.double_height = bool(p[0] & 0x10)
            self.double_width = bool(p[0] & 0x20)
        elif cmd == ord("E"):
            self.bold = bool(p[0] & 0x01)
        elif cmd == ord("a"):
            if p[0] not in _ALIGN:
                raise EscPosCodecError(f"ESC a with bad alignment {p[0]}")
            self.align = _ALIGN[p[0]]
        return size

    def _gs(self) -> int:
        self._need(2)
        cmd = self._buf[1]
        if cmd == ord("("):  # GS ( fn pL pH payload
            self._need(5)
            plen = self._buf[3] | self._buf[4] << 8
            self._need(5 + plen)
            if self._buf[2] == ord("k"):
                self._two_d_code(bytes(self._buf[5 : 5 + plen]))
            return 5 + plen
        if cmd == ord("V"):
            self._need(3)
            m = self._buf[2]
            size = 4 if m in _CUT_WITH_N else 3
            if m not in _FULL_CUT_MODES | _PARTIAL_CUT_MODES:
                raise EscPosCodecError(f"GS V with bad mode {m}")
            self._need(size)
            self._cut(partial=m in _PARTIAL_CUT_MODES)
            return size
        if cmd == ord("v"):  # GS v 0 m xL xH yL yH d1..dk (raster image)
            self._need(8)
            if self._buf[2] != ord("0"):
                raise EscPosCodecError("GS v without '0'")
            x, y = self._buf[4] | self._buf[5] << 8, self._buf[6] | self._buf[7] << 8
            self._need(8 + x * y)
            return 8 + x * y
        if cmd == ord("k"):  # barcode: GS k m d1..dk NUL (m <= 6) or GS k m n d1..dn
            self._need(3)
            if self._buf[2] <= 6:
                end = self._buf.find(b"\x00", 3)
                if end < 0:
                    raise _NeedMore
                return end + 1
            self._need(4)
            size = 4 + self._buf[3]
            self._need(size)
            self._barcode(self._buf[2], bytes(self._buf[4:size]))
            return size
        if cmd not in _GS_PARAMS:
            raise EscPosCodecError(f"unsupported command GS 0x{cmd:02X}")
        size = 2 + _GS_PARAMS[cmd]
        self._need(size)
        if cmd == ord("h"):
            self._barcode_height = self._buf[2] or 162
        if cmd == ord("!"):
            n = self._buf[2]
            if (n >> 4) > 7 or (n & 0x0F) > 7:
                raise EscPosCodecError(f"GS ! with bad size 0x{n:02X}")
            self.double_width = (n >> 4) >= 1
            self.double_height = (n & 0x0F) >= 1
        return size

    def _fs(self) -> int:
        self._need(2)
        cmd = self._buf[1]
        if cmd not in _FS_PARAMS:
            raise EscPosCodecError(f"unsupported command FS 0x{cmd:02X}")
        size = 2 + _FS_PARAMS[cmd]
        self._need(size)
        if cmd == ord("&"):
            self.chinese_mode = True
            self.current.chinese_mode = True
        elif cmd == ord("."):
            self.chinese_mode = False
        return size

    def _dle(self) -> int:
        self._need(2)
        cmd = self._buf[1]
        if cmd == EOT:
            self._need(3)
            n = self._buf[2]
            if not 1 <= n <= 4:
                raise EscPosCodecError(f"DLE EOT with unsupported n={n}")
            self._events.append(StatusRequest(n=n))
            return 3
        if cmd == ENQ:
            self._need(3)
            return 3
        raise EscPosCodecError(f"unsupported command DLE 0x{cmd:02X}")

    def _two_d_code(self, payload: bytes) -> None:
        if len(payload) < 2:
            raise EscPosCodecError("GS ( k block shorter than cn fn")
        cn, fn, rest = payload[0], payload[1], payload[2:]
        if cn != 0x31:
            return  # PDF417 and other symbologies: accepted, not modelled
        if fn == 65:
            if len(rest) != 2 or rest[0] not in (49, 50, 51):
                raise EscPosCodecError("QR fn 65 (model) malformed")
            self._qr_model = rest[0] - 48
        elif fn == 67:
            if len(rest) != 1 or not 1 <= rest[0] <= 16:
                raise EscPosCodecError("QR fn 67 (module size) malformed")
            self._qr_size = rest[0]
        elif fn == 69:
            if len(rest) != 1 or rest[0] not in QR_EC_NAMES:
                raise EscPosCodecError("QR fn 69 (error correction) malformed")
            self._qr_ec = QR_EC_NAMES[rest[0]]
        elif fn == 80:
            if not rest or rest[0] != 0x30:
                raise EscPosCodecError("QR fn 80 (store) without m = 0x30")
            try:
                self._qr_data = rest[1:].decode("utf-8")
            except UnicodeDecodeError:
                raise EscPosCodecError("QR data is not UTF-8") from None
        elif fn == 81:
            if rest != b"\x30":
                raise EscPosCodecError("QR fn 81 (print) malformed")
            if self._qr_data is None:
                raise EscPosCodecError("QR print without stored data")
            self._flush_line(force=False)
            self.current.qr_codes.append(
                PrintedQr(
                    payload=self._qr_data,
                    model=self._qr_model,
                    size=self._qr_size,
                    ec=self._qr_ec,
                    after_line=len(self.current.lines),
                )
            )
        elif fn not in (82,):  # 82: transmit size information
            raise EscPosCodecError(f"unsupported QR function {fn}")

    def _barcode(self, m: int, data: bytes) -> None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise EscPosCodecError("barcode data is not ASCII") from None
        symbology = _BARCODES.get(m, f"GS k {m}")
        if m == 73:
            if text[:2] not in ("{A", "{B", "{C"):
                raise EscPosCodecError("CODE128 data without a code set")
            text = text[2:]
        self._flush_line(force=False)
        self.current.barcodes.append(PrintedBarcode(data=text, symbology=symbology, height=self._barcode_height,
                                                    after_line=len(self.current.lines)))

    # -- document building --------------------------------------------------------------
    def _reset_style(self) -> None:
        self.bold = False
        self.align = "left"
        self.double_width = False
        self.double_height = False

    def _style_now(self, text: str = "") -> PrintedLine:
        return PrintedLine(
            text=text,
            bold=self.bold,
            align=self.align,
            double_width=self.double_width,
            double_height=self.double_height,
        )

    def _text(self, data: bytes) -> None:
        if not self._line:
            self._line_style = self._style_now()  # alignment is fixed at the start of a line
        self._line += data

    def _flush_line(self, *, force: bool) -> None:
        """End the current line (LF), or, when not forced, only if it holds text."""
        if not self._line and not force:
            return
        try:
            text = bytes(self._line).decode("gb18030")
        except UnicodeDecodeError:
            self._line.clear()
            raise EscPosCodecError("text is not valid GB18030") from None
        style = self._line_style or self._style_now()
        self.current.lines.append(style.model_copy(update={"text": text}))
        self._line.clear()
        self._line_style = None

    def _cut(self, *, partial: bool) -> None:
        self._flush_line(force=False)
        doc, self.current = self.current, PrintedDocument()
        doc.cut, doc.partial_cut = True, partial
        self._events.append(doc)


def decode(data: bytes) -> tuple[list[PrintedDocument], list[StatusRequest]]:
    """Decode a whole stream: the printed documents (an uncut tail included, cut=False)
    and the status requests in it."""
    decoder = EscPosStreamDecoder()
    events = decoder.feed(bytes(data))
    requests = [e for e in events if isinstance(e, StatusRequest)]
    docs = [e for e in events if isinstance(e, PrintedDocument)]
    tail = decoder.finish()
    if tail is not None:
        docs.append(tail)
    return docs, requests


# -- DLE EOT n status bytes -------------------------------------------------------------
# Every status byte has bits 1 and 4 on and bits 0 and 7 off (base 0x12); bit meanings
# per n from the Epson TM-U220 / Bixolon manuals (reference §4); python-escpos masks
# RT_MASK_ONLINE = 8, RT_MASK_LOWPAPER = 0x1E, RT_MASK_NOPAPER = 0x72 agree.
STATUS_BASE = 0x12
_FIXED_MASK = 0x93  # bits 0, 1, 4, 7


def encode_status(n: int, status: PrinterStatus, *, auto_recoverable: bool = False) -> int:
    """The byte a printer in `status` answers to DLE EOT n."""
    value = STATUS_BASE
    if n == 1:
        if not status.can_print or auto_recoverable:
            value |= 0x08
    elif n == 2:
        if status.cover_open:
            value |= 0x04
        if status.paper is PaperLevel.OUT:
            value |= 0x20
        if status.cutter_error or status.unrecoverable_error or auto_recoverable:
            value |= 0x40
    elif n == 3:
        if status.cutter_error:
            value |= 0x08
        if status.unrecoverable_error:
            value |= 0x20
        if auto_recoverable:
            value |= 0x40
    elif n == 4:
        if status.paper is PaperLevel.NEAR_END:
            value |= 0x0C
        elif status.paper is PaperLevel.OUT:
            value |= 0x60
    else:
        raise EscPosCodecError(f"no status byte for DLE EOT {n}")
    return value


def check_status_byte(n: int, reply: bytes) -> int:
    """The one status byte in `reply`, after checking its fixed bits."""
    if len(reply) != 1:
        raise EscPosCodecError(f"DLE EOT {n} answer has {len(reply)} bytes, expected 1")
    value = reply[0]
    if value & _FIXED_MASK != STATUS_BASE:
        raise EscPosCodecError(f"DLE EOT {n} answer 0x{value:02X} has wrong fixed bits")
    return value


def decode_status(replies: dict[int, bytes]) -> PrinterStatus:
    """A `PrinterStatus` from the answers to DLE EOT 1..4 (each one byte)."""
    if set(replies) != {1, 2, 3, 4}:
        raise EscPosCodecError("status needs the answers to DLE EOT 1, 2, 3 and 4")
    s1, s2, s3, s4 = (check_status_byte(n, replies[n]) for n in (1, 2, 3, 4))
    if s4 & 0x60 or s2 & 0x20:
        paper = PaperLevel.OUT
    elif s4 & 0x0C:
        paper = PaperLevel.NEAR_END
    else:
        paper = PaperLevel.OK
    return PrinterStatus(
        online=not (s1 & 0x08),
        paper=paper,
        cover_open=bool(s2 & 0x04),
        cutter_error=bool(s3 & 0x08),
        unrecoverable_error=bool(s3 & 0x20),
    )
