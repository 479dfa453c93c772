"""Simulated blood-pressure monitors: the device side of both wire protocols.

- `AccutorrSimulator` (kind ``bp``): the Datascope Accutorr 3 PC interface
  (`peripherals.bp.accutorr_codec`). The protocol has no start command, so a measurement
  starts when the citizen presses start on the monitor: `press_start()` in tests, or —
  with ``auto_start=1`` (the default) — as soon as the host polls ``P`` again within
  ``auto_window`` seconds of a first ``P`` (the driver's baseline). It lasts ``duration``
  seconds, then the ``P`` reply carries the new reading with "minutes since" 0.
- `Ieee11073BridgeSimulator` (kind ``bp11073``): a Bluetooth cuff behind a USB/serial
  bridge (`peripherals.bp.bridge_framing`); START streams 0x2A36 cuff pressures, then one
  0x2A35 record.

Options (strings, from ``sim://bp?sys=140&dia=90`` or the pty fixture): ``sys``, ``dia``,
``pulse`` (defaults 128/82/72), ``mean`` (default dia + (sys-dia)/3), ``duration``
(seconds, default 0.5). Accutorr only: ``auto_start``, ``auto_window`` (2.0), ``spo2``
(unset: ``--``), ``minute_s`` (seconds per "minute", default 60), ``previous``
(``SYS/DIA/PULSE`` of a reading already on the monitor at power-up), ``jitter`` (1: each
later reading differs by a few mmHg from the one before, as real ones do; 0: identical).
Bridge only: ``steps`` (cuff-pressure frames, default 6), ``unit`` (``mmHg``/``kPa``),
``status`` (0x2A35 measurement-status word, default 0), ``user_id``; for the static
pressure query (STATIC_PRESSURE, the calibration check) ``static`` (mmHg really in the
cuff, default 0 — a test sets `static_pressure` as staff pump the hand bulb) and
``static_error`` (mmHg the cuff's sensor reads high, default 0: a miscalibrated sensor).

``device_error`` faults: Accutorr — the next ``P`` reply carries NIBP status byte 2 with
the error bit (arg ``motion`` = 0x02, the default; ``overpressure`` = 0x01; or a number)
and any running measurement is abandoned. Bridge — the next START is acknowledged, then
an ERROR frame with the code (arg, default 0x01 cuff loose) replaces the result; the
next STATIC_PRESSURE is answered by that ERROR frame instead of the pressure.
"""

from __future__ import annotations

import time
from datetime import datetime

from peripherals.bp import accutorr_codec as acc
from peripherals.bp.bridge_framing import (
    BridgeErrorCode,
    BridgeFramingError,
    BridgeInfo,
    FrameDecoder,
    FrameType,
    encode_info,
    frame,
)
from peripherals.bp.ieee11073_codec import BloodPressureRecord, TimeStamp, encode_record, intermediate_cuff_pressure
from peripherals.bp.models import BpUnit
from peripherals.sim.base import Simulator

KPA_PER_MMHG = 1 / 7.500615
_JITTER = [(0, 0, 0), (3, 2, 1), (-2, -1, -2), (1, 3, 2), (-3, -2, -1)]  # sys, dia, pulse


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def _error_arg(arg: str | None, names: dict[str, int], default: int) -> int:
    if arg is None or arg == "":
        return default
    key = arg.strip().lower()
    if key in names:
        return names[key]
    return int(key, 0) & 0xFF


class _BpOptions:
    """The options both simulators share."""

    def _read_bp_options(self, options: dict[str, str]) -> None:
        self.systolic = int(options.get("sys", 128))
        self.diastolic = int(options.get("dia", 82))
        self.pulse = int(options.get("pulse", 72))
        mean = options.get("mean")
        self.mean = int(mean) if mean is not None else round(self.diastolic + (self.systolic - self.diastolic) / 3)
        self.duration = float(options.get("duration", 0.5))


