"""IEEE 11073-20601 SFLOAT and the Bluetooth blood-pressure records (no I/O).

Blood Pressure Measurement (characteristic 0x2A35) and Intermediate Cuff Pressure
(0x2A36) share one layout (Bluetooth Blood Pressure Service / GATT Specification
Supplement "Blood Pressure Measurement"); checked against public parsers and their test
vectors: NordicSemiconductor/Android-BLE-Common-Library
``ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/bps/
BloodPressureMeasurementDataCallbackTest.java`` and ``IntermediateCuffPressureDataCallbackTest.java``,
its ``profile/bp/BloodPressureTypes.java`` (status bits), and Stanford Spezi's
``BloodPressureMeasurement`` (flags, "GATT Specification Supplement, 3.31"):

- byte 0 flags: b0 unit (0 mmHg, 1 kPa), b1 time stamp present, b2 pulse rate present,
  b3 user ID present, b4 measurement status present, b5-7 reserved (ignored here).
- systolic, diastolic, mean arterial pressure: SFLOAT each (little-endian). In 0x2A36
  the systolic field carries the current cuff pressure and the other two are unused.
- time stamp (7 bytes): year u16 LE (0 = unknown), month (0 = unknown), day (0 = unknown),
  hours, minutes, seconds.
- pulse rate SFLOAT; user ID u8 (0xFF = unknown user); measurement status u16 LE:
  b0 body movement, b1 cuff too loose, b2 irregular pulse, b3-4 pulse-rate range
  (0 within, 1 above upper limit, 2 below lower limit, 3 reserved), b5 improper
  measurement position, b6-15 reserved.

SFLOAT (IEEE 11073-20601 §F.8 as used by the GATT supplement): 16 bits, 4-bit signed
exponent (high nibble) and 12-bit signed mantissa, value = mantissa · 10^exponent.
Special values (exponent 0): NaN 0x07FF, NRes 0x0800, +INF 0x07FE, −INF 0x0802,
reserved 0x0801 — the same constants as Nordic's ``Data.java`` / ``BLEUtils``
(SFLOAT_MANTISSA_MAX 0x07FD, exponent −8..7).

Records here are strict about length: a record must be exactly as long as its flags say.
"""

from __future__ import annotations

import math
import struct
from datetime import datetime
from enum import IntEnum, IntFlag

from pydantic import BaseModel, Field

from peripherals.bp.errors import Ieee11073CodecError
from peripherals.bp.models import BpFlag, BpUnit

UUID_BLOOD_PRESSURE_MEASUREMENT = 0x2A35
UUID_INTERMEDIATE_CUFF_PRESSURE = 0x2A36

# -- SFLOAT ------------------------------------------------------------------------------
SFLOAT_NAN = 0x07FF
SFLOAT_NRES = 0x0800
SFLOAT_POS_INF = 0x07FE
SFLOAT_NEG_INF = 0x0802
SFLOAT_RESERVED = 0x0801
SFLOAT_MANTISSA_MAX = 0x07FD  # 2045; larger magnitudes collide with the special values
SFLOAT_EXPONENT_MIN, SFLOAT_EXPONENT_MAX = -8, 7
# Exponents tried when encoding: 0 first (integers stay integers, as devices send them),
# then ever finer, then coarser.
_EXPONENT_ORDER = [0, -1, -2, -3, -4, -5, -6, -7, -8, 1, 2, 3, 4, 5, 6, 7]


def sfloat_value(mantissa: int, exponent: int) -> float:
    """mantissa · 10^exponent, correctly rounded (division for negative exponents)."""
    return float(mantissa * 10**exponent) if exponent >= 0 else mantissa / 10 ** (-exponent)


def decode_sfloat(raw: int) -> float:
    """16-bit SFLOAT → float. NaN, NRes and the reserved value give NaN; ±INF give ±inf."""
    raw &= 0xFFFF
    if raw in (SFLOAT_NAN, SFLOAT_NRES, SFLOAT_RESERVED):
        return math.nan
    if raw == SFLOAT_POS_INF:
        return math.inf
    if raw == SFLOAT_NEG_INF:
        return -math.inf
    mantissa = raw & 0x0FFF
    exponent = raw >> 12
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    if exponent >= 0x8:
        exponent -= 0x10
    return sfloat_value(mantissa, exponent)


