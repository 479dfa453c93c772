"""Closing a port whose device may already be gone."""

from __future__ import annotations

import logging

import serial

log = logging.getLogger(__name__)


def close_quietly(port: serial.SerialBase | None) -> None:
    """Close `port` (if any) and swallow the failure: closing a vanished device may raise
    (pyserial, termios or the OS), and the device is gone either way."""
    if port is None:
        return
    try:
        port.close()
    except Exception:  # noqa: BLE001 - nothing to recover; the caller has already dropped the port
        log.debug("closing %s failed", getattr(port, "port", "a port"), exc_info=True)
