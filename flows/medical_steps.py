"""Medical-check steps that drive a device and fall back to staff: height (and weight), hearing.

Height: the height-weight station measures (peripherals/height); the citizen only stands
on it. A fault, no station, or no reading offers "try again" and "staff measure me":
staff measure with the wall scale and type the value (the one case the height is typed;
the application records that it was entered by staff).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from flows.common_steps import RETRY, error_view
from flows.views import ChoiceOption, FieldKind, Form, FormField, Measuring, Prompt, msg
from peripherals.errors import DeviceError

STAFF_MEASURES = ChoiceOption(key="staff", label=msg("height.staff_measures"))


class HeightRecord(BaseModel):
    height_cm: float
    weight_kg: float | None = None
    source: str  # "station" | "staff"


async def measure_height(ctx: Any) -> HeightRecord:
    """The station's reading, shown to the citizen; staff entry when the station cannot measure."""
    s = ctx.deps.settings
    while True:
        try:
            reading = await ctx.call(lambda: ctx.deps.devices.measure_height(s.height_timeout_s),
                                     view=Measuring(instruction=msg("height.stand_on_station"), device="height"),
                                     timeout=s.height_timeout_s + 10)
        except DeviceError as e:
            answer = await ctx.ask(error_view(e.code, msg("height.failed", code=e.code), msg("height.failed_next"),
                                              options=(RETRY, STAFF_MEASURES)))
            if answer == "retry":
                continue
            return await _staff_entry(ctx)
        record = HeightRecord(height_cm=round(float(reading.height_cm), 1),
                              weight_kg=round(float(reading.weight_kg), 1) if reading.weight_kg else None,
                              source="station")
        key = "height.measured_with_weight" if record.weight_kg is not None else "height.measured"
        await ctx.ask(Prompt(message=msg(key, height_cm=record.height_cm, weight_kg=record.weight_kg or 0)))
        return record


async def _staff_entry(ctx: Any) -> HeightRecord:
    values = await ctx.ask(Form(message=msg("height.staff_entry"), fields=(
        FormField(name="height_cm", label=msg("field.height_cm"), kind=FieldKind.NUMBER, minimum=80, maximum=250,
                  personal=True),
    )))
    return HeightRecord(height_cm=float(round(float(values["height_cm"]))), source="staff")
