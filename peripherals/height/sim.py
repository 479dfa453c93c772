"""A simulated height-weight station speaking the Tanita data output format (`codec`).

The station sends one record each time it has measured someone: the simulated citizen
stands on it from the moment a host connects (``person=1``, the default) and is measured
again every ``period`` seconds (default 1.0) while standing, as a station in continuous
output does; `step_off()` / `step_on()` let a test choose. Each record is followed
~0.1 s later by one stray byte, the "irrelevant signal" the Tanita manuals warn about
(``noise=0`` turns it off).

Options: ``height`` (cm, 170.0), ``weight`` (kg, 65.0; ``none``: a station without a
scale), ``model`` ("WB-3000"), ``period``, ``person``, ``noise``, ``first`` (s before the
first record, default = period).

Faults: the generic ones (garbage, bad_checksum, truncate, silence, unplug) apply to the
next record; ``device_error`` makes the next record weight-only (the height sensor
measured nothing: a blocked or misaligned ultrasonic head).
"""

from __future__ import annotations

from peripherals.height import codec
from peripherals.height.models import StationRecord
from peripherals.sim.base import Simulator

STRAY = b"\x00"


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else str(value).strip().lower() not in ("0", "false", "no", "off", "")


class HeightStationSimulator(Simulator):
    kind = "height"

    def __init__(self, faults=None, **options) -> None:
        super().__init__(faults, **options)
        opt = options.get
        self.height_cm = float(opt("height", 170.0))
        weight = str(opt("weight", "65.0"))
        self.weight_kg = None if weight.lower() == "none" else float(weight)
        self.model = str(opt("model", "WB-3000"))
        self.period = float(opt("period", 1.0))
        self.first = float(opt("first", self.period))
        self.person = _flag(opt("person"), True)
        self.noise = _flag(opt("noise"), True)
        self.sent = 0
        self._timer: object | None = None

    def on_attach(self) -> None:
        if self._timer is not None and self.host is not None:
            self.host.cancel(self._timer)  # re-plugged: one chain of measurements only
        self._schedule(self.first)

    def receive(self, data: bytes) -> None:
        """The output is one-way; whatever the host writes is ignored (kept in `received`)."""

    # -- the simulated citizen ---------------------------------------------------------
    def step_on(self, height: float | None = None, weight: float | None = None) -> None:
        if height is not None:
            self.height_cm = float(height)
        if weight is not None:
            self.weight_kg = float(weight)
        self.person = True

    def step_off(self) -> None:
        self.person = False

    # -- output ------------------------------------------------------------------------
    def record(self) -> StationRecord:
        bmi = None
        if self.weight_kg is not None and self.height_cm > 0:
            bmi = round(self.weight_kg / (self.height_cm / 100) ** 2, 1)
        return StationRecord(model=self.model, height_cm=self.height_cm, weight_kg=self.weight_kg, bmi=bmi)

    def corrupt_checksum(self, frame: bytes) -> bytes:
        at = frame.rfind(b",CS,") + 4
        cs = int(frame[at : at + 2], 16) ^ 0x5A
        return frame[:at] + f"{cs:02X}".encode() + frame[at + 2 :]

    def _schedule(self, delay: float) -> None:
        if self.host is not None and self.plugged:
            self._timer = self.host.call_later(max(0.01, delay), self._tick)

    def _tick(self) -> None:
        if self.person and self.host is not None:
            rec = self.record()
            if self.device_error() is not None:
                rec = rec.model_copy(update={"height_cm": None, "bmi": None})
                if rec.weight_kg is None:
                    rec = rec.model_copy(update={"weight_kg": 0.0})
            self.reply(codec.encode(rec))
            self.sent += 1
            if self.noise:
                self.host.call_later(0.1, lambda: self.host.send(STRAY) if self.host else None)
        self._schedule(self.period)