class AccutorrSimulator(Simulator, _BpOptions):
    kind = "bp"

    def __init__(self, faults=None, **options: str) -> None:
        super().__init__(faults, **options)
        self._read_bp_options(options)
        self.auto_start = _flag(options.get("auto_start"), True)
        self.auto_window = float(options.get("auto_window", 2.0))
        self.minute_s = float(options.get("minute_s", 60.0))
        self.jitter = _flag(options.get("jitter"), True)
        spo2 = options.get("spo2")
        self.spo2 = int(spo2) if spo2 else None
        self.limits = acc.AlarmLimits(
            spo2_high=100, spo2_low=86, pulse_high=120, pulse_low=50, systolic_high=180,
            systolic_low=90, mean_high=130, mean_low=60, diastolic_high=110, diastolic_low=50,
        )
        self.reading: tuple[int, int, int, int] | None = None  # systolic, diastolic, mean, pulse
        self.reading_at = 0.0
        self.measurements = 0  # completed measurements, for tests
        self.measuring = False
        self._armed_at: float | None = None
        self._timer: tuple[object, object] | None = None  # (host, handle): a replug may change host
        previous = options.get("previous")
        if previous:
            s, d, p = (int(x) for x in previous.split("/"))
            self.reading = (s, d, round(d + (s - d) / 3), p)
            self.reading_at = time.monotonic() - 5 * self.minute_s

    # -- wire -----------------------------------------------------------------------------
    def on_attach(self) -> None:
        """Power-up (first connection, or plugged back in): no measurement runs; banner."""
        assert self.host is not None
        self._abandon()
        self.host.send(acc.BANNER + acc.EOL + acc.PROMPT)

    def receive(self, data: bytes) -> None:
        for byte in data:
            command = bytes([byte])
            if command == acc.CMD_PATIENT_DATA:
                self._on_patient_data()
            elif command == acc.CMD_ALARM_LIMITS:
                self.reply(acc.format_alarm_limits(self.limits))
            elif command == acc.CMD_PROMPT:
                self.reply(acc.PROMPT)
            # anything else (CR, LF, unknown letters) is ignored, as a terminal-driven device would

    def _on_patient_data(self) -> None:
        fault = self.device_error()
        data = self.patient_data()
        if fault is not None:
            self._abandon()
            bits = _error_arg(fault.arg, {"overpressure": 0x01, "cuff": 0x01, "motion": 0x02}, 0x02)
            data = data.model_copy(update={"status2": bits})
        else:
            self._maybe_auto_start()
        self.reply(acc.format_patient_line(data))

    def patient_data(self) -> acc.PatientData:
        values: dict = {"spo2": self.spo2}
        if self.reading is not None:
            s, d, m, p = self.reading
            minutes = int((time.monotonic() - self.reading_at) / self.minute_s)
            values.update(systolic=s, diastolic=d, mean=m, pulse=p, minutes_since_nibp=min(minutes, 9999))
        return acc.PatientData(**values)

    # -- the measurement ----------------------------------------------------------------------
    def press_start(self) -> None:
        """The citizen presses start on the monitor (thread-safe: runs on the host thread)."""
        assert self.host is not None, "simulator is not attached to a host"
        self.host.call_later(0, self._start)

    def _maybe_auto_start(self) -> None:
        if self.measuring:
            return
        now = time.monotonic()
        if self._armed_at is not None and self.auto_start and now - self._armed_at <= self.auto_window:
            self._armed_at = None
            self._start()
        else:
            self._armed_at = now

    def _start(self) -> None:
        if self.measuring or self.host is None:
            return
        self.measuring = True
        self._timer = (self.host, self.host.call_later(self.duration, self._finish))

    def _finish(self) -> None:
        self.measuring = False
        self._timer = None
        ds, dd, dp = _JITTER[self.measurements % len(_JITTER)] if self.jitter else (0, 0, 0)
        s, d, p = self.systolic + ds, self.diastolic + dd, self.pulse + dp
        m = self.mean + round((ds + 2 * dd) / 3)
        self.reading = (s, d, m, p)
        self.reading_at = time.monotonic()
        self.measurements += 1

    def _abandon(self) -> None:
        if self._timer is not None:
            host, handle = self._timer
            host.cancel(handle)  # type: ignore[attr-defined]
        self._timer = None
        self.measuring = False
        self._armed_at = None


