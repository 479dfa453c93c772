"""IEEE 11073 SFLOAT and the Bluetooth 0x2A35/0x2A36 records: golden vectors and properties."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peripherals.bp.errors import Ieee11073CodecError
from peripherals.bp.ieee11073_codec import (
    SFLOAT_NAN,
    SFLOAT_NEG_INF,
    SFLOAT_NRES,
    SFLOAT_POS_INF,
    SFLOAT_RESERVED,
    BloodPressureRecord,
    PulseRateRange,
    TimeStamp,
    decode_intermediate_cuff_pressure,
    decode_measurement,
    decode_record,
    decode_sfloat,
    encode_record,
    encode_sfloat,
    pack_sfloat,
    sfloat_value,
)
from peripherals.bp.models import BpFlag, BpUnit

# Golden vectors from NordicSemiconductor/Android-BLE-Common-Library,
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/bps/
# BloodPressureMeasurementDataCallbackTest.java (onBloodPressureMeasurementReceived_full/_some/_minimal)
NORDIC_BPM_FULL = bytes([0x1E, 0x8A, 0x00, 0x58, 0x00, 0x78, 0x00, 0x00, 0x00, 0x04, 0x11, 0x14, 0x29, 0x3B, 0x3C, 0x00, 0x01, 0x27, 0x00])
NORDIC_BPM_SOME = bytes([0x15, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0, 0x3C, 0x00, 0x12, 0x00])
NORDIC_BPM_MINIMAL = bytes([0x00, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0])
# ... and IntermediateCuffPressureDataCallbackTest.java (_some, _minimal)
NORDIC_ICP_SOME = bytes([0x15, 0x6F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x12, 0x00])
NORDIC_ICP_MINIMAL = bytes([0x00, 0xD7, 0xF0, 0x00, 0x00, 0x00, 0x00])
# Bluetooth SIG "Personal Health Devices Transcoding" white paper §2.2.6, as used in a public
# TypeScript parser's test (bloodPressureMeasurementFromDataView, "00720072007200" → 114/114/114).
PHD_WHITEPAPER_BPM = bytes.fromhex("00720072007200")


def test_golden_nordic_full_record():
    r = decode_measurement(NORDIC_BPM_FULL)
    assert (r.systolic, r.diastolic, r.mean, r.unit) == (138.0, 88.0, 120.0, BpUnit.MMHG)
    assert r.pulse == 60.0 and r.user_id == 1
    assert r.timestamp == TimeStamp(year=0, month=4, day=17, hours=20, minutes=41, seconds=59)
    assert r.timestamp.to_datetime() is None  # year 0 = unknown
    assert r.status == 0b100111 and r.pulse_rate_range is PulseRateRange.WITHIN
    assert r.bp_flags() == {BpFlag.BODY_MOVEMENT, BpFlag.CUFF_LOOSE, BpFlag.IRREGULAR_PULSE, BpFlag.IMPROPER_POSITION}
    assert encode_record(r) == NORDIC_BPM_FULL


def test_golden_nordic_kpa_record_with_status():
    r = decode_measurement(NORDIC_BPM_SOME)
    assert r.unit is BpUnit.KPA
    assert (r.systolic, r.diastolic, r.mean, r.pulse) == (18.9, 11.0, 15.9, 60.0)
    assert r.user_id is None and r.timestamp is None
    assert r.pulse_rate_range is PulseRateRange.BELOW_LOWER
    assert r.bp_flags() == {BpFlag.CUFF_LOOSE, BpFlag.PULSE_BELOW_RANGE}
    assert encode_record(r) == NORDIC_BPM_SOME


def test_golden_nordic_minimal_record():
    r = decode_measurement(NORDIC_BPM_MINIMAL)
    assert (r.systolic, r.diastolic, r.mean) == (18.9, 11.0, 15.9)
    assert r.pulse is None and r.status is None and r.bp_flags() == frozenset()
    assert encode_record(r) == NORDIC_BPM_MINIMAL


def test_golden_nordic_intermediate_cuff_pressure():
    assert decode_intermediate_cuff_pressure(NORDIC_ICP_MINIMAL).systolic == 21.5
    r = decode_intermediate_cuff_pressure(NORDIC_ICP_SOME)
    assert (r.systolic, r.unit, r.pulse) == (11.1, BpUnit.KPA, 60.0)


def test_golden_phd_whitepaper_record():
    r = decode_measurement(PHD_WHITEPAPER_BPM)
    assert (r.systolic, r.diastolic, r.mean, r.unit) == (114.0, 114.0, 114.0, BpUnit.MMHG)


@pytest.mark.parametrize(
    "data",
    [
        bytes([1, 2, 3, 4, 5, 6]),  # Nordic onInvalidDataReceived_toShort
        bytes([3, 2, 3, 4, 5, 6, 7]),  # Nordic onInvalidDataReceived_noTimestamp: flags say 14 bytes
        NORDIC_BPM_FULL[:-1],
        NORDIC_BPM_FULL + b"\x00",  # longer than the flags say
        bytes([0x02, 0x78, 0, 0x50, 0, 0x5A, 0, 0xE8, 0x07, 13, 1, 0, 0, 0]),  # month 13
        bytes([0x02, 0x78, 0, 0x50, 0, 0x5A, 0, 0xE8, 0x07, 1, 1, 24, 0, 0]),  # hour 24
        b"",
    ],
)
def test_malformed_records_raise_codec_error(data):
    with pytest.raises(Ieee11073CodecError):
        decode_record(data)


def test_status_pulse_range_bits():
    base = BloodPressureRecord(systolic=120, diastolic=80, mean=93)
    assert base.model_copy(update={"status": 0x08}).bp_flags() == {BpFlag.PULSE_ABOVE_RANGE}
    assert base.model_copy(update={"status": 0x10}).bp_flags() == {BpFlag.PULSE_BELOW_RANGE}
    assert base.model_copy(update={"status": 0x18}).pulse_rate_range is PulseRateRange.RESERVED
    assert base.model_copy(update={"status": 0x18}).bp_flags() == frozenset()


def test_timestamp_complete_gives_datetime():
    t = TimeStamp(year=2024, month=3, day=15, hours=14, minutes=30, seconds=45)
    assert t.to_datetime() == datetime(2024, 3, 15, 14, 30, 45)
    assert TimeStamp(year=2024, month=2, day=30, hours=0, minutes=0, seconds=0).to_datetime() is None


# -- SFLOAT ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, value",
    [
        (0x0078, 120.0),
        (0xF0BD, 18.9),  # Nordic: setValue(189, -1, FORMAT_SFLOAT)
        (0xF09F, 15.9),
        (0x000B, 11.0),
        (0xFFFF, -0.1),  # exponent -1, mantissa -1
        (0x1001, 10.0),
        (0x0000, 0.0),
    ],
)
def test_sfloat_known_values(raw, value):
    assert decode_sfloat(raw) == value


def test_sfloat_special_values():
    assert math.isnan(decode_sfloat(SFLOAT_NAN))
    assert math.isnan(decode_sfloat(SFLOAT_NRES))
    assert math.isnan(decode_sfloat(SFLOAT_RESERVED))
    assert decode_sfloat(SFLOAT_POS_INF) == math.inf
    assert decode_sfloat(SFLOAT_NEG_INF) == -math.inf
    assert encode_sfloat(math.nan) == SFLOAT_NAN
    assert encode_sfloat(math.inf) == SFLOAT_POS_INF and encode_sfloat(-math.inf) == SFLOAT_NEG_INF


def test_sfloat_prefers_integer_encoding_like_devices():
    assert encode_sfloat(120.0) == 0x0078
    assert encode_sfloat(18.9) == 0xF0BD


def test_sfloat_out_of_range():
    with pytest.raises(Ieee11073CodecError):
        encode_sfloat(2046e7)
    with pytest.raises(Ieee11073CodecError):
        pack_sfloat(2046, 0)


@given(st.integers(0, 0xFFFF))
def test_sfloat_decode_never_raises(raw):
    decode_sfloat(raw)


representable = st.builds(sfloat_value, st.integers(-2045, 2045), st.integers(-8, 7))


@given(representable)
def test_sfloat_round_trip_representable_values(value):
    assert decode_sfloat(encode_sfloat(value)) == value


def _valid_sfloat(raw: int) -> bool:
    """Specials, or a mantissa within ±0x07FD (larger ones are not valid SFLOAT numbers)."""
    mantissa = raw & 0x0FFF
    mantissa = mantissa - 0x1000 if mantissa >= 0x800 else mantissa
    return raw in (SFLOAT_NAN, SFLOAT_NRES, SFLOAT_RESERVED, SFLOAT_POS_INF, SFLOAT_NEG_INF) or abs(mantissa) <= 0x07FD


@given(st.integers(0, 0xFFFF).filter(_valid_sfloat))
def test_sfloat_raw_round_trip_keeps_value(raw):
    value = decode_sfloat(raw)
    again = decode_sfloat(encode_sfloat(value))
    assert (math.isnan(value) and math.isnan(again)) or again == value


# -- records: properties ----------------------------------------------------------------------
@given(st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_codec_error(data):
    try:
        decode_record(data)
    except Ieee11073CodecError:
        pass


@given(st.integers(0, 0xFF), st.binary(min_size=6, max_size=18))
def test_arbitrary_flagged_bodies_raise_only_codec_error(flags, body):
    try:
        decode_record(bytes([flags]) + body)
    except Ieee11073CodecError:
        pass


_sf = st.none() | representable | st.sampled_from([math.inf, -math.inf])
records = st.builds(
    BloodPressureRecord,
    unit=st.sampled_from(list(BpUnit)),
    systolic=_sf,
    diastolic=_sf,
    mean=_sf,
    timestamp=st.none()
    | st.builds(
        TimeStamp,
        year=st.integers(0, 9999), month=st.integers(0, 12), day=st.integers(0, 31),
        hours=st.integers(0, 23), minutes=st.integers(0, 59), seconds=st.integers(0, 59),
    ),
    pulse=_sf,
    user_id=st.none() | st.integers(0, 255),
    status=st.none() | st.integers(0, 0xFFFF),
)


@given(records)
def test_record_round_trip(record):
    assert decode_record(encode_record(record)) == record
