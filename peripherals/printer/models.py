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


class Receipt(BaseModel):
    title: str
    lines: list[ReceiptLine] = Field(default_factory=list)
    qr: str | None = None  # payload of a QR code printed after the lines
    footer: str | None = None
