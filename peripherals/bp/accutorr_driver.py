"""`AccutorrMonitor`: the Datascope Accutorr 3 PC interface (`accutorr_codec`).

The interface can only *read*: there is no start command, so `measure()` takes a baseline
``P``, asks the citizen (through progress) to press start on the monitor, and polls ``P``
until a new NIBP reading appears.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from peripherals.base import DeviceInfo, DeviceKind, SelfTestResult
from peripherals.bp import accutorr_codec as acc
from peripherals.bp.errors import BpCodecError, CuffError, MeasurementCancelled, MeasurementFailed
from peripherals.bp.models import BpPhase, BpProgress, BpReading, BpUnit
from peripherals.bp.serial_monitor import KEEP_STILL, PRESS_START, ProgressCallback, SerialBpMonitor, report_progress
from peripherals.errors import DeviceFault, DeviceTimeout, ProtocolError

log = logging.getLogger(__name__)



class AccutorrMonitor(SerialBpMonitor):
    """Datascope Accutorr 3 on its RS-232 "PC interface" (9600 8N1 by default)."""

    model_name = "Datascope Accutorr 3"

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = acc.BAUDRATE_DEFAULT,
        timeout: float = 1.0,
        poll_interval: float = 0.5,
        max_poll_errors: int = 2,
        expected_duration: float = 45.0,
    ) -> None:
        super().__init__(port, baudrate=baudrate, timeout=timeout)
        self.poll_interval = poll_interval
        self.max_poll_errors = max_poll_errors  # consecutive bad polls tolerated in measure()
        self.expected_duration = expected_duration  # s: only for the progress-bar estimate

    def _handshake(self) -> None:
        self._flush_input()
        self.prompt()

    def info(self) -> DeviceInfo:
        return DeviceInfo(kind=DeviceKind.BP, driver=type(self).__name__, model=self.model_name, port=self.port)

    # -- single queries ---------------------------------------------------------------------
    def prompt(self) -> None:
        """``C`` → ``>``: the cheapest "are you there"."""
        self._flush_input()
        self._write(acc.CMD_PROMPT)
        buf = bytearray()
        deadline = time.monotonic() + self.timeout
        while acc.PROMPT not in buf:
            chunk = self._read()
            if chunk and not _is_text(chunk):
                self._fail(ProtocolError("the monitor sent unreadable bytes", kind=DeviceKind.BP))
            buf += chunk
            if time.monotonic() > deadline:
                self._fail(DeviceTimeout("the monitor did not answer the prompt request", kind=DeviceKind.BP))
        self._resync(quiet=0.0, limit=0.0)

    def read_patient_data(self) -> acc.PatientData:
        """One ``P`` query, parsed."""
        return self._parse(acc.parse_patient_line, self._query_line(acc.CMD_PATIENT_DATA))

    def read_alarm_limits(self) -> acc.AlarmLimits:
        return self._parse(acc.parse_alarm_limits, self._query_line(acc.CMD_ALARM_LIMITS))

    def _parse(self, parser, line: bytes):
        try:
            return parser(line)
        except BpCodecError as exc:
            self._fail(ProtocolError(f"unreadable reply: {exc}", kind=DeviceKind.BP))

    def _query_line(self, command: bytes, *, cancellable: bool = False) -> bytes:
        """Send a one-letter command; return its ``X:...`` line (without CR LF)."""
        self._flush_input()
        self._write(command)
        head = command + b":"
        buf = bytearray()
        deadline = time.monotonic() + self.timeout
        while True:
            chunk = self._read()
            if chunk:
                if not _is_text(chunk):
                    self._fail(ProtocolError("the monitor sent unreadable bytes", kind=DeviceKind.BP))
                buf += chunk
                while (end := buf.find(b"\n")) >= 0:
                    text = bytes(buf[:end]).strip().lstrip(acc.PROMPT).strip()
                    del buf[: end + 1]
                    if not text or text == acc.BANNER:
                        continue  # blank line, or the monitor was just switched on
                    if text.startswith(head):
                        return text
                    self._fail(ProtocolError("the monitor sent an unexpected line", kind=DeviceKind.BP))
                if len(buf) > acc.MAX_LINE:
                    self._fail(ProtocolError("the monitor sent an over-long line", kind=DeviceKind.BP))
            if cancellable and self._cancel.is_set():
                self._fail(MeasurementCancelled(kind=DeviceKind.BP))
            if time.monotonic() > deadline:
                partial = bool(bytes(buf).strip().lstrip(acc.PROMPT).strip())
                what = "an incomplete reply" if partial else "no reply"
                self._fail(DeviceTimeout(f"the monitor sent {what} in {self.timeout:g} s", kind=DeviceKind.BP))

    # -- health ---------------------------------------------------------------------------
    def self_test(self) -> SelfTestResult:
        return self._run_self_test(
            (("prompt", self.prompt), ("patient_data", self.read_patient_data), ("alarm_limits", self.read_alarm_limits)),
            "the monitor answers and reports no fault",
            inspect=_patient_data_checks,
        )

    def check(self) -> None:
        """While FAULT: still reporting cuff overpressure?"""
        data = self.read_patient_data()
        if acc.Status2.NIBP_CUFF_OVERPRESSURE in data.nibp_errors:
            raise CuffError("the monitor still reports cuff overpressure", kind=DeviceKind.BP, device_code="status2=0x01")

    # -- measuring ------------------------------------------------------------------------
    def measure(self, on_progress: ProgressCallback | None = None, timeout: float = 120.0) -> BpReading:
        self._begin()
        try:
            return self._measure(on_progress, timeout)
        finally:
            self._end()

    def _measure(self, on_progress: ProgressCallback | None, timeout: float) -> BpReading:
        started = time.monotonic()
        deadline = started + timeout
        baseline = self._poll(deadline)
        seen_errors = baseline.nibp_errors  # an error left over from an earlier attempt is not ours
        report_progress(on_progress, BpProgress(phase=BpPhase.STARTING, fraction=0.0, message=PRESS_START))
        while True:
            if self._cancel.wait(self.poll_interval):
                self._resync(quiet=0.0, limit=0.0)
                raise MeasurementCancelled(kind=DeviceKind.BP)
            if time.monotonic() > deadline:
                raise DeviceTimeout(f"no new reading within {timeout:g} s", kind=DeviceKind.BP)
            data = self._poll(deadline)
            new_errors = data.nibp_errors & ~seen_errors
            if new_errors:
                raise _nibp_error(new_errors)
            seen_errors = data.nibp_errors
            if _is_new_reading(baseline, data):
                report_progress(on_progress, BpProgress(phase=BpPhase.DONE, fraction=1.0))
                log.info("bp: reading received")
                return BpReading(
                    systolic=data.systolic,
                    diastolic=data.diastolic,
                    mean=data.mean,
                    pulse=data.pulse,
                    unit=BpUnit.MMHG,
                    measured_at=datetime.now(timezone.utc),
                )
            # The PC interface reports neither start nor cuff pressure: time is the only estimate.
            fraction = min(0.95, (time.monotonic() - started) / self.expected_duration)
            report_progress(on_progress, BpProgress(phase=BpPhase.MEASURING, fraction=round(fraction, 3), message=KEEP_STILL))

    def _poll(self, deadline: float) -> acc.PatientData:
        """``P`` with up to `max_poll_errors` retries after a garbled or missing reply."""
        failures = 0
        while True:
            try:
                return self._parse(acc.parse_patient_line, self._query_line(acc.CMD_PATIENT_DATA, cancellable=True))
            except (ProtocolError, DeviceTimeout) as exc:
                failures += 1
                if failures > self.max_poll_errors or time.monotonic() > deadline:
                    raise
                log.info("bp: poll failed (%s), retrying", exc.code)


def _patient_data_checks(step: str, answer: Any) -> list[tuple[str, bool, str]]:
    """What a ``P`` reply says about the monitor's own memory tests and NIBP status."""
    if step != "patient_data":
        return []
    status1 = acc.Status1(answer.status1)
    memory_failed = status1 & (acc.Status1.SPO2_RAM_TEST_FAILURE | acc.Status1.SPO2_ROM_TEST_FAILURE)
    return [
        ("memory_tests", not memory_failed, "monitor reports a RAM/ROM test failure"),
        ("nibp_status", not answer.nibp_errors, f"NIBP status {answer.status2:#04x}"),
    ]


def _is_text(chunk: bytes) -> bool:
    """Only printable ASCII and CR/LF ever come from the PC interface."""
    return all(32 <= b < 127 or b in (10, 13) for b in chunk)


def _is_new_reading(baseline: acc.PatientData, data: acc.PatientData) -> bool:
    """A reading taken after `baseline`: "minutes since" went back, or fresh values appeared.

    A repeat measurement with identical values within the same minute as the previous one
    cannot be told apart on this interface (documented in docs/devices/bp.md).
    """
    if not data.has_nibp_values:
        return False
    now_min, base_min = data.minutes_since_nibp, baseline.minutes_since_nibp
    if now_min is not None and (base_min is None or now_min < base_min):
        return True
    return data.nibp_values() != baseline.nibp_values() and now_min in (0, None)


def _nibp_error(bits: acc.Status2) -> DeviceFault:
    code = f"status2={int(bits):#04x}"
    if acc.Status2.NIBP_CUFF_OVERPRESSURE in bits:
        return CuffError("the monitor reports cuff overpressure", kind=DeviceKind.BP, device_code=code)
    return MeasurementFailed("the monitor reports motion artifact", kind=DeviceKind.BP, device_code=code)


# =========================================================================================