def pack_sfloat(mantissa: int, exponent: int) -> int:
    if not (-SFLOAT_MANTISSA_MAX <= mantissa <= SFLOAT_MANTISSA_MAX):
        raise Ieee11073CodecError("SFLOAT mantissa out of range")
    if not (SFLOAT_EXPONENT_MIN <= exponent <= SFLOAT_EXPONENT_MAX):
        raise Ieee11073CodecError("SFLOAT exponent out of range")
    return ((exponent & 0x0F) << 12) | (mantissa & 0x0FFF)


def encode_sfloat(value: float) -> int:
    """float → 16-bit SFLOAT: exact when the value is representable, else the nearest.

    Raises Ieee11073CodecError when |value| is beyond 2045 · 10^7.
    """
    if math.isnan(value):
        return SFLOAT_NAN
    if math.isinf(value):
        return SFLOAT_POS_INF if value > 0 else SFLOAT_NEG_INF
    for exponent in _EXPONENT_ORDER:
        scaled = value * 10.0 ** (-exponent)
        mantissa = round(scaled)
        exact = abs(scaled - mantissa) <= 1e-9 * max(1.0, abs(scaled)) and (mantissa != 0 or value == 0)
        if exact and abs(mantissa) <= SFLOAT_MANTISSA_MAX:
            return pack_sfloat(mantissa, exponent)
    # Not exactly representable: the finest exponent whose mantissa still fits.
    for exponent in range(SFLOAT_EXPONENT_MIN, SFLOAT_EXPONENT_MAX + 1):
        mantissa = round(value * 10.0 ** (-exponent))
        if abs(mantissa) <= SFLOAT_MANTISSA_MAX:
            return pack_sfloat(mantissa, exponent)
    raise Ieee11073CodecError("value too large for SFLOAT")


# -- records -----------------------------------------------------------------------------
class RecordFlags(IntFlag):
    UNIT_KPA = 1 << 0
    TIME_STAMP = 1 << 1
    PULSE_RATE = 1 << 2
    USER_ID = 1 << 3
    MEASUREMENT_STATUS = 1 << 4


class PulseRateRange(IntEnum):
    WITHIN = 0
    ABOVE_UPPER = 1
    BELOW_LOWER = 2
    RESERVED = 3


class StatusBits(IntFlag):
    BODY_MOVEMENT = 1 << 0
    CUFF_TOO_LOOSE = 1 << 1
    IRREGULAR_PULSE = 1 << 2
    IMPROPER_POSITION = 1 << 5


USER_ID_UNKNOWN = 0xFF


class TimeStamp(BaseModel):
    """Bluetooth Date Time: 0 in year, month or day means "not known"."""

    year: int = Field(ge=0, le=9999)
    month: int = Field(ge=0, le=12)
    day: int = Field(ge=0, le=31)
    hours: int = Field(ge=0, le=23)
    minutes: int = Field(ge=0, le=59)
    seconds: int = Field(ge=0, le=59)

    def to_datetime(self) -> datetime | None:
        """A naive local datetime, or None when the date is incomplete or impossible."""
        try:
            return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)
        except ValueError:
            return None

    @classmethod
    def from_datetime(cls, dt: datetime) -> "TimeStamp":
        return cls(year=dt.year, month=dt.month, day=dt.day, hours=dt.hour, minutes=dt.minute, seconds=dt.second)


class BloodPressureRecord(BaseModel):
    """One 0x2A35 (or 0x2A36) value. A field the device sent as NaN/NRes is ``None``.

    For an Intermediate Cuff Pressure record ``systolic`` is the current cuff pressure.
    """

    unit: BpUnit = BpUnit.MMHG
    systolic: float | None
    diastolic: float | None = None
    mean: float | None = None
    timestamp: TimeStamp | None = None
    pulse: float | None = None
    user_id: int | None = Field(default=None, ge=0, le=255)
    status: int | None = Field(default=None, ge=0, le=0xFFFF)  # raw u16, reserved bits kept

    @property
    def pulse_rate_range(self) -> PulseRateRange | None:
        return None if self.status is None else PulseRateRange((self.status >> 3) & 0x3)

    def bp_flags(self) -> frozenset[BpFlag]:
        """The measurement-status bits as the kiosk's BpFlag set."""
        if self.status is None:
            return frozenset()
        bits = StatusBits(self.status & 0x27)
        out = set()
        if StatusBits.BODY_MOVEMENT in bits:
            out.add(BpFlag.BODY_MOVEMENT)
        if StatusBits.CUFF_TOO_LOOSE in bits:
            out.add(BpFlag.CUFF_LOOSE)
        if StatusBits.IRREGULAR_PULSE in bits:
            out.add(BpFlag.IRREGULAR_PULSE)
        if StatusBits.IMPROPER_POSITION in bits:
            out.add(BpFlag.IMPROPER_POSITION)
        if self.pulse_rate_range is PulseRateRange.ABOVE_UPPER:
            out.add(BpFlag.PULSE_ABOVE_RANGE)
        elif self.pulse_rate_range is PulseRateRange.BELOW_LOWER:
            out.add(BpFlag.PULSE_BELOW_RANGE)
        return frozenset(out)


