"""Blood-pressure monitor failures."""

from peripherals.errors import DeviceFault


class MeasurementFailed(DeviceFault):
    """The monitor could not produce a reading (movement, cuff loose, no pulse found ...)."""

    code = "bp_measurement_failed"
    plain = "the measurement did not succeed; sit still with the cuff snug and try again"


class CuffError(DeviceFault):
    code = "bp_cuff_error"
    plain = "the cuff is loose or not connected"
