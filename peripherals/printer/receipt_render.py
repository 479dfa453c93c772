"""A `Receipt` into ESC/POS bytes, rendered with python-escpos into a `Dummy` printer.

The whole job is rendered before anything is sent, so a receipt that cannot be rendered
fails before the printer has printed half of it, and the driver can send it in chunks.

Styles (bold, alignment, double size), the native QR (`qr(..., native=True)`, GS ( k)
the hardware 1D barcode (GS k m=73, CODE128 set B, with GS h height and GS w module width)
and the cut (ESC d 6 + GS V 0) come from python-escpos. Text does not go through
python-escpos's `text()`: its magic encoder picks single-byte code pages and cannot encode
CJK (python-escpos issues #491, #269). Chinese-market printers print GB18030/GBK, so
text is sent raw as GB18030 (ASCII-compatible, so ASCII text is unchanged).

Chinese mode: the job starts with `FS &` (select Chinese character mode) after `ESC @`
and ends with `FS .` (cancel it) before the cut. Printers that boot in Chinese mode
ignore the redundant `FS &`; printers that boot in single-byte mode would otherwise print
each GB18030 byte as a code page character. `FS .` hands the printer back in its
power-on mode. Both are widely implemented but unconfirmed per model (reference §4), so
`chinese_mode=False` leaves them out. Characters outside GBK (such as U+00A5 '¥') are
4-byte GB18030 sequences that GBK-only fonts may not have; receipts can use '￥' (U+FFE5,
GBK A3A4) where that matters.
"""

from __future__ import annotations

from escpos.constants import FS, QR_ECLEVEL_M
from escpos.printer import Dummy

from peripherals.printer.models import Receipt, ReceiptLine

CHINESE_MODE_ON = FS + b"&"
CHINESE_MODE_OFF = FS + b"."
TEXT_ENCODING = "gb18030"
QR_MODULE_SIZE = 6


def encode_text(text: str) -> bytes:
    """Text as the printer reads it; control characters are dropped, not sent as commands."""
    clean = "".join(ch for ch in text if ch >= " " or ch == "\t")
    return clean.encode(TEXT_ENCODING)


def _line(p: Dummy, line: ReceiptLine) -> None:
    p.set(
        align=line.align,
        bold=line.bold,
        normal_textsize=not line.double,
        double_width=line.double,
        double_height=line.double,
    )
    p._raw(encode_text(line.text) + b"\n")


def render_receipt(receipt: Receipt, *, profile: str | None = None, chinese_mode: bool = True) -> bytes:
    """ESC/POS for one receipt: title, lines, optional QR, optional footer, full cut."""
    p = Dummy(profile=profile)
    p.hw("INIT")
    if chinese_mode:
        p._raw(CHINESE_MODE_ON)
    _line(p, ReceiptLine(text=receipt.title, bold=True, align="center", double=True))
    for line in receipt.lines:
        _line(p, line)
    if receipt.qr:
        p.set(align="center", bold=False, normal_textsize=True)
        p.qr(receipt.qr, native=True, size=QR_MODULE_SIZE, ec=QR_ECLEVEL_M)
        p.ln()
    if receipt.barcode:
        code = receipt.barcode
        p.set(align="center", bold=False, normal_textsize=True)
        # CODE128 code set B ("{B"): printable ASCII; the printer prints the human-readable text below.
        # `_hw_barcode`, not `barcode()`: the latter prints "Using hardware barcode renderer" to stdout.
        p._hw_barcode("{B" + code.data, code.symbology, height=code.height, width=code.width, pos="BELOW",
                      function_type="B", check=True)
        p.ln()
    if receipt.footer:
        _line(p, ReceiptLine(text=receipt.footer, align="center"))
    p.set_with_default()
    if chinese_mode:
        p._raw(CHINESE_MODE_OFF)
    p.cut(mode="FULL")
    return p.output


def make_test_page(model: str = "", serial: str = "") -> Receipt:
    """The maintenance test page: styles, Chinese text, a QR code; no personal data."""
    return Receipt(
        title="打印测试页 TEST PAGE",
        lines=[
            ReceiptLine(text=f"型号 Model: {model or '-'}"),
            ReceiptLine(text=f"序列号 Serial: {serial or '-'}"),
            ReceiptLine(text="普通 normal"),
            ReceiptLine(text="加粗 bold", bold=True),
            ReceiptLine(text="居中 center", align="center"),
            ReceiptLine(text="右对齐 right", align="right"),
            ReceiptLine(text="倍宽倍高 double", double=True),
            ReceiptLine(text="0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ],
        qr="KIOSK-PRINTER-TEST",
        footer="测试完成 END",
    )
