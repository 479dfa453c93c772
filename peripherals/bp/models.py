"""A blood-pressure measurement and its progress."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class BpUnit(StrEnum):
    MMHG = "mmHg"
    KPA = "kPa"


class BpFlag(StrEnum):
    """Measurement status bits (Bluetooth BPM status / device status bytes)."""

    BODY_MOVEMENT = "body_movement"
    CUFF_LOOSE = "cuff_loose"
    IRREGULAR_PULSE = "irregular_pulse"
    PULSE_ABOVE_RANGE = "pulse_above_range"
    PULSE_BELOW_RANGE = "pulse_below_range"
    IMPROPER_POSITION = "improper_position"


class BpReading(BaseModel):
    systolic: float
    diastolic: float
    mean: float | None = None
    pulse: float | None = None  # beats per minute
    unit: BpUnit = BpUnit.MMHG
    measured_at: datetime | None = None
    flags: frozenset[BpFlag] = Field(default_factory=frozenset)

    def in_mmhg(self) -> "BpReading":
        if self.unit is BpUnit.MMHG:
            return self
        k = 7.500615  # 1 kPa = 7.500615 mmHg

        def conv(v: float | None) -> float | None:
            return None if v is None else round(v * k, 1)

        return self.model_copy(
            update={"systolic": conv(self.systolic), "diastolic": conv(self.diastolic), "mean": conv(self.mean), "unit": BpUnit.MMHG}
        )


class BpPhase(StrEnum):
    STARTING = "starting"
    INFLATING = "inflating"
    MEASURING = "measuring"  # deflating and reading oscillations
    DONE = "done"


class BpProgress(BaseModel):
    phase: BpPhase
    cuff_pressure: int | None = None  # mmHg, when the device reports it
    fraction: float | None = None  # 0..1 estimate for a progress bar
    message: str = ""  # what the citizen should do now, e.g. "press start on the monitor"
