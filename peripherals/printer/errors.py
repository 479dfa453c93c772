"""Receipt printer failures."""

from peripherals.errors import CodecError, DeviceFault


class PaperOut(DeviceFault):
    code = "paper_out"
    plain = "the printer is out of paper"


class CoverOpen(DeviceFault):
    code = "cover_open"
    plain = "the printer cover is open"


class PrinterOffline(DeviceFault):
    code = "printer_offline"
    plain = "the printer is offline"


class CutterError(DeviceFault):
    code = "cutter_error"
    plain = "the printer's paper cutter is jammed"


class PrinterHardwareError(DeviceFault):
    """DLE EOT 3 reports an unrecoverable (or not yet recovered) error."""

    code = "printer_error"
    plain = "the printer reported an internal error"


class EscPosCodecError(CodecError):
    """An ESC/POS byte stream (or a status byte) that cannot be decoded."""


class EscPosTruncated(EscPosCodecError):
    """The stream ends inside a command."""
