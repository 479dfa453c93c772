"""Driver of a height-weight station sending Tanita data-output records (`codec`).

The station speaks unprompted: one record per measurement. `measure()` therefore drops
whatever arrived before it was called (a reading of the previous citizen), then waits for
the next record carrying a height. A record with a bad checksum is skipped (the station
measures again while the citizen stands); if only bad records come, the error is
`ProtocolError`; if nothing comes, `NoMeasurement`; a weight-only record means the
height sensor saw nothing (`NoHeight`) once `weight_only_limit` of them came in a row.
Readings are health data: never logged.
"""

from __future__ import annotations

import logging
import threading
import time

from peripherals.base import DeviceInfo, DeviceKind, HeightStation, SelfTestResult
from peripherals.errors import DeviceBusy, DeviceError, ProtocolError
from peripherals.height import codec
from peripherals.height.errors import HeightCodecError, NoHeight, NoMeasurement
from peripherals.height.models import HeightReading, StationRecord
from peripherals.transport.serial_link import SerialLink

log = logging.getLogger(__name__)
READ_SLICE = 0.05  # s: one blocking read; keeps cancel() and deadlines responsive
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 50.0, 250.0  # outside: the sensor measured something else


class TanitaHeightStation(HeightStation):
    """A Tanita WB-3000 / WB-8000-style station (kg / cm mode) on a serial port or sim:// URL."""

    def __init__(self, port: str, *, baudrate: int = 9600, verify_checksum: bool = True,
                 weight_only_limit: int = 3) -> None:
        self.port = port
        self.baudrate = baudrate
        self.verify_checksum = verify_checksum
        self.weight_only_limit = weight_only_limit
        self._link = SerialLink(port, kind=DeviceKind.HEIGHT, what="the height station", baudrate=baudrate,
                                timeout=READ_SLICE)
        self._splitter = codec.LineSplitter()
        self._cancel = threading.Event()
        self._busy = threading.Lock()
        self._model = ""
        self.bad_records = 0  # counters for diagnostics (no values)
        self._last_bad: HeightCodecError | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        self._link.open()

    def close(self) -> None:
        self._link.close()

    def cancel(self) -> None:
        self._cancel.set()

    def info(self) -> DeviceInfo:
        return DeviceInfo(kind=DeviceKind.HEIGHT, driver="height.tanita", model=self._model or "Tanita data output",
                          port=self.port)

    # -- I/O (SerialLink: a lost port is DeviceNotPresent) -----------------------------------
    def _drop_stale(self) -> None:
        self._link.flush_input()
        self._splitter.clear()

    def next_record(self, deadline: float) -> StationRecord | None:
        """The next record that decodes, or None at the deadline; bad ones are counted and skipped."""
        while time.monotonic() < deadline and not self._cancel.is_set():
            for line in self._splitter.feed(self._link.read()):
                try:
                    rec = codec.decode(line, verify_checksum=self.verify_checksum)
                except HeightCodecError as exc:
                    self.bad_records += 1
                    self._last_bad = exc
                    continue
                self._model = rec.model or self._model
                return rec
        return None

    # -- measuring ------------------------------------------------------------------------
    def measure(self, timeout: float = 30.0) -> HeightReading:
        if not self._busy.acquire(blocking=False):
            raise DeviceBusy("a measurement is already running", kind=DeviceKind.HEIGHT)
        try:
            self._cancel.clear()
            self._drop_stale()
            deadline = time.monotonic() + timeout
            bad_before = self.bad_records
            weight_only = 0
            while True:
                rec = self.next_record(deadline)
                if rec is None:
                    if self._cancel.is_set():
                        raise NoMeasurement("the measurement was cancelled", kind=DeviceKind.HEIGHT)
                    if self.bad_records > bad_before:
                        raise ProtocolError("the station sent only unreadable records", kind=DeviceKind.HEIGHT,
                                            detail=type(self._last_bad).__name__)
                    raise NoMeasurement(kind=DeviceKind.HEIGHT)
                if rec.height_cm is None or not MIN_HEIGHT_CM <= rec.height_cm <= MAX_HEIGHT_CM:
                    weight_only += 1
                    if weight_only >= self.weight_only_limit:
                        raise NoHeight(kind=DeviceKind.HEIGHT)
                    continue
                weight = rec.weight_kg if rec.weight_kg else None
                return HeightReading(height_cm=rec.height_cm, weight_kg=weight, bmi=rec.bmi, model=rec.model)
        finally:
            self._busy.release()

    # -- health ---------------------------------------------------------------------------
    def self_test(self, listen_s: float = 2.5) -> SelfTestResult:
        """The port opens and reads; a record heard meanwhile proves the station speaks (none is normal when idle)."""
        start = time.monotonic()
        try:
            self.open()
            heard = self.next_record(time.monotonic() + listen_s) is not None
        except DeviceError as exc:
            return SelfTestResult(kind=DeviceKind.HEIGHT, passed=False, checks={"port": False}, detail=exc.plain,
                                  duration_s=time.monotonic() - start)
        detail = "the station sent a record" if heard else "port open; the station sends only after measuring someone"
        return SelfTestResult(kind=DeviceKind.HEIGHT, passed=True, checks={"port": True, "record_heard": heard},
                              detail=detail, duration_s=time.monotonic() - start)
