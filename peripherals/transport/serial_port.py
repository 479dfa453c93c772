"""Opening serial ports: any pyserial URL, with our `sim://` handler available.

The only place that calls `serial.serial_for_url`, so that every driver accepts
`/dev/ttyUSB0`, `/dev/kiosk/idcard`, `loop://`, a pty path, `spy://...` or `sim://KIND`,
and so that a port that cannot be opened is always `DeviceNotPresent`.
"""

from __future__ import annotations

import serial

from peripherals.errors import DeviceNotPresent

HANDLER_PACKAGE = "peripherals.transport.urlhandler"


def register_url_handlers() -> None:
    if HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(HANDLER_PACKAGE)


def open_serial(
    url: str,
    *,
    baudrate: int = 115200,
    timeout: float = 0.1,
    bytesize: int = serial.EIGHTBITS,
    parity: str = serial.PARITY_NONE,
    stopbits: float = serial.STOPBITS_ONE,
    kind: str | None = None,
    **kwargs,
) -> serial.SerialBase:
    """Open `url` 8N1 (by default) with a short read timeout; drivers keep their own deadlines."""
    register_url_handlers()
    try:
        return serial.serial_for_url(
            url,
            baudrate=baudrate,
            timeout=timeout,
            write_timeout=2.0,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            exclusive=True if url.startswith("/") else None,
            **kwargs,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceNotPresent(f"cannot open {url}: {exc}", kind=kind) from None


register_url_handlers()


def flush_input(port: serial.SerialBase, kind: str | None = None) -> None:
    """Drop stale input before a command. A pty or USB adapter that vanished while idle
    makes pyserial raise `termios.error` here (not an OSError), so map that too."""
    import termios

    try:
        port.reset_input_buffer()
    except (serial.SerialException, OSError, termios.error) as exc:
        raise DeviceNotPresent(f"port lost: {exc}", kind=kind) from None
