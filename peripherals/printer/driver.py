"""ESC/POS receipt printer on USB, through python-escpos's `escpos.printer.Usb`.

`EscPosUsbPrinter("usb://0416:5011")` drives a real printer through libusb;
`EscPosUsbPrinter("simusb://printer?name=p")` the simulator through `SimUsbBackend`
(the same pyusb and python-escpos code paths). python-escpos takes the backend cleanly:
its `usb_args` go straight to `usb.core.find(**usb_args)`, so `backend=` rides along.
It is subclassed only because `Usb._read()` reads with pyusb's 1 s default timeout instead
of the printer's, and to drain stale status bytes before a new question.

Every print first asks the real-time status (DLE EOT 1..4) and refuses with PaperOut,
CoverOpen, CutterError, PrinterHardwareError or PrinterOffline before sending a byte.
The receipt is rendered to bytes first (`receipt_render`) and sent in chunks.
A vanished device closes the link (`DeviceNotPresent`); the next operation opens it
again, so a replugged printer just works.

The same driver also takes a serial port (any pyserial URL: `/dev/ttyS0`, a pty,
`sim://printer?...`) for RS-232 ESC/POS printers; then the link is a minimal python-escpos
`Escpos` over `open_serial` (python-escpos's own `Serial` class opens `serial.Serial`
directly and would not accept URLs) and `info()` has no USB descriptors to report.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import serial
import usb.core
from escpos.constants import RT_STATUS
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Usb

from peripherals.base import DeviceInfo, DeviceKind, ReceiptPrinter, SelfTestResult
from peripherals.errors import DeviceError, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.printer.errors import (
    CoverOpen,
    CutterError,
    EscPosCodecError,
    PaperOut,
    PrinterHardwareError,
    PrinterOffline,
)
from peripherals.printer.escpos_decode import decode_status
from peripherals.printer.models import PaperLevel, PrinterStatus, Receipt
from peripherals.printer.receipt_render import make_test_page, render_receipt
from peripherals.transport.closing import close_quietly
from peripherals.transport.serial_link import PORT_GONE
from peripherals.transport.serial_port import flush_input, open_serial
from peripherals.transport.usb import backend_for, find_args, is_usb_url, parse_usb_url, usb_errors

KIND = DeviceKind.PRINTER.value
STATUS_FUNCTIONS = (1, 2, 3, 4)  # printer, offline cause, error cause, paper roll sensor


class _TimedUsb(Usb):
    """python-escpos `Usb` whose reads honour our timeout, plus an input flush."""

    def _read(self) -> bytes:
        assert self.device
        return bytes(self.device.read(self.in_ep, 16, self.timeout))

    def flush_input(self, max_reads: int = 16) -> int:
        """Drop whatever the printer sent that nobody asked for (a late or garbled answer)."""
        dropped = 0
        for _ in range(max_reads):
            try:
                dropped += len(self.device.read(self.in_ep, 64, 1))
            except usb.core.USBTimeoutError:
                break
        return dropped


class _SerialLink(Escpos):
    """ESC/POS over a serial port opened with `open_serial` (any pyserial URL)."""

    def __init__(self, port: str, *, timeout: float, baudrate: int, profile: str | None = None) -> None:
        super().__init__(profile=profile)
        self.port, self.timeout, self.baudrate = port, timeout, baudrate
        self._serial: serial.SerialBase | None = None

    def open(self) -> None:
        self._serial = open_serial(self.port, baudrate=self.baudrate, timeout=0.02, kind=KIND)
        self.device = self._serial

    def close(self) -> None:
        port, self._serial = self._serial, None
        close_quietly(port)

    def _raw(self, msg: bytes) -> None:
        assert self._serial is not None
        try:
            self._serial.write(msg)
            self._serial.flush()  # tcdrain: on a port unplugged under it, termios.error (EIO)
        except serial.SerialTimeoutException:
            raise  # the session makes it a DeviceTimeout
        except PORT_GONE as exc:
            raise DeviceNotPresent(f"port lost: {exc}", kind=KIND) from None

    def _read(self) -> bytes:
        """The answer to a status question: the first byte, plus whatever follows it at once."""
        assert self._serial is not None
        deadline = time.monotonic() + self.timeout
        data = b""
        while not data:
            if time.monotonic() > deadline:
                raise DeviceTimeout("the printer did not answer the status request", kind=KIND)
            data = self._serial.read(1)
        time.sleep(0.02)  # a garbled answer may be longer: take it whole
        return data + self._serial.read(self._serial.in_waiting or 0)

    def flush_input(self) -> int:
        assert self._serial is not None
        try:
            waiting = self._serial.in_waiting
        except (serial.SerialException, OSError) as exc:
            raise DeviceNotPresent(f"port lost: {exc}", kind=KIND) from None
        flush_input(self._serial, kind=KIND)  # also maps termios.error (a vanished pty)
        return waiting


def raise_for_status(status: PrinterStatus) -> None:
    """The typed error for a printer that cannot print now (most specific cause first)."""
    if status.cover_open:
        raise CoverOpen(kind=KIND)
    if status.paper is PaperLevel.OUT:
        raise PaperOut(kind=KIND)
    if status.cutter_error:
        raise CutterError(kind=KIND, device_code="cutter")
    if status.unrecoverable_error:
        raise PrinterHardwareError(kind=KIND, device_code="unrecoverable")
    if not status.online:
        raise PrinterOffline(kind=KIND)


class EscPosUsbPrinter(ReceiptPrinter):
    def __init__(
        self,
        port: str,
        *,
        timeout: float = 2.0,
        profile: str | None = None,
        chinese_mode: bool = True,
        chunk_size: int = 4096,
        baudrate: int = 115200,
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.profile = profile
        self.chinese_mode = chinese_mode
        self.chunk_size = chunk_size
        self.baudrate = baudrate  # serial ports only
        self._url = parse_usb_url(port) if is_usb_url(port) else None
        self._printer: _TimedUsb | _SerialLink | None = None
        self._info: DeviceInfo | None = None
        self._lock = threading.RLock()
        self.last_status: PrinterStatus | None = None
        self.job_started = False  # see print_receipt

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> None:
        with self._lock:
            self.close()
            if self._url is None:
                self._open_serial()
                return
            backend = backend_for(self._url, kind=KIND)
            printer = _TimedUsb(
                usb_args=find_args(self._url, backend),
                timeout=max(1, int(self.timeout * 1000)),
                in_ep=self._url.in_ep,
                out_ep=self._url.out_ep,
                profile=self.profile,
            )
            try:
                with usb_errors(kind=KIND):
                    printer.open()
                    self._info = self._read_info(printer.device)
                    printer.flush_input()
            except DeviceNotFoundError:
                raise DeviceNotPresent(f"no USB printer at {self.port}", kind=KIND) from None
            except DeviceError:
                self._dispose(printer)
                raise
            self._printer = printer

    def close(self) -> None:
        with self._lock:
            printer, self._printer = self._printer, None
            if printer is not None:
                self._dispose(printer)

    def _open_serial(self) -> None:
        link = _SerialLink(self.port, timeout=self.timeout, baudrate=self.baudrate, profile=self.profile)
        link.open()  # DeviceNotPresent from open_serial
        self._info = DeviceInfo(kind=DeviceKind.PRINTER, driver=type(self).__name__, model="ESC/POS serial", port=self.port)
        link.flush_input()
        self._printer = link

    @staticmethod
    def _dispose(printer: _TimedUsb | _SerialLink) -> None:
        try:
            printer.close()
        except (usb.core.USBError, OSError):
            pass  # a device that is gone cannot be released any further
        printer.device = False  # keep python-escpos's __del__ from touching it again

    def _read_info(self, device: usb.core.Device) -> DeviceInfo:
        manufacturer, product = device.manufacturer or "", device.product or ""
        try:
            serial = device.serial_number or ""
        except ValueError:
            serial = ""
        bcd = int(device.bcdDevice)
        return DeviceInfo(
            kind=DeviceKind.PRINTER,
            driver=type(self).__name__,
            model=" ".join(s for s in (manufacturer.strip(), product.strip()) if s),
            serial=serial.strip(),
            firmware=f"{bcd >> 8}.{bcd & 0xFF:02x}",
            port=self.port,
        )

    @contextmanager
    def _session(self) -> Iterator[_TimedUsb | _SerialLink]:
        """The open link, with USB errors typed; a failed link is closed for a clean reopen."""
        with self._lock:
            if self._printer is None:
                self.open()
            assert self._printer is not None
            try:
                with usb_errors(kind=KIND):
                    try:
                        yield self._printer
                    except serial.SerialTimeoutException:
                        raise DeviceTimeout("the printer did not take the data in time", kind=KIND) from None
                    except serial.SerialException as exc:
                        raise DeviceNotPresent("the serial port failed", kind=KIND, detail=str(exc)) from None
            except DeviceNotPresent:
                self.close()  # unplugged: find the device again on the next operation
                raise

    # -- operations ---------------------------------------------------------------------
    def info(self) -> DeviceInfo:
        with self._session():
            assert self._info is not None
            return self._info

    def printer_status(self) -> PrinterStatus:
        with self._session() as printer:
            return self._query_status(printer)

    def _query_status(self, printer: _TimedUsb | _SerialLink) -> PrinterStatus:
        replies: dict[int, bytes] = {}
        for n in STATUS_FUNCTIONS:
            printer.flush_input()
            replies[n] = bytes(printer.query_status(RT_STATUS + bytes([n])))
        try:
            status = decode_status(replies)
        except EscPosCodecError as exc:
            printer.flush_input()
            raise ProtocolError(f"bad status answer: {exc}", kind=KIND) from None
        self.last_status = status
        return status

    def print_receipt(self, receipt: Receipt) -> None:
        """Print one receipt. `job_started` tells afterwards whether any byte of it went out:
        False when the status check refused it (nothing on the paper), True once sending began
        (a failure then may have left half a receipt — on pre-numbered paper, a spoiled form)."""
        data = render_receipt(receipt, profile=self.profile, chinese_mode=self.chinese_mode)
        self.job_started = False
        with self._session() as printer:
            raise_for_status(self._query_status(printer))
            self.job_started = True
            for start in range(0, len(data), self.chunk_size):
                printer._raw(data[start : start + self.chunk_size])

    def print_test_page(self) -> None:
        info = self.info()
        self.print_receipt(make_test_page(model=info.model, serial=info.serial))

    def consumables(self) -> dict[str, str]:
        return {"paper": self.printer_status().paper.value}

    def check(self) -> None:
        """Raise the typed error while the printer cannot print (the supervisor's recheck)."""
        raise_for_status(self.printer_status())

    def self_test(self, print_test_page: bool = False) -> SelfTestResult:
        """USB link, status bits and (optionally) a printed test page; never raises."""
        started = time.monotonic()
        checks: dict[str, bool] = {}
        detail = ""
        try:
            self.info()
            checks["usb"] = True
            status = self.printer_status()
            checks.update(
                online=status.online,
                cover_closed=not status.cover_open,
                paper=status.paper is not PaperLevel.OUT,
                cutter=not status.cutter_error,
                no_hardware_error=not status.unrecoverable_error,
            )
            if status.paper is PaperLevel.NEAR_END:
                detail = "paper near end"
            if print_test_page and status.can_print:
                self.print_test_page()
                checks["test_page"] = True
        except DeviceError as exc:
            checks.setdefault("usb", not isinstance(exc, DeviceNotPresent))
            if "online" not in checks:
                checks["status"] = False
            detail = f"{detail}; {exc.plain}" if detail else exc.plain
        if print_test_page:
            checks.setdefault("test_page", False)
        failed = [name for name, ok in checks.items() if not ok]
        if failed and not detail:
            detail = "failed: " + ", ".join(failed)
        return SelfTestResult(
            kind=DeviceKind.PRINTER,
            passed=not failed,
            checks=checks,
            detail=detail,
            duration_s=round(time.monotonic() - started, 3),
        )