def _value(raw: int) -> float | None:
    v = decode_sfloat(raw)
    return None if math.isnan(v) else v


def _raw(value: float | None) -> int:
    return SFLOAT_NAN if value is None else encode_sfloat(value)


def decode_record(data: bytes) -> BloodPressureRecord:
    """Decode one 0x2A35/0x2A36 value. Raises Ieee11073CodecError on anything malformed."""
    data = bytes(data)
    if len(data) < 7:
        raise Ieee11073CodecError(f"record too short ({len(data)} bytes, need at least 7)")
    flags = RecordFlags(data[0] & 0x1F)
    expected = 7
    expected += 7 if RecordFlags.TIME_STAMP in flags else 0
    expected += 2 if RecordFlags.PULSE_RATE in flags else 0
    expected += 1 if RecordFlags.USER_ID in flags else 0
    expected += 2 if RecordFlags.MEASUREMENT_STATUS in flags else 0
    if len(data) != expected:
        raise Ieee11073CodecError(f"record is {len(data)} bytes, its flags say {expected}")
    systolic, diastolic, mean = struct.unpack_from("<HHH", data, 1)
    pos = 7
    fields: dict = {
        "unit": BpUnit.KPA if RecordFlags.UNIT_KPA in flags else BpUnit.MMHG,
        "systolic": _value(systolic),
        "diastolic": _value(diastolic),
        "mean": _value(mean),
    }
    if RecordFlags.TIME_STAMP in flags:
        year, month, day, hours, minutes, seconds = struct.unpack_from("<HBBBBB", data, pos)
        pos += 7
        try:
            fields["timestamp"] = TimeStamp(
                year=year, month=month, day=day, hours=hours, minutes=minutes, seconds=seconds
            )
        except ValueError:  # pydantic's ValidationError is a ValueError
            raise Ieee11073CodecError("time stamp out of range") from None
    if RecordFlags.PULSE_RATE in flags:
        (pulse,) = struct.unpack_from("<H", data, pos)
        pos += 2
        fields["pulse"] = _value(pulse)
    if RecordFlags.USER_ID in flags:
        fields["user_id"] = data[pos]
        pos += 1
    if RecordFlags.MEASUREMENT_STATUS in flags:
        (fields["status"],) = struct.unpack_from("<H", data, pos)
    return BloodPressureRecord.model_validate(fields)


def encode_record(record: BloodPressureRecord) -> bytes:
    """Encode a record; the flags follow from the unit and the optional fields present."""
    flags = RecordFlags(0)
    if record.unit is BpUnit.KPA:
        flags |= RecordFlags.UNIT_KPA
    out = bytearray()
    out += struct.pack("<HHH", _raw(record.systolic), _raw(record.diastolic), _raw(record.mean))
    if record.timestamp is not None:
        flags |= RecordFlags.TIME_STAMP
        t = record.timestamp
        out += struct.pack("<HBBBBB", t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
    if record.pulse is not None:
        flags |= RecordFlags.PULSE_RATE
        out += struct.pack("<H", _raw(record.pulse))
    if record.user_id is not None:
        flags |= RecordFlags.USER_ID
        out.append(record.user_id)
    if record.status is not None:
        flags |= RecordFlags.MEASUREMENT_STATUS
        out += struct.pack("<H", record.status)
    return bytes([int(flags)]) + bytes(out)


def decode_measurement(data: bytes) -> BloodPressureRecord:
    """Decode one Blood Pressure Measurement (0x2A35) value; the benchmark's entry point."""
    return decode_record(data)


def decode_intermediate_cuff_pressure(data: bytes) -> BloodPressureRecord:
    """Decode one Intermediate Cuff Pressure (0x2A36) value (``systolic`` = cuff pressure)."""
    return decode_record(data)


def intermediate_cuff_pressure(pressure: float, unit: BpUnit = BpUnit.MMHG) -> BloodPressureRecord:
    """An 0x2A36 record for one cuff pressure (diastolic and MAP unused: NaN on the wire)."""
    return BloodPressureRecord(unit=unit, systolic=pressure)
