"""The kiosk's eye and ear procedures: acuity per eye, colour plates, hearing direction.

Pure logic. The acuity test talks to an `AsyncEyeTester` (the `peripherals.base.EyeTester`
operations, awaited; `ThreadedEyeTester` adapts a blocking driver); the colour test and
the hearing test are given small async callables by the flow (show a plate and return
the citizen's choice; play a sound on one side; get the side the citizen pointed to).

Acuity: GB 11533 5-point rows 4.0 .. 5.3 (`peripherals.eye.models.LEVELS`), tumbling E
in one of 4 orientations drawn independently and uniformly at random (no "no repeat"
rule: excluding the last orientation would raise the guessing chance to 1/3). A line is
passed by `needed` correct of `trials` shown; "cannot see" and no answer count as wrong.
The default 4 of 5 (stopping early once decided) is passed by pure guessing with
probability 16/1024 = 1.5625 % < 2 % (the same as 3 of 3); `LineRule` refuses rules at
or above 2 %. The procedure starts at `start_level`, climbs one row at a time while lines
are passed, or descends until one is; the result is the smallest row passed.
(Chart and pass-rule background: /work/shared/reference/health.md §3.)

Colour vision: red-green screening with pseudo-isochromatic plates the project generates
(flows/colour: figure and ground on the Machado 2009 protan/deutan confusion lines), a
random set per session (`session_plates`). Rule (medical_rules.COLOUR_PLATE_RULE): the
demonstration plate must be read (else INCONCLUSIVE: the citizen did not understand or
cannot see the plates at all); 0 errors on the 4 screening plates is NORMAL; 2 or more
is RED_GREEN_DEFICIENT; exactly 1 shows the 2 reserve plates, which must both be read.
A deficient observer guessing among 4 choices passes with probability 28/4096 ≈ 0.7 %.

Hearing (Order 162 Art. 14(二)4, "两耳分别…能辨别声源方向"): a sound is played on the
left or right, in a shuffled balanced order, `trials_per_ear` times per side; an ear passes
when every sound on its side was placed correctly. With 2 sides, 6 trials per ear give a
guessing chance of 1/64 ≈ 1.6 % per ear.
"""

from __future__ import annotations

import asyncio
import random
from enum import StrEnum
from fractions import Fraction
from math import comb
from pathlib import Path
from typing import Awaitable, Callable, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flows.errors import FlowError
from flows.colour.index import NOTHING, PlatePool, SessionPlate, draw_session  # NOTHING: "I see no number"
from flows.medical_rules import COLOUR_PLATE_RULE, ColourPlateRule, ColourVision
from peripherals.base import EyeTester
from peripherals.errors import DeviceTimeout
from peripherals.eye.models import LEVELS, Eye, Optotype, Orientation, PadAnswer

MAX_GUESS_PROBABILITY = Fraction(2, 100)


class VisionTestAbandoned(FlowError):
    """The citizen stopped answering (several trials in a row without any key press)."""

    code = "vision_test_abandoned"


def guess_probability(trials: int, needed: int, choices: int) -> Fraction:
    """Chance of at least `needed` of `trials` right when guessing uniformly among `choices`."""
    p = Fraction(1, choices)
    return sum((comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(needed, trials + 1)), Fraction(0))


class LineRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    trials: int = Field(default=5, ge=1)
    needed: int = Field(default=4, ge=1)
    orientations: int = Field(default=len(Orientation), ge=2)

    @property
    def guess_probability(self) -> Fraction:
        return guess_probability(self.trials, self.needed, self.orientations)

    @model_validator(mode="after")
    def _hard_to_guess(self) -> "LineRule":
        if self.needed > self.trials:
            raise ValueError("needed > trials")
        if self.guess_probability >= MAX_GUESS_PROBABILITY:
            raise ValueError(f"a line could be passed by guessing with p={float(self.guess_probability):.4f} (>= 2 %)")
        return self


class AsyncEyeTester(Protocol):
    async def show(self, optotype: Optotype) -> None: ...

    async def blank(self) -> None: ...

    async def wait_answer(self, timeout: float) -> PadAnswer: ...


class ThreadedEyeTester:
    """Runs a blocking `peripherals.base.EyeTester` driver's calls in a worker thread."""

    def __init__(self, tester: EyeTester):
        self.tester = tester

    async def show(self, optotype: Optotype) -> None:
        await asyncio.to_thread(self.tester.show, optotype)

    async def blank(self) -> None:
        await asyncio.to_thread(self.tester.blank)

    async def wait_answer(self, timeout: float) -> PadAnswer:
        return await asyncio.to_thread(self.tester.wait_answer, timeout)


class AcuitySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: LineRule = Field(default_factory=LineRule)
    start_level: float = 4.8
    answer_timeout_s: float = Field(default=10.0, gt=0)
    max_silent_trials: int = Field(default=3, ge=1)  # in a row, then VisionTestAbandoned

    @model_validator(mode="after")
    def _on_scale(self) -> "AcuitySettings":
        if round(self.start_level, 1) not in LEVELS:
            raise ValueError("start_level must be a GB 11533 row")
        return self


class Trial(BaseModel):
    level: float
    shown: Orientation
    answered: Orientation | None  # None: "cannot see" or no answer
    timed_out: bool = False

    @property
    def correct(self) -> bool:
        return self.answered is self.shown


class LineOutcome(BaseModel):
    level: float
    trials: list[Trial]
    passed: bool


class EyeAcuity(BaseModel):
    eye: Eye
    level: float | None  # the smallest row passed; None: not even 4.0
    lines: list[LineOutcome]

    @property
    def trial_count(self) -> int:
        return sum(len(line.trials) for line in self.lines)


class AcuityResult(BaseModel):
    left: EyeAcuity
    right: EyeAcuity
    corrected: bool = False


def _row(level: float, step: int) -> float | None:
    i = LEVELS.index(round(level, 1)) + step
    return LEVELS[i] if 0 <= i < len(LEVELS) else None


async def _test_line(tester: AsyncEyeTester, eye: Eye, level: float, s: AcuitySettings, rng: random.Random,
                     silent: list[int]) -> LineOutcome:
    rule = s.rule
    trials: list[Trial] = []
    right = wrong = 0
    while right < rule.needed and wrong <= rule.trials - rule.needed:
        shown = rng.choice(list(Orientation))
        await tester.show(Optotype(level=level, orientation=shown, eye=eye))
        try:
            answer: Orientation | None = (await tester.wait_answer(s.answer_timeout_s)).orientation
            timed_out = False
            silent[0] = 0
        except DeviceTimeout:
            answer, timed_out = None, True
            silent[0] += 1
        await tester.blank()
        trial = Trial(level=level, shown=shown, answered=answer, timed_out=timed_out)
        trials.append(trial)
        if trial.correct:
            right += 1
        else:
            wrong += 1
        if silent[0] >= s.max_silent_trials:
            raise VisionTestAbandoned("no answer from the response pad")
    return LineOutcome(level=level, trials=trials, passed=right >= rule.needed)


async def measure_eye(tester: AsyncEyeTester, eye: Eye, settings: AcuitySettings | None = None,
                   rng: random.Random | None = None) -> EyeAcuity:
    """Find the smallest GB 11533 row this eye reads (the other eye covered by the citizen)."""
    s = settings or AcuitySettings()
    rng = rng or random.SystemRandom()
    silent = [0]
    lines: list[LineOutcome] = []
    level: float | None = round(s.start_level, 1)
    best: float | None = None
    first = await _test_line(tester, eye, level, s, rng, silent)
    lines.append(first)
    direction = +1 if first.passed else -1
    if first.passed:
        best = level
    while True:
        if direction > 0 and best is not None:
            level = _row(best, +1)
        elif direction < 0:
            level = _row(level, -1)  # type: ignore[arg-type]
        if level is None:
            break
        line = await _test_line(tester, eye, level, s, rng, silent)
        lines.append(line)
        if direction > 0:
            if not line.passed:
                break
            best = level
        elif line.passed:
            best = level
            break
    return EyeAcuity(eye=eye, level=best, lines=lines)



async def run_acuity(tester: AsyncEyeTester, settings: AcuitySettings | None = None, rng: random.Random | None = None,
                     *, corrected: bool = False) -> AcuityResult:
    """Right eye, then left eye (the order of the paper chart)."""
    right = await measure_eye(tester, Eye.RIGHT, settings, rng)
    left = await measure_eye(tester, Eye.LEFT, settings, rng)
    return AcuityResult(left=left, right=right, corrected=corrected)


# --- colour vision -------------------------------------------------------------------------



class PlateKind(StrEnum):
    DEMONSTRATION = "demonstration"  # read by everyone
    TRANSFORMATION = "transformation"  # normal reads one figure, red-green deficient another
    VANISHING = "vanishing"  # normal reads a figure, red-green deficient sees none


