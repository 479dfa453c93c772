"""Blood-pressure monitor drivers: transport + codec + deadlines + typed errors.

- `AccutorrMonitor`: Datascope Accutorr 3 PC interface (`accutorr_codec`). The interface
  can only *read*: there is no start command, so `measure()` takes a baseline ``P``,
  asks the citizen (through progress) to press start on the monitor, and polls ``P``
  until a new NIBP reading appears.
- `Ieee11073BridgeMonitor`: a Bluetooth cuff (0x2A35/0x2A36 records, `ieee11073_codec`)
  behind a USB/serial bridge (`bridge_framing`): START, cuff pressures, the result.

Both: every failure is a typed `DeviceError`; after any fault the input is drained and
flushed so that the next operation starts clean; health values are never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar, NoReturn

import serial

from peripherals.base import BloodPressureMonitor, DeviceInfo, DeviceKind, SelfTestResult
from peripherals.bp import accutorr_codec as acc
from peripherals.bp.bridge_framing import (
    BridgeErrorCode,
    BridgeFrame,
    BridgeInfo,
    FrameDecoder,
    FrameType,
    decode_info,
    error_code,
    frame,
)
from peripherals.bp.errors import BpCodecError, CuffError, MeasurementCancelled, MeasurementFailed
from peripherals.bp.ieee11073_codec import BloodPressureRecord, decode_record
from peripherals.bp.models import BpPhase, BpProgress, BpReading, BpUnit
from peripherals.errors import DeviceBusy, DeviceError, DeviceFault, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.transport.closing import close_quietly
from peripherals.transport.serial_port import flush_input, open_serial

log = logging.getLogger(__name__)

ProgressCallback = Callable[[BpProgress], None]
READ_SLICE = 0.02  # s: one blocking read; keeps cancel() and deadlines responsive
MMHG_PER_KPA = 7.500615
PRESS_START = "press start on the monitor"
KEEP_STILL = "keep still and breathe normally"


class _SerialBpMonitor(BloodPressureMonitor):
    """What both drivers share: the port, resynchronisation, cancel, busy guard."""

    model_name: ClassVar[str] = ""

    def __init__(self, port: str, *, baudrate: int, timeout: float) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout  # s: longest wait for one reply
        self._serial: serial.SerialBase | None = None
        self._cancel = threading.Event()
        self._busy = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        if self._serial is not None:
            return
        self._serial = open_serial(self.port, baudrate=self.baudrate, timeout=READ_SLICE, kind=DeviceKind.BP)
        try:
            self._handshake()
        except DeviceError as exc:
            self.close()
            if isinstance(exc, DeviceNotPresent):
                raise
            raise DeviceNotPresent(
                f"no {self.model_name} answered on {self.port} ({exc.code})", kind=DeviceKind.BP, detail=exc.code
            ) from None

    def close(self) -> None:
        port, self._serial = self._serial, None
        close_quietly(port)

    def cancel(self) -> None:
        self._cancel.set()

    def _handshake(self) -> None:
        raise NotImplementedError

    # -- I/O that only ever raises DeviceError ---------------------------------------------
    def _port(self) -> serial.SerialBase:
        if self._serial is None:
            raise DeviceNotPresent("the blood-pressure monitor is not open", kind=DeviceKind.BP)
        return self._serial

    def _lost(self) -> NoReturn:
        self.close()
        raise DeviceNotPresent(f"{self.port} disconnected", kind=DeviceKind.BP)

    def _write(self, data: bytes) -> None:
        port = self._port()
        try:
            port.write(data)
        except (serial.SerialException, OSError, ValueError):
            self._lost()

    def _read(self) -> bytes:
        port = self._port()
        try:
            return port.read(port.in_waiting or 1)
        except (serial.SerialException, OSError, ValueError, TypeError):
            self._lost()

    def _flush_input(self) -> None:
        try:
            flush_input(self._port(), kind=DeviceKind.BP)  # also maps termios.error (a vanished pty)
        except (DeviceNotPresent, ValueError):
            self._lost()

    def _resync(self, quiet: float = 0.05, limit: float = 0.5) -> None:
        """Discard whatever is still arriving (rest of a garbled reply), then flush."""
        end = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet:
            if self._read():
                last = time.monotonic()
        self._flush_input()

    def _fail(self, exc: DeviceError) -> NoReturn:
        """Raise `exc` after resynchronising (an unplug found meanwhile wins)."""
        self._resync()
        raise exc

    def _begin(self) -> None:
        if not self._busy.acquire(blocking=False):
            raise DeviceBusy("a measurement is already running", kind=DeviceKind.BP)
        self._cancel.clear()

    def _end(self) -> None:
        self._busy.release()

    # -- health ---------------------------------------------------------------------------
    def _run_self_test(
        self,
        steps: tuple[tuple[str, Callable[[], Any]], ...],
        all_well: str,
        inspect: Callable[[str, Any], list[tuple[str, bool, str]]] | None = None,
    ) -> SelfTestResult:
        """Run named query steps; each passes if the device answers it.

        A `DeviceNotPresent` ends the test (raised: the supervisor marks the device absent);
        any other `DeviceError` fails that step and the next step still runs. `inspect(name,
        answer)` may add checks read from a step's answer as (check, passed, problem).
        """
        started = time.monotonic()
        checks: dict[str, bool] = {}
        problems: list[str] = []
        for name, step in steps:
            try:
                answer = step()
            except DeviceNotPresent:
                raise
            except DeviceError as exc:
                checks[name] = False
                problems.append(f"{name}: {exc.code}")
                continue
            checks[name] = True
            for check, passed, problem in inspect(name, answer) if inspect is not None else ():
                checks[check] = passed
                if not passed:
                    problems.append(problem)
        return SelfTestResult(
            kind=DeviceKind.BP,
            passed=all(checks.values()),
            checks=checks,
            detail="; ".join(problems) or all_well,
            duration_s=round(time.monotonic() - started, 3),
        )


def _report(on_progress: ProgressCallback | None, progress: BpProgress) -> None:
    if on_progress is not None:
        on_progress(progress)


# =========================================================================================
class AccutorrMonitor(_SerialBpMonitor):
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
        _report(on_progress, BpProgress(phase=BpPhase.STARTING, fraction=0.0, message=PRESS_START))
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
                _report(on_progress, BpProgress(phase=BpPhase.DONE, fraction=1.0))
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
            _report(on_progress, BpProgress(phase=BpPhase.MEASURING, fraction=round(fraction, 3), message=KEEP_STILL))

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
class Ieee11073BridgeMonitor(_SerialBpMonitor):
    """A Bluetooth (IEEE 11073-10407) cuff behind a USB/serial bridge (`bridge_framing`)."""

    model_name = "IEEE 11073 blood-pressure bridge"

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        timeout: float = 1.0,
        frame_timeout: float = 10.0,
    ) -> None:
        super().__init__(port, baudrate=baudrate, timeout=timeout)
        self.frame_timeout = frame_timeout  # s: longest silence between frames while measuring
        self._decoder = FrameDecoder()
        self._frames: deque[BridgeFrame] = deque()
        self._info = BridgeInfo()

    def _handshake(self) -> None:
        self._info = self.identify()

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            kind=DeviceKind.BP,
            driver=type(self).__name__,
            model=self._info.model or self.model_name,
            serial=self._info.serial,
            firmware=self._info.firmware,
            port=self.port,
        )

    # -- frames -----------------------------------------------------------------------------
    def _clear(self) -> None:
        self._flush_input()
        self._decoder.reset()
        self._frames.clear()

    def _send(self, type_: FrameType) -> None:
        self._write(frame(type_))

    def _next_frame(self, deadline: float, *, cancellable: bool = False) -> BridgeFrame:
        while not self._frames:
            chunk = self._read()
            if chunk:
                try:
                    self._frames.extend(self._decoder.feed(chunk))
                except BpCodecError as exc:
                    self._fail(ProtocolError(f"unreadable frame: {exc}", kind=DeviceKind.BP))
                continue
            if cancellable and self._cancel.is_set():
                raise MeasurementCancelled(kind=DeviceKind.BP)
            if time.monotonic() > deadline:
                what = "an incomplete frame" if self._decoder.pending else "nothing"
                self._fail(DeviceTimeout(f"the bridge sent {what} in time", kind=DeviceKind.BP))
        return self._frames.popleft()

    def _fail(self, exc: DeviceError) -> NoReturn:
        self._decoder.reset()
        self._frames.clear()
        super()._fail(exc)

    def _request(self, type_: FrameType, expect: FrameType) -> BridgeFrame:
        """Send a command; return the first `expect` frame (ERROR frames raise)."""
        self._clear()
        self._send(type_)
        deadline = time.monotonic() + self.timeout
        while True:
            f = self._next_frame(deadline)
            if f.type is FrameType.ERROR:
                self._fail(_bridge_error(error_code(f)))
            if f.type is expect and (expect is not FrameType.ACK or f.payload == bytes([type_])):
                return f

    def identify(self) -> BridgeInfo:
        reply = self._request(FrameType.IDENTIFY, FrameType.INFO)
        try:
            return decode_info(reply.payload)
        except BpCodecError as exc:
            self._fail(ProtocolError(f"unreadable INFO: {exc}", kind=DeviceKind.BP))

    def stop(self) -> None:
        """STOP: the cuff deflates; answered by ACK."""
        self._request(FrameType.STOP, FrameType.ACK)

    def read_static_pressure(self) -> float:
        """The pressure in the cuff now, in mmHg (0.1 mmHg resolution), pump off.

        For the calibration check on the diagnostics screen: staff pump the cuff by hand
        against a reference manometer (bridge_framing: STATIC_PRESSURE). Refused with
        DeviceBusy while a measurement runs; not a health value, but still not logged.
        """
        self._begin()
        try:
            reply = self._request(FrameType.STATIC_PRESSURE, FrameType.CUFF_PRESSURE)
            pressure = self._record(reply).in_cuff_mmhg_exact()
            if pressure is None:
                self._fail(ProtocolError("the bridge sent no usable cuff pressure", kind=DeviceKind.BP))
            return pressure
        finally:
            self._end()

    # -- health ---------------------------------------------------------------------------
    def self_test(self) -> SelfTestResult:
        return self._run_self_test((("identify", self.identify), ("stop_ack", self.stop)), "the bridge answers")

    def check(self) -> None:
        self.identify()

    # -- measuring ------------------------------------------------------------------------
    def measure(self, on_progress: ProgressCallback | None = None, timeout: float = 120.0) -> BpReading:
        self._begin()
        try:
            return self._measure(on_progress, timeout)
        except MeasurementCancelled:
            self._stop_quietly()
            raise
        except (DeviceNotPresent, DeviceFault, DeviceBusy):
            raise  # unplugged; the cuff reported an error and stopped; or it runs someone else's measurement
        except DeviceError:
            self._stop_quietly()  # timeout / garbled stream: make sure the cuff deflates
            raise
        finally:
            self._end()

    def _measure(self, on_progress: ProgressCallback | None, timeout: float) -> BpReading:
        deadline = time.monotonic() + timeout
        self._request(FrameType.START, FrameType.ACK)
        _report(on_progress, BpProgress(phase=BpPhase.STARTING, fraction=0.0, message=KEEP_STILL))
        peak = 0
        while True:
            f = self._next_frame(min(deadline, time.monotonic() + self.frame_timeout), cancellable=True)
            if f.type is FrameType.ERROR:
                self._fail(_bridge_error(error_code(f)))
            if f.type is FrameType.CUFF_PRESSURE:
                pressure = self._record(f).in_cuff_mmhg()
                if pressure is None:
                    continue
                deflating = pressure < peak
                peak = max(peak, pressure)
                fraction = 0.4 + 0.55 * (1 - pressure / peak) if deflating and peak else 0.4 * min(1.0, pressure / 200)
                _report(
                    on_progress,
                    BpProgress(
                        phase=BpPhase.MEASURING if deflating else BpPhase.INFLATING,
                        cuff_pressure=pressure,
                        fraction=round(min(0.95, fraction), 3),
                        message=KEEP_STILL,
                    ),
                )
            elif f.type is FrameType.MEASUREMENT:
                reading = _to_reading(self._record(f).record)
                _report(on_progress, BpProgress(phase=BpPhase.DONE, fraction=1.0))
                log.info("bp: reading received")
                return reading
            # ACK / INFO frames in the stream carry nothing for a measurement

    def _record(self, f: BridgeFrame) -> "_Record":
        try:
            return _Record(decode_record(f.payload))
        except BpCodecError as exc:
            self._fail(ProtocolError(f"unreadable 0x2A{f.type:02X} record: {exc}", kind=DeviceKind.BP))

    def _stop_quietly(self) -> None:
        """Best effort: tell the cuff to deflate, then resynchronise; never raises but unplug."""
        try:
            self._request(FrameType.STOP, FrameType.ACK)
        except DeviceNotPresent:
            raise
        except DeviceError as exc:
            log.info("bp: STOP not acknowledged (%s)", exc.code)
        self._resync(quiet=0.0, limit=0.0)


class _Record:
    def __init__(self, record: BloodPressureRecord) -> None:
        self.record = record

    def in_cuff_mmhg(self) -> int | None:
        p = self._mmhg()
        return None if p is None else round(p)

    def in_cuff_mmhg_exact(self) -> float | None:
        p = self._mmhg()
        return None if p is None else round(p, 1)

    def _mmhg(self) -> float | None:
        p = self.record.systolic
        if p is None or p != p or abs(p) == float("inf"):
            return None
        return p * MMHG_PER_KPA if self.record.unit is BpUnit.KPA else p


def _finite(value: float | None) -> bool:
    return value is not None and abs(value) != float("inf")


def _to_reading(record: BloodPressureRecord) -> BpReading:
    if not (_finite(record.systolic) and _finite(record.diastolic)):
        raise MeasurementFailed("the cuff sent no usable pressures", kind=DeviceKind.BP, device_code="no_values")
    measured_at = record.timestamp.to_datetime() if record.timestamp else None
    reading = BpReading(
        systolic=record.systolic,  # type: ignore[arg-type]
        diastolic=record.diastolic,  # type: ignore[arg-type]
        mean=record.mean if _finite(record.mean) else None,
        pulse=record.pulse if _finite(record.pulse) else None,
        unit=record.unit,
        measured_at=measured_at.astimezone() if measured_at else datetime.now(timezone.utc),
        flags=record.bp_flags(),
    )
    return reading.in_mmhg()


_BRIDGE_ERRORS: dict[int, tuple[type[DeviceError], str]] = {
    BridgeErrorCode.CUFF_LOOSE: (CuffError, "the cuff is loose or not connected"),
    BridgeErrorCode.MOTION: (MeasurementFailed, "movement spoiled the measurement"),
    BridgeErrorCode.NO_PULSE: (MeasurementFailed, "no pulse could be found"),
    BridgeErrorCode.OVERPRESSURE: (CuffError, "the cuff pressure went over the limit"),
    BridgeErrorCode.BUSY: (DeviceBusy, "the cuff is already measuring"),
    BridgeErrorCode.ABORTED: (MeasurementCancelled, "the measurement was stopped on the cuff"),
    BridgeErrorCode.LOW_BATTERY: (DeviceFault, "the cuff's battery is low"),
    BridgeErrorCode.BAD_FRAME: (ProtocolError, "the bridge could not read our command"),
}


def _bridge_error(code: int) -> DeviceError:
    cls, text = _BRIDGE_ERRORS.get(code, (DeviceFault, "the bridge reported an unknown error"))
    if issubclass(cls, DeviceFault):
        return cls(text, kind=DeviceKind.BP, device_code=f"{code:#04x}")
    return cls(text, kind=DeviceKind.BP, detail=f"{code:#04x}")
