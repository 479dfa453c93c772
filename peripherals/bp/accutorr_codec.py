"""Datascope Accutorr 3 "PC interface": ASCII lines <-> pydantic models (no I/O).

Source: Datascope Accutorr 3 service manual, manualslib.de manual 1387918,
pp. 1-37 (port settings), 1-52/1-53 (commands and replies), 1-54 (status bytes):

- RS-232, ASCII, 8 data bits, 1 stop bit, no parity; baud rate set in the user
  configuration menu. No packets and no checksums.
- At power-up the monitor sends ``ACCUTORR PC Interface is ready`` and the ``>`` prompt.
- Single-character commands: ``P`` show patient data, ``L`` show alarm limits,
  ``C`` prompt request (answered by ``>``).
- A reply is the command character, a colon, then 3-digit fields separated by commas and
  ended by CR LF; an unused field is ``--``. The manual's example, verbatim (note the
  leading spaces and the two-character fields)::

      P:--,85,120, 45, 80,000,010,000, 5

- ``P`` fields: SpO2, pulse rate, systolic, mean, diastolic, status byte 0, 1, 2,
  minutes since the last NIBP measurement.
- ``L`` fields: SpO2 high/low, pulse high/low, systolic high/low, mean high/low,
  diastolic high/low (10 fields).

Status bits (p. 1-54): byte 0 and byte 1 are SpO2 conditions, byte 2 bit 0 is "NIBP
indicating CUFF OVERPRESSURE", bit 1 "NIBP indicating MOTION ARTIFACT", bits 2-7 unused.
The manual does not say how a status byte is written in its 3-digit field; we read it
as the byte's decimal value (000..255), which fits the field width. [inferred, not
verified against a device]
"""

from __future__ import annotations

import re
from enum import IntFlag

from pydantic import BaseModel, Field

from peripherals.bp.errors import AccutorrCodecError

BAUDRATE_DEFAULT = 9600
BANNER = b"ACCUTORR PC Interface is ready"
PROMPT = b">"
CMD_PATIENT_DATA = b"P"
CMD_ALARM_LIMITS = b"L"
CMD_PROMPT = b"C"
EOL = b"\r\n"

UNUSED = "--"
_VALUE = re.compile(r"^ *([0-9]{1,4}) *$")
_UNUSED = re.compile(r"^ *-{2,3} *$")
MAX_LINE = 80  # a P line is about 37 characters; anything much longer is not a reply


class Status0(IntFlag):
    """Status byte 0: SpO2 conditions (manual p. 1-54)."""

    SPO2_NO_SENSOR = 1 << 0
    SPO2_SENSOR_OFF = 1 << 1
    SPO2_INTERFERENCE = 1 << 2
    SPO2_PULSE_SEARCH = 1 << 3
    SPO2_PULSE_LEVEL_WEAK = 1 << 4
    SPO2_NO_PULSE = 1 << 5
    SPO2_CHECK_SENSOR_SITE = 1 << 6
    SPO2_PULSE_RATE_UNDER_30 = 1 << 7


class Status1(IntFlag):
    """Status byte 1: SpO2 conditions and self-test results (manual p. 1-54)."""

    SPO2_PULSE_RATE_OVER_250 = 1 << 0
    SPO2_UNCALIBRATED = 1 << 1
    SPO2_ALARM_OVERLAPPED = 1 << 2
    SPO2_RAM_TEST_FAILURE = 1 << 3
    SPO2_ROM_TEST_FAILURE = 1 << 4
    SPO2_OFFSET_MISMATCH = 1 << 5
    SPO2_FILTER_MISMATCH = 1 << 6
    SPO2_SYSTEM_TEST_IN_PROGRESS = 1 << 7


class Status2(IntFlag):
    """Status byte 2: NIBP conditions (manual p. 1-54); bits 2-7 are not used."""

    NIBP_CUFF_OVERPRESSURE = 1 << 0
    NIBP_MOTION_ARTIFACT = 1 << 1


NIBP_ERRORS = Status2.NIBP_CUFF_OVERPRESSURE | Status2.NIBP_MOTION_ARTIFACT


