"""Printable invoice summary and a small PDF of it.

The PDF uses the predefined CJK font STSong-Light with the UniGB-UCS2-H CMap (PDF 1.7,
ISO 32000-1 §9.7.5.2 "Predefined CMaps" and Adobe TN #5078 "Adobe-GB1-4 Character
Collection"), which every conforming reader supplies, so no font is embedded and the
file stays about 1.5 kB. Text is written as UTF-16BE hex strings (BMP only).
"""

from __future__ import annotations

import datetime as dt


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def invoice_lines(
    *, number: str, issued_at: dt.datetime, buyer: str, item: str, net_fen: int, tax_fen: int, amount_fen: int, rate: int
) -> list[str]:
    return [
        "电子发票（普通发票）",
        f"发票号码：{number}",
        f"开票日期：{issued_at:%Y-%m-%d %H:%M}",
        f"购买方：{buyer}",
        f"项目：{item}",
        f"金额：{yuan(net_fen)}  税率：{rate}%  税额：{yuan(tax_fen)}",
        f"价税合计：{yuan(amount_fen)}",
        "销售方：国家税务总局代开（自助终端）",
    ]


def paper_invoice_lines(
    *, code: str, number: str, issued_at: dt.datetime, buyer: str, item: str, net_fen: int, tax_fen: int,
    amount_fen: int, rate: int,
) -> list[str]:
    """What is printed on a pre-numbered roll invoice form (增值税普通发票（卷票）)."""
    return [
        "增值税普通发票（卷票）",
        f"发票代码：{code}",
        f"发票号码：{number}",
        f"开票日期：{issued_at:%Y-%m-%d %H:%M}",
        f"购买方：{buyer}",
        f"项目：{item}",
        f"金额：{yuan(net_fen)}  税率：{rate}%  税额：{yuan(tax_fen)}",
        f"价税合计：{yuan(amount_fen)}",
        "销售方：国家税务总局代开（自助终端）",
    ]


def _hex_utf16(text: str) -> str:
    return "<" + text.encode("utf-16-be", errors="replace").hex().upper() + ">"


def render_pdf(lines: list[str], *, title: str = "Invoice") -> bytes:
    """One A5 page, the lines top to bottom in 12 pt STSong-Light."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "40 540 Td"]
    for line in lines:
        ops.append(f"{_hex_utf16(line)} Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 595] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 7 0 R >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [5 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> "
        b"/FontDescriptor 6 0 R /DW 1000 /W [1 95 500] >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title " + _hex_utf16(title).encode("ascii") + b" /Producer (kiosk backoffice) >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, len(objects), xref,
    )
    return bytes(out)
