"""What both blood-pressure drivers share: a serial port with short reads (so cancel() and
deadlines stay responsive), resync and flush after any fault, busy/idle, the self-test frame.

Every failure is a typed `DeviceError`; health values are never logged.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, ClassVar, NoReturn

import serial

from peripherals.base import BloodPressureMonitor, DeviceKind, SelfTestResult
from peripherals.bp.models import BpProgress
from peripherals.errors import DeviceBusy, DeviceError, DeviceNotPresent
from peripherals.transport.closing import close_quietly
from peripherals.transport.serial_port import flush_input, open_serial


ProgressCallback = Callable[[BpProgress], None]


READ_SLICE = 0.02  # s: one blocking read; keeps cancel() and deadlines responsive
MMHG_PER_KPA = 7.500615
PRESS_START = "press start on the monitor"
KEEP_STILL = "keep still and breathe normally"


class SerialBpMonitor(BloodPressureMonitor):
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


def report_progress(on_progress: ProgressCallback | None, progress: BpProgress) -> None:
    if on_progress is not None:
        on_progress(progress)


# =========================================================================================