class PatientData(BaseModel):
    """One ``P`` reply. ``None`` is a field the monitor sent as ``--``."""

    spo2: int | None = Field(default=None, ge=0, le=9999)
    pulse: int | None = Field(default=None, ge=0, le=9999)
    systolic: int | None = Field(default=None, ge=0, le=9999)
    mean: int | None = Field(default=None, ge=0, le=9999)
    diastolic: int | None = Field(default=None, ge=0, le=9999)
    status0: int = Field(default=0, ge=0, le=255)
    status1: int = Field(default=0, ge=0, le=255)
    status2: int = Field(default=0, ge=0, le=255)
    minutes_since_nibp: int | None = Field(default=None, ge=0, le=9999)

    @property
    def nibp_errors(self) -> Status2:
        return Status2(self.status2 & NIBP_ERRORS)

    @property
    def has_nibp_values(self) -> bool:
        return self.systolic is not None and self.diastolic is not None

    def nibp_values(self) -> tuple[int | None, int | None, int | None, int | None]:
        """(systolic, diastolic, mean, pulse): what identifies one NIBP reading."""
        return (self.systolic, self.diastolic, self.mean, self.pulse)


class AlarmLimits(BaseModel):
    """One ``L`` reply: high/low limit pairs. ``None`` is a field sent as ``--``."""

    spo2_high: int | None = None
    spo2_low: int | None = None
    pulse_high: int | None = None
    pulse_low: int | None = None
    systolic_high: int | None = None
    systolic_low: int | None = None
    mean_high: int | None = None
    mean_low: int | None = None
    diastolic_high: int | None = None
    diastolic_low: int | None = None


_PATIENT_FIELDS = list(PatientData.model_fields)
_LIMIT_FIELDS = list(AlarmLimits.model_fields)
_STATUS_FIELDS = {"status0", "status1", "status2"}


def _as_text(line: bytes | str) -> str:
    if isinstance(line, str):
        text = line
    else:
        try:
            text = bytes(line).decode("ascii")
        except UnicodeDecodeError:
            raise AccutorrCodecError("reply is not ASCII") from None
    if len(text) > MAX_LINE:
        raise AccutorrCodecError("reply line too long")
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    if not (text.isascii() and text.isprintable()):
        raise AccutorrCodecError("reply has control characters")
    return text


def _field(raw: str, name: str) -> int | None:
    if _UNUSED.match(raw):
        return None
    m = _VALUE.match(raw)
    if not m:
        raise AccutorrCodecError(f"field {name} is not a number")
    return int(m.group(1))


def _fields(line: bytes | str, command: str, names: list[str]) -> dict[str, int | None]:
    text = _as_text(line)
    head = command + ":"
    if not text.startswith(head):
        raise AccutorrCodecError(f"reply does not start with {head!r}")
    parts = text[len(head) :].split(",")
    if len(parts) != len(names):
        raise AccutorrCodecError(f"{command} reply has {len(parts)} fields, expected {len(names)}")
    return {name: _field(raw, name) for name, raw in zip(names, parts)}


def parse_patient_line(line: bytes | str) -> PatientData:
    """Parse one ``P:...`` line (CR LF optional). Raises AccutorrCodecError."""
    values = _fields(line, "P", _PATIENT_FIELDS)
    for name in _STATUS_FIELDS:
        value = values[name]
        if value is None:
            values[name] = 0  # a status the monitor does not report has no flag set
        elif value > 255:
            raise AccutorrCodecError(f"{name} is not a byte")
    return PatientData.model_validate(values)


def parse_alarm_limits(line: bytes | str) -> AlarmLimits:
    """Parse one ``L:...`` line (10 fields, CR LF optional). Raises AccutorrCodecError."""
    return AlarmLimits.model_validate(_fields(line, "L", _LIMIT_FIELDS))


def _fmt(value: int | None, *, status: bool = False) -> str:
    if value is None:
        return UNUSED
    return f"{value:03d}" if status else f"{value:3d}"


def format_patient_line(data: PatientData) -> bytes:
    """The ``P`` reply as the monitor sends it: values right-aligned in 3, statuses 000..255.

    The manual's own example is not width-consistent ("85" beside " 45"), so the exact
    padding cannot be reproduced from it; parsing accepts both.
    """
    fields = [_fmt(getattr(data, n), status=n in _STATUS_FIELDS) for n in _PATIENT_FIELDS]
    return ("P:" + ",".join(fields)).encode("ascii") + EOL


def format_alarm_limits(limits: AlarmLimits) -> bytes:
    return ("L:" + ",".join(_fmt(getattr(limits, n)) for n in _LIMIT_FIELDS)).encode("ascii") + EOL