class ColourPlate(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    image: str  # asset key of the plate picture
    kind: PlateKind
    normal: str
    red_green: str | None  # what a red-green deficient observer typically reads; None: nothing
    options: tuple[str, ...]  # the choices shown, always incl. NOTHING
    detects: tuple[str, ...] = ()  # "protan" / "deutan": whom the plate screens

    @model_validator(mode="after")
    def _answers_offered(self) -> "ColourPlate":
        if self.normal not in self.options or NOTHING not in self.options:
            raise ValueError("options must contain the normal answer and NOTHING")
        if self.red_green is not None and self.red_green not in self.options:
            raise ValueError("options must contain the red-green answer")
        return self


def session_plates(pool: PlatePool, rng: random.Random) -> tuple[ColourPlate, tuple[ColourPlate, ...], tuple[ColourPlate, ...]]:
    """This session's random (demonstration, screening, reserve) plates from the generated pool."""
    drawn = draw_session(pool, rng)

    def plate(p: SessionPlate) -> ColourPlate:
        e = p.entry
        return ColourPlate(id=Path(e.file).stem, image=e.key, kind=PlateKind(e.kind), normal=e.answer,
                           red_green=e.answer if e.kind == "demonstration" else e.deficient_answer, options=p.options,
                           detects=tuple(d.value for d in e.detects))

    return plate(drawn.demonstration), tuple(map(plate, drawn.screening)), tuple(map(plate, drawn.reserve))


class PlateAnswer(BaseModel):
    plate: str
    answer: str
    correct: bool
    red_green_typical: bool


class ColourVisionResult(BaseModel):
    outcome: ColourVision
    answers: list[PlateAnswer]
    demo_id: str = ""

    @property
    def errors(self) -> int:
        return sum(not a.correct for a in self.answers if a.plate != self.demo_id)


async def run_colour_test(
    ask: Callable[[ColourPlate], Awaitable[str]],
    *,
    demo: ColourPlate,
    screening: tuple[ColourPlate, ...],
    reserve: tuple[ColourPlate, ...],
    rule: ColourPlateRule = COLOUR_PLATE_RULE,
) -> ColourVisionResult:
    """Show the plates through `ask` (returns one of plate.options) and apply `rule` (medical_rules)."""
    answers: list[PlateAnswer] = []

    async def show(plate: ColourPlate) -> bool:
        a = await ask(plate)
        rg = plate.red_green if plate.red_green is not None else NOTHING
        answers.append(PlateAnswer(plate=plate.id, answer=a, correct=a == plate.normal,
                                   red_green_typical=a == rg and a != plate.normal))
        return a == plate.normal

    if not await show(demo):
        return ColourVisionResult(outcome=ColourVision.INCONCLUSIVE, answers=answers, demo_id=demo.id)
    read = sum([await show(p) for p in screening])
    short = max(0, min(rule.must_read, len(screening)) - read)  # plates missing to the required number
    errors = short
    if 0 < short <= rule.slips_allowed:  # a slip: the reserve plates decide
        errors = 0 if all([await show(p) for p in reserve]) else short + 1
    outcome = ColourVision.NORMAL if errors == 0 else ColourVision.RED_GREEN_DEFICIENT
    return ColourVisionResult(outcome=outcome, answers=answers, demo_id=demo.id)


def colour_guess_probability(choices: int = COLOUR_PLATE_RULE.choices, screening: int = COLOUR_PLATE_RULE.screening,
                             reserve: int = COLOUR_PLATE_RULE.reserve) -> Fraction:
    """Chance that someone who cannot read the plates is judged NORMAL by guessing."""
    p = Fraction(1, choices)
    all_screening = p**screening
    one_miss_then_reserve = comb(screening, 1) * p ** (screening - 1) * (1 - p) * p**reserve
    return all_screening + one_miss_then_reserve


# --- hearing -------------------------------------------------------------------------------


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"


class HearingTrial(BaseModel):
    played: Side
    answered: Side | None

    @property
    def correct(self) -> bool:
        return self.answered is self.played


class HearingResult(BaseModel):
    left: bool
    right: bool
    trials: list[HearingTrial]


def hearing_guess_probability(trials_per_ear: int) -> Fraction:
    return Fraction(1, 2) ** trials_per_ear


async def run_hearing_test(
    play: Callable[[Side], Awaitable[None]],
    answer: Callable[[], Awaitable[Side | None]],
    *,
    trials_per_ear: int = 6,
    rng: random.Random | None = None,
) -> HearingResult:
    """Play on each side `trials_per_ear` times in random order; an ear passes if all its trials were right."""
    if hearing_guess_probability(trials_per_ear) >= MAX_GUESS_PROBABILITY:
        raise ValueError("too few trials per ear: could be passed by guessing")
    rng = rng or random.SystemRandom()
    order = [Side.LEFT] * trials_per_ear + [Side.RIGHT] * trials_per_ear
    rng.shuffle(order)
    trials = []
    for side in order:
        await play(side)
        trials.append(HearingTrial(played=side, answered=await answer()))
    ok = {s: all(t.correct for t in trials if t.played is s) for s in Side}
    return HearingResult(left=ok[Side.LEFT], right=ok[Side.RIGHT], trials=trials)
