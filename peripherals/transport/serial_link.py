"""One driver's serial port, with every way a port can vanish mapped to `DeviceNotPresent`.

The ID reader, the card reader, the blood-pressure monitor and the height station all
read and write the same way: a short blocking read of whatever is waiting, a write, a
flush of stale input before a command. An unplugged USB adapter or a closed pty shows
up as `SerialException`, `OSError`, `termios.error`, or (from pyserial on a port closed
under it) `ValueError`/`TypeError`. Whatever the form, the link closes the port and
raises `DeviceNotPresent`, so the supervisor reopens the device when it comes back
(docs/devices/*). Drivers keep their own framing, parsers and deadlines.
"""

from __future__ import annotations

import termios
from typing import NoReturn

import serial

from peripherals.errors import DeviceNotPresent
from peripherals.transport.closing import close_quietly
from peripherals.transport.serial_port import flush_input, open_serial

# A port closed or unplugged under us. termios.error: pyserial's tcdrain (a drained write)
# and reset_input_buffer on a pty or USB adapter that vanished raise it, not an OSError.
PORT_GONE = (serial.SerialException, OSError, ValueError, TypeError, termios.error)


class SerialLink:
    """The open port of one device (`url`), opened on demand and closed when it is lost."""

    def __init__(self, url: str, *, kind: str, what: str, baudrate: int, timeout: float, **open_options) -> None:
        self.url = url
        self.kind = kind
        self.what = what  # "the ID card reader": said when an operation needs the port and it is not open
        self.baudrate = baudrate
        self.timeout = timeout
        self._open_options = open_options
        self._serial: serial.SerialBase | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> serial.SerialBase:
        if self._serial is None:
            self._serial = open_serial(self.url, baudrate=self.baudrate, timeout=self.timeout, kind=self.kind,
                                       **self._open_options)
        return self._serial

    def close(self) -> None:
        port, self._serial = self._serial, None
        close_quietly(port)

    def port(self) -> serial.SerialBase:
        if self._serial is None:
            raise DeviceNotPresent(f"{self.what} is not open", kind=self.kind)
        return self._serial

    def lost(self, why: str = "disconnected") -> NoReturn:
        self.close()
        raise DeviceNotPresent(f"{self.url} {why}", kind=self.kind)

    def write(self, data: bytes, *, drain: bool = False) -> None:
        """Write `data`; with `drain`, also wait until it has left (pyserial's flush)."""
        port = self.port()
        try:
            port.write(data)
            if drain:
                port.flush()
        except PORT_GONE as exc:
            self.lost(f"failed: {type(exc).__name__}")

    def read(self, *, block: bool = True) -> bytes:
        """What is waiting; if nothing is, one byte within the read timeout, or b'' at once
        when not `block` (b'' when nothing came)."""
        port = self.port()
        try:
            waiting = port.in_waiting
            if not waiting and not block:
                return b""
            return port.read(waiting or 1)
        except PORT_GONE as exc:
            self.lost(f"failed: {type(exc).__name__}")

    def flush_input(self) -> None:
        try:
            flush_input(self.port(), kind=self.kind)  # also maps termios.error (a vanished pty)
        except (DeviceNotPresent, ValueError):
            self.lost()
