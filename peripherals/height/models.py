"""What a height-weight station reports."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StationRecord(BaseModel):
    """One measurement record as it crossed the wire (Tanita data output format)."""

    model_config = ConfigDict(frozen=True)
    model: str = ""
    height_cm: float | None = Field(default=None, ge=0)  # None: a weight-only record (no height measured)
    weight_kg: float | None = Field(default=None, ge=0)
    bmi: float | None = Field(default=None, ge=0)


class HeightReading(BaseModel):
    """The measurement the kiosk uses: height (cm) and, where the station weighs, weight (kg)."""

    height_cm: float
    weight_kg: float | None = None
    bmi: float | None = None
    model: str = ""

    def public_dict(self) -> dict:
        return self.model_dump(mode="json")
