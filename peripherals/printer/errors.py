"""Receipt printer failures."""

from peripherals.errors import DeviceFault


class PaperOut(DeviceFault):
    code = "paper_out"
    plain = "the printer is out of paper"


class CoverOpen(DeviceFault):
    code = "cover_open"
    plain = "the printer cover is open"


class PrinterOffline(DeviceFault):
    code = "printer_offline"
    plain = "the printer is offline"
