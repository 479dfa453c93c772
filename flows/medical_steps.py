"""Medical-check steps that drive a device and fall back to staff: height (and weight), hearing.

Hearing (medical_rules.HEARING_TEST_RULE, Order 162 Art. 14(二)4): each trial plays the
tone on one side while the screen shows that a sound is playing ("hearing.playing",
Measuring view with the hearing picture), then asks left / right / not heard. No sound
output (none configured, PortAudio missing, device gone) → the step says so and hands the
citizen to staff, who test with a tuning fork.

Height: the height-weight station measures (peripherals/height); the citizen only stands
on it. A fault, no station, or no reading offers "try again" and "staff measure me":
staff measure with the wall scale and type the value (the one case the height is typed;
the application records that it was entered by staff).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from flows.common_steps import RETRY, abort_with, error_view
from flows.medical_rules import HEARING_TEST_RULE
from flows.outcomes import AbortReason
from flows.views import Choice, ChoiceOption, FieldKind, Form, FormField, Measuring, Prompt, msg
from flows.vision_test import HearingResult, Side, run_hearing_test
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


async def hearing_test(ctx: Any, rng: Any) -> HearingResult:
    """Tones left/right in random order with a "sound playing" screen; staff when there is no sound."""
    audio = ctx.deps.audio
    rule = HEARING_TEST_RULE
    try:
        await audio.ready()
    except DeviceError:
        raise _no_sound() from None
    await ctx.ask(Prompt(message=msg("hearing.intro", distance_cm=round(rule.distance_cm))))
    trials = [0]

    async def play(side: Side) -> None:
        trials[0] += 1
        try:
            await ctx.call(lambda: audio.play(side), timeout=rule.tone_s + 15,
                           view=Measuring(instruction=msg("hearing.playing", trial=trials[0]), device="hearing"))
        except DeviceError:
            raise _no_sound() from None

    async def answer() -> Side | None:
        key = await ctx.ask(Choice(message=msg("hearing.which_side", trial=trials[0]), options=(
            ChoiceOption(key="left", label=msg("hearing.left")),
            ChoiceOption(key="right", label=msg("hearing.right")),
            ChoiceOption(key="not_heard", label=msg("hearing.not_heard")),
        )))
        return None if key == "not_heard" else Side(key)

    return await run_hearing_test(play, answer, trials_per_ear=ctx.deps.settings.hearing_trials_per_ear, rng=rng)


def _no_sound():
    return abort_with(AbortReason.STAFF_NEEDED, "audio_unavailable", msg("hearing.no_audio"), msg("hearing.no_audio_next"))
