"""Typed device errors.

Every failure a driver can meet is one of these, so that flows and screens can say in
plain words what happened and what to do next without knowing any wire protocol.
`plain` is a short, citizen-safe sentence (English; screens translate by `code`).
Messages never contain personal data.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every device failure. `code` is stable and used for i18n and telemetry."""

    code = "device_error"
    plain = "the device did not work"
    # True when the error says the device itself is unwell (paper out, SAM fault), so the
    # supervisor marks it FAULT; False when only this operation failed (no card placed).
    degrades_device = False

    def __init__(self, message: str | None = None, *, kind: str | None = None, detail: str | None = None):
        self.kind = kind
        self.detail = detail
        super().__init__(message or self.plain)

    @property
    def message(self) -> str:
        return str(self)


class DeviceNotPresent(DeviceError):
    """The port or USB device is missing, unplugged or cannot be opened."""

    code = "not_present"
    plain = "the device is not connected"


class DeviceTimeout(DeviceError):
    """The device did not answer in time (silence, or a truncated frame that never completed)."""

    code = "timeout"
    plain = "the device did not answer in time"


class ProtocolError(DeviceError):
    """The device answered with bytes we cannot accept: garbage, bad checksum, bad length."""

    code = "protocol_error"
    plain = "the device sent a message that could not be read"


class DeviceFault(DeviceError):
    """The device itself reported an error (a status code on the wire)."""

    code = "device_fault"
    plain = "the device reported a fault"
    degrades_device = True

    def __init__(self, message: str | None = None, *, device_code: int | str | None = None, **kw):
        self.device_code = device_code
        super().__init__(message, **kw)


class DeviceBusy(DeviceError):
    """Another operation is already running on this device."""

    code = "busy"
    plain = "the device is busy"


class CodecError(ValueError):
    """Base of every codec's own error: bytes that do not decode into a model.

    Codecs raise only their own subclass of this (never IndexError, UnicodeError ...),
    which the property tests check with arbitrary bytes. Drivers turn it into
    `ProtocolError`.
    """
