"""Errors of the height-weight station's codec and driver."""

from __future__ import annotations

from peripherals.errors import CodecError, DeviceTimeout, ProtocolError


class HeightCodecError(CodecError):
    """Bytes that are not a Tanita data-output record (header, pairs, numbers, checksum)."""


class ChecksumMismatch(HeightCodecError):
    """The record's CS field does not match its bytes."""


class NoMeasurement(DeviceTimeout):
    """Nobody was measured before the deadline (no one stood on the station, or it stayed silent)."""

    code = "no_measurement"
    plain = "no height was measured: please stand straight on the station"


class NoHeight(ProtocolError):
    """The station sent only weight: its height sensor measured nothing (blocked or out of range)."""

    code = "no_height"
    plain = "the station could not measure the height"
