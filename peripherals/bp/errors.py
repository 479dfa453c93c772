"""Blood-pressure monitor failures."""

from peripherals.errors import CodecError, DeviceError, DeviceFault


class MeasurementFailed(DeviceFault):
    """The monitor could not produce a reading (movement, cuff loose, no pulse found ...)."""

    code = "bp_measurement_failed"
    plain = "the measurement did not succeed; sit still with the cuff snug and try again"
    # One failed reading says nothing about the monitor's health: the supervisor keeps it READY.
    degrades_device = False


class CuffError(DeviceFault):
    code = "bp_cuff_error"
    plain = "the cuff is loose or not connected"


class MeasurementCancelled(DeviceError):
    """`cancel()` was called while `measure()` was running (the citizen pressed Cancel)."""

    code = "bp_cancelled"
    plain = "the measurement was cancelled"


# -- codec errors (bytes that do not decode); drivers turn them into ProtocolError -----------
class BpCodecError(CodecError):
    """Base of every blood-pressure codec's error."""


class AccutorrCodecError(BpCodecError):
    """A Datascope Accutorr PC-interface line that does not parse."""


class Ieee11073CodecError(BpCodecError):
    """A Bluetooth/IEEE 11073 blood-pressure record (0x2A35/0x2A36) that does not decode."""


class BridgeFramingError(BpCodecError):
    """Bytes on the USB/serial bridge that are not a valid frame (bad start, type, length, CRC)."""
