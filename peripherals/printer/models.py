"""A receipt to print, and the printer's real-time status."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class PaperLevel(StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


class PrinterStatus(BaseModel):
    online: bool = True
    paper: PaperLevel = PaperLevel.OK
    cover_open: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False

    @property
    def can_print(self) -> bool:
        return self.online and self.paper is not PaperLevel.OUT and not self.cover_open and not (
            self.cutter_error or self.unrecoverable_error
        )


class ReceiptLine(BaseModel):
    text: str
    bold: bool = False
    align: str = "left"  # left | center | right
    double: bool = False  # double width and height


class Barcode(BaseModel):
    """A 1D barcode printed by the printer itself (GS k), e.g. a waybill's tracking number."""

    data: str = Field(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")
    symbology: str = "CODE128"
    height: int = Field(default=80, ge=1, le=255)  # dots (GS h)
    width: int = Field(default=2, ge=2, le=6)  # module width (GS w)


class Receipt(BaseModel):
    title: str
    lines: list[ReceiptLine] = Field(default_factory=list)
    qr: str | None = None  # payload of a QR code printed after the lines
    barcode: Barcode | None = None  # printed after the QR code, before the footer
    footer: str | None = None


# -- what the printer put on paper (decoded from the ESC/POS stream) -------------------


class PrintedLine(BaseModel):
    """One line of text as the printer would print it, with the style in force."""

    text: str
    bold: bool = False
    align: str = "left"  # left | center | right
    double_width: bool = False
    double_height: bool = False

    @property
    def double(self) -> bool:
        return self.double_width and self.double_height


class PrintedQr(BaseModel):
    """A native QR code (GS ( k fn 80 store + fn 81 print)."""

    payload: str
    model: int = 2
    size: int = 3  # module size in dots (fn 67)
    ec: str = "L"  # L | M | Q | H (fn 69)
    after_line: int = 0  # number of text lines printed before it


class PrintedBarcode(BaseModel):
    """A 1D barcode (GS k) as the printer would print it."""

    data: str
    symbology: str = "CODE128"
    height: int = 162  # dots, the printer's default
    after_line: int = 0


class PrintedDocument(BaseModel):
    """Everything printed between two cuts; `cut` is False for a job that never finished."""

    lines: list[PrintedLine] = Field(default_factory=list)
    qr_codes: list[PrintedQr] = Field(default_factory=list)
    barcodes: list[PrintedBarcode] = Field(default_factory=list)
    cut: bool = False
    partial_cut: bool = False
    initialised: bool = False  # ESC @ was seen
    chinese_mode: bool = False  # FS & was in force at some point
    form: str | None = None  # pre-printed number of the form it landed on (simulator with forms loaded)

    @property
    def texts(self) -> list[str]:
        """The non-blank text lines, for assertions."""
        return [line.text for line in self.lines if line.text.strip()]

    def is_empty(self) -> bool:
        return not (self.lines or self.qr_codes or self.barcodes or self.cut)


class StatusRequest(BaseModel):
    """A real-time status request DLE EOT n seen in the stream."""

    n: int