class Ieee11073BridgeSimulator(Simulator, _BpOptions):
    kind = "bp11073"

    def __init__(self, faults=None, **options: str) -> None:
        super().__init__(faults, **options)
        self._read_bp_options(options)
        self.steps = max(1, int(options.get("steps", 6)))
        self.unit = BpUnit(options.get("unit", "mmHg"))
        self.status = int(options.get("status", "0"), 0)
        user_id = options.get("user_id")
        self.user_id = int(user_id) if user_id else None
        self.static_pressure = float(options.get("static", 0))
        self.static_error = float(options.get("static_error", 0))
        self.info = BridgeInfo(
            model=options.get("model", "SIM-BLE-BPM"),
            serial=options.get("serial", "SIM0001"),
            firmware=options.get("firmware", "1.0"),
        )
        self.measuring = False
        self.measurements = 0
        self.stops = 0  # STOP frames received, for tests
        self._decoder = FrameDecoder()
        self._timers: list[tuple[object, object]] = []  # (host, handle)
        self._power_ups = 0  # bumped by on_attach: tells a START that the device was replugged meanwhile

    def on_attach(self) -> None:
        """Power-up (first connection, or plugged back in): nothing streams."""
        self._power_ups += 1
        self._stop_streaming()
        self._decoder.reset()

    def receive(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except BridgeFramingError:
            self.reply(frame(FrameType.ERROR, bytes([BridgeErrorCode.BAD_FRAME])))
            return
        for f in frames:
            if f.type is FrameType.IDENTIFY:
                self.reply(frame(FrameType.INFO, encode_info(self.info)))
            elif f.type is FrameType.START:
                self._on_start()
            elif f.type is FrameType.STATIC_PRESSURE:
                self._on_static_pressure()
            elif f.type is FrameType.STOP:
                self.stops += 1
                self._stop_streaming()
                self.reply(frame(FrameType.ACK, bytes([FrameType.STOP])))
            # frames a bridge only sends are ignored

    def _on_start(self) -> None:
        if self.measuring:
            self.reply(frame(FrameType.ERROR, bytes([BridgeErrorCode.BUSY])))
            return
        fault = self.device_error()
        power_ups = self._power_ups
        self.reply(frame(FrameType.ACK, bytes([FrameType.START])))
        if not self.plugged or power_ups != self._power_ups:
            return  # unplugged while acknowledging: a device without power measures nothing
        self.measuring = True
        if fault is not None:
            code = _error_arg(fault.arg, {}, BridgeErrorCode.CUFF_LOOSE)
            self._later(self.duration / 2, lambda: self._fail(code))
            return
        peak = self.systolic + 30
        rise = max(1, self.steps // 3)
        for i in range(self.steps):
            if i < rise:
                pressure = round(peak * (i + 1) / rise)
            else:
                pressure = round(peak - (peak - (self.diastolic - 10)) * (i - rise + 1) / (self.steps - rise + 1))
            self._later(self.duration * (i + 1) / (self.steps + 1), lambda p=pressure: self._send_cuff(p))
        self._later(self.duration, self._send_result)

    def _on_static_pressure(self) -> None:
        """Manometer mode: the sensor's reading of what the cuff holds (pump off)."""
        if self.measuring:
            self.reply(frame(FrameType.ERROR, bytes([BridgeErrorCode.BUSY])))
            return
        fault = self.device_error()
        if fault is not None:
            self.reply(frame(FrameType.ERROR, bytes([_error_arg(fault.arg, {}, BridgeErrorCode.CUFF_LOOSE)])))
            return
        sensed = max(0.0, self.static_pressure + self.static_error)
        self.reply(frame(FrameType.CUFF_PRESSURE, encode_record(intermediate_cuff_pressure(self._value(sensed), self.unit))))

    def _value(self, mmhg: float) -> float:
        return round(mmhg * KPA_PER_MMHG, 2) if self.unit is BpUnit.KPA else float(mmhg)

    def _send_cuff(self, pressure: int) -> None:
        record = intermediate_cuff_pressure(self._value(pressure), self.unit)
        self.reply(frame(FrameType.CUFF_PRESSURE, encode_record(record)))

    def _send_result(self) -> None:
        self._stop_streaming(cancel=False)  # the result is the last timer: nothing left to cancel
        self.measurements += 1
        record = BloodPressureRecord(
            unit=self.unit,
            systolic=self._value(self.systolic),
            diastolic=self._value(self.diastolic),
            mean=self._value(self.mean),
            timestamp=TimeStamp.from_datetime(datetime.now()),
            pulse=float(self.pulse),
            user_id=self.user_id,
            status=self.status,
        )
        self.reply(frame(FrameType.MEASUREMENT, encode_record(record)))

    def _fail(self, code: int) -> None:
        self._stop_streaming(cancel=False)  # on a fault no other frame was scheduled
        self.reply(frame(FrameType.ERROR, bytes([code])))

    def _later(self, delay: float, fn) -> None:
        assert self.host is not None
        self._timers.append((self.host, self.host.call_later(delay, fn)))

    def _stop_streaming(self, cancel: bool = True) -> None:
        if cancel:
            for host, handle in self._timers:
                host.cancel(handle)  # type: ignore[attr-defined]
        self._timers.clear()
        self.measuring = False
