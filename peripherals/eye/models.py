"""Optotypes shown by the vision tester and answers from its response pad."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

# GB 11533 5-point record: rows 4.0 .. 5.3 in steps of 0.1 (L = 5 - lg(MAR in arcmin)).
LEVELS: tuple[float, ...] = tuple(round(4.0 + i / 10, 1) for i in range(14))


class Eye(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"


class Orientation(StrEnum):
    """Direction the open side of the tumbling E points to."""

    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"


class Optotype(BaseModel):
    level: float = Field(description="GB 11533 5-point value, 4.0..5.3")
    orientation: Orientation
    eye: Eye

    @field_validator("level")
    @classmethod
    def _on_scale(cls, v: float) -> float:
        v = round(v, 1)
        if v not in LEVELS:
            raise ValueError(f"level {v} is not a GB 11533 row (4.0..5.3)")
        return v


class PadAnswer(BaseModel):
    orientation: Orientation | None  # None: the citizen pressed "cannot see"
    device_time_ms: int  # the tester's own clock when the key was pressed
    latency_ms: int | None = None  # from the optotype being shown to the key press
