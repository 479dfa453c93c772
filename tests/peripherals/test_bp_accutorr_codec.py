"""Accutorr PC-interface codec: golden lines from the manual, malformed input, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peripherals.bp.accutorr_codec import (
    AlarmLimits,
    PatientData,
    Status1,
    Status2,
    format_alarm_limits,
    format_patient_line,
    parse_alarm_limits,
    parse_patient_line,
)
from peripherals.bp.errors import AccutorrCodecError
from peripherals.errors import CodecError

# Datascope Accutorr 3 service manual, manualslib.de manual 1387918, p. 1-53 (and 1-37,
# 1-52): the manual's example reply, character for character, leading spaces included.
MANUAL_EXAMPLE = b"P:--,85,120, 45, 80,000,010,000, 5"


def test_golden_manual_example_parses_field_by_field():
    data = parse_patient_line(MANUAL_EXAMPLE + b"\r\n")
    assert data == PatientData(
        spo2=None, pulse=85, systolic=120, mean=45, diastolic=80,
        status0=0, status1=10, status2=0, minutes_since_nibp=5,
    )
    assert data.nibp_errors == Status2(0)
    # p. 1-54 bit meanings; status byte read as its decimal value (inferred, see codec docstring)
    assert Status1(data.status1) == Status1.SPO2_UNCALIBRATED | Status1.SPO2_RAM_TEST_FAILURE


def test_line_ending_is_optional_and_str_is_accepted():
    assert parse_patient_line(MANUAL_EXAMPLE) == parse_patient_line(MANUAL_EXAMPLE.decode() + "\r\n")


def test_unused_fields_everywhere():
    data = parse_patient_line(b"P:--,--,--,--,--,--,--,--,--\r\n")
    assert data.systolic is None and data.minutes_since_nibp is None and data.status2 == 0
    assert not data.has_nibp_values


def test_nibp_status_bits_from_status_byte_2():
    data = parse_patient_line(b"P:--, 72,128, 97, 82,000,000,003,  0\r\n")
    assert data.nibp_errors == Status2.NIBP_CUFF_OVERPRESSURE | Status2.NIBP_MOTION_ARTIFACT


def test_alarm_limits_ten_fields_round_trip():
    # p. 1-53: L:aaa,...,jjj — SpO2/pulse/systolic/mean/diastolic high and low limits
    line = b"L:100, 86,120, 50,180, 90,130, 60,110, 50\r\n"
    limits = parse_alarm_limits(line)
    assert limits.systolic_high == 180 and limits.diastolic_low == 50
    assert format_alarm_limits(limits) == line


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"X:--,85,120, 45, 80,000,010,000, 5",  # wrong command letter
        b"P--,85,120, 45, 80,000,010,000, 5",  # no colon
        b"P:--,85,120, 45, 80,000,010,000",  # 8 fields
        b"P:--,85,120, 45, 80,000,010,000, 5,1",  # 10 fields
        b"P:--,8a,120, 45, 80,000,010,000, 5",  # not a number
        b"P:--,85,120, 45, 80,000,010,256, 5",  # status is not a byte
        b"P:--,85,120, 45, 80,000,010,000,-5",  # sign
        b"P:--,85,1 20, 45, 80,000,010,000, 5",  # space inside a number
        b"P:--,85,120, 45, 80,000,010,000, 5\x00",  # control character
        b"P:--,\xb5,120, 45, 80,000,010,000, 5",  # not ASCII
        b"P:" + b"1," * 60 + b"1",  # far too long
        b"L:1,2,3",  # short limits line
    ],
)
def test_malformed_lines_raise_codec_error(line):
    parser = parse_alarm_limits if line.startswith(b"L") else parse_patient_line
    with pytest.raises(AccutorrCodecError):
        parser(line)


def test_non_ascii_text_raises_codec_error():
    with pytest.raises(AccutorrCodecError):
        parse_patient_line("P:--,８5,120, 45, 80,000,010,000, 5")  # full-width digit


def test_codec_error_is_a_codec_error():
    assert issubclass(AccutorrCodecError, CodecError)


@given(st.binary(max_size=120))
def test_arbitrary_bytes_raise_only_codec_error(data):
    for parser in (parse_patient_line, parse_alarm_limits):
        try:
            parser(data)
        except AccutorrCodecError:
            pass


_field = st.sampled_from(["--", "---", " --"]) | st.integers(0, 9999).map(str).map(lambda s: s.rjust(3))


@given(st.lists(_field, min_size=9, max_size=9))
def test_arbitrary_field_lists_raise_only_codec_error(fields):
    try:
        data = parse_patient_line(("P:" + ",".join(fields)).encode())
    except AccutorrCodecError:
        return
    assert all(0 <= getattr(data, f) <= 255 for f in ("status0", "status1", "status2"))


_value = st.none() | st.integers(0, 999)
patient_data = st.builds(
    PatientData,
    spo2=_value, pulse=_value, systolic=_value, mean=_value, diastolic=_value,
    status0=st.integers(0, 255), status1=st.integers(0, 255), status2=st.integers(0, 255),
    minutes_since_nibp=st.none() | st.integers(0, 9999),
)


@given(patient_data)
def test_patient_line_round_trip(data):
    line = format_patient_line(data)
    assert line.endswith(b"\r\n")
    assert parse_patient_line(line) == data


@given(st.builds(AlarmLimits, **{name: _value for name in AlarmLimits.model_fields}))
def test_alarm_limits_round_trip(limits):
    assert parse_alarm_limits(format_alarm_limits(limits)) == limits
