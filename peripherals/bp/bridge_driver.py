"""`Ieee11073BridgeMonitor`: a Bluetooth cuff (0x2A35/0x2A36 records, `ieee11073_codec`) behind a
USB/serial bridge (`bridge_framing`): START, cuff pressures, the result, a static-pressure
query for calibration.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import datetime, timezone
from typing import NoReturn

from peripherals.base import DeviceInfo, DeviceKind, SelfTestResult
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
from peripherals.bp.serial_monitor import KEEP_STILL, MMHG_PER_KPA, ProgressCallback, SerialBpMonitor, report_progress
from peripherals.errors import DeviceBusy, DeviceError, DeviceFault, DeviceNotPresent, DeviceTimeout, ProtocolError

log = logging.getLogger(__name__)



class Ieee11073BridgeMonitor(SerialBpMonitor):
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
        report_progress(on_progress, BpProgress(phase=BpPhase.STARTING, fraction=0.0, message=KEEP_STILL))
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
                report_progress(
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
                report_progress(on_progress, BpProgress(phase=BpPhase.DONE, fraction=1.0))
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
