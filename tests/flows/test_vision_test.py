"""Eye/ear procedures against scripted citizens with known acuity, and the guessing bounds."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from pydantic import ValidationError

from flows.colour.index import load_pool
from flows.medical_rules import ColourVision, Criterion, MedicalResults, Verdict, evaluate
from flows.vision_test import (
    NOTHING,
    AcuitySettings,
    ColourPlate,
    LineRule,
    Side,
    ThreadedEyeTester,
    VisionTestAbandoned,
    colour_guess_probability,
    guess_probability,
    hearing_guess_probability,
    measure_eye,
    run_acuity,
    PlateKind,
    run_colour_test,
    run_hearing_test,
    session_plates,
)
from peripherals.base import DeviceInfo, EyeTester, SelfTestResult
from peripherals.errors import DeviceTimeout
from peripherals.eye.models import LEVELS, Eye, Optotype, Orientation, PadAnswer


class ScriptedCitizen:
    """Reads every row up to `acuity[eye]`; above it guesses (or presses "cannot see")."""

    def __init__(self, acuity: dict[Eye, float | None], seed: int = 0, guess: bool = True, silent: bool = False):
        self.acuity, self.rng, self.guess, self.silent = acuity, random.Random(seed), guess, silent
        self.current: Optotype | None = None
        self.shown: list[Optotype] = []
        self.blanks = 0

    async def show(self, optotype: Optotype) -> None:
        self.current = optotype
        self.shown.append(optotype)

    async def blank(self) -> None:
        self.current = None
        self.blanks += 1

    async def wait_answer(self, timeout: float) -> PadAnswer:
        assert self.current is not None, "asked for an answer with nothing shown"
        if self.silent:
            raise DeviceTimeout()
        true = self.acuity[self.current.eye]
        if true is not None and self.current.level <= true + 1e-9:
            return PadAnswer(orientation=self.current.orientation, device_time_ms=0)
        return PadAnswer(orientation=self.rng.choice(list(Orientation)) if self.guess else None, device_time_ms=0)


def test_guessing_probability_of_the_line_rule_is_below_two_percent():
    assert guess_probability(5, 4, 4) == Fraction(16, 1024)  # 4 of 5: 15/1024 + 1/1024
    assert guess_probability(3, 3, 4) == Fraction(1, 64)  # 3 of 3
    assert LineRule().guess_probability == Fraction(16, 1024) < Fraction(2, 100)
    assert float(LineRule(trials=3, needed=3).guess_probability) == pytest.approx(0.015625)
    with pytest.raises(ValidationError):
        LineRule(trials=5, needed=3)  # 10.4 %: the "more than half" rule is too easy to guess
    with pytest.raises(ValidationError):
        LineRule(trials=2, needed=2)  # 6.25 %


def test_line_guessing_rate_matches_by_simulation():
    """Pure guessers (no acuity at all) pass a line about 1.6 % of the time, never near 10 %."""

    async def lines_passed(n: int) -> int:
        from flows.vision_test import _test_line

        citizen = ScriptedCitizen({Eye.RIGHT: None}, seed=7)
        rng = random.Random(11)
        passed = 0
        for _ in range(n):
            line = await _test_line(citizen, Eye.RIGHT, 5.0, AcuitySettings(), rng, [0])
            passed += line.passed
        return passed

    import asyncio

    rate = asyncio.run(lines_passed(4000)) / 4000
    assert 0.008 < rate < 0.025


@pytest.mark.parametrize("true_level", [4.0, 4.3, 4.7, 4.8, 4.9, 5.0, 5.2, 5.3])
async def test_finds_the_true_line_with_a_cannot_see_citizen(true_level):
    citizen = ScriptedCitizen({Eye.RIGHT: true_level}, guess=False)
    result = await measure_eye(citizen, Eye.RIGHT, rng=random.Random(1))
    assert result.level == true_level
    assert all(o.eye is Eye.RIGHT and o.level in LEVELS for o in citizen.shown)
    assert citizen.blanks == len(citizen.shown)
    passed_lines = [line.level for line in result.lines if line.passed]
    assert max(passed_lines) == true_level


async def test_below_the_chart_is_none():
    result = await measure_eye(ScriptedCitizen({Eye.LEFT: None}, guess=False), Eye.LEFT, rng=random.Random(2))
    assert result.level is None
    assert [line.level for line in result.lines] == [4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2, 4.1, 4.0]


async def test_guessing_citizens_are_found_at_their_true_line_almost_always():
    hits = 0
    for seed in range(100):
        citizen = ScriptedCitizen({Eye.RIGHT: 4.9, Eye.LEFT: 4.5}, seed=seed)
        res = await run_acuity(citizen, rng=random.Random(1000 + seed))
        hits += res.right.level == 4.9 and res.left.level == 4.5
        assert res.right.level is not None and res.right.level >= 4.9  # never below what they can read
    assert hits >= 90


async def test_orientations_are_random_and_all_used():
    citizen = ScriptedCitizen({Eye.RIGHT: 5.3, Eye.LEFT: 5.3})
    await run_acuity(citizen, rng=random.Random(3))
    assert {o.orientation for o in citizen.shown} == set(Orientation)
    assert [o.eye for o in citizen.shown][0] is Eye.RIGHT and citizen.shown[-1].eye is Eye.LEFT


async def test_early_stop_uses_at_most_five_trials_per_line():
    res = await measure_eye(ScriptedCitizen({Eye.RIGHT: 5.0}, seed=4), Eye.RIGHT, rng=random.Random(4))
    assert all(len(line.trials) <= 5 for line in res.lines)
    assert all(len(line.trials) == 4 for line in res.lines if line.level <= 5.0)  # 4 right in a row


async def test_silent_citizen_abandons_the_test():
    with pytest.raises(VisionTestAbandoned):
        await measure_eye(ScriptedCitizen({Eye.RIGHT: 5.0}, silent=True), Eye.RIGHT, rng=random.Random(5))


async def test_result_feeds_the_medical_rules():
    res = await run_acuity(ScriptedCitizen({Eye.RIGHT: 5.0, Eye.LEFT: 4.9}, guess=False), rng=random.Random(6))
    ev = evaluate("C1", MedicalResults(vision_left=res.left.level, vision_right=res.right.level))
    assert ev.get(Criterion.VISION).verdict is Verdict.PASS
    ev = evaluate("B1", MedicalResults(vision_left=res.left.level, vision_right=res.right.level))
    assert ev.get(Criterion.VISION).verdict is Verdict.FAIL


async def test_threaded_adapter_drives_a_blocking_eye_tester():
    class Blocking(EyeTester):
        def __init__(self):
            self.shown: list[Optotype] = []

        def open(self): ...
        def close(self): ...
        def info(self): return DeviceInfo(kind="eye", driver="test")
        def self_test(self): return SelfTestResult(kind="eye", passed=True)
        def show(self, optotype): self.shown.append(optotype)
        def blank(self): ...
        def wait_answer(self, timeout):
            return PadAnswer(orientation=self.shown[-1].orientation if self.shown[-1].level <= 4.9 else None,
                             device_time_ms=0)

    dev = Blocking()
    res = await measure_eye(ThreadedEyeTester(dev), Eye.LEFT, rng=random.Random(8))
    assert res.level == 4.9 and dev.shown


def test_acuity_settings_refuse_off_scale_start():
    with pytest.raises(ValidationError):
        AcuitySettings(start_level=3.9)


# --- colour ---------------------------------------------------------------------------------

DEMO_PLATE, SCREENING_PLATES, RESERVE_PLATES = session_plates(load_pool(), random.Random(5))
PLATES = dict(demo=DEMO_PLATE, screening=SCREENING_PLATES, reserve=RESERVE_PLATES)

def answerer(kind: str, wrong: set[str] = frozenset()):
    async def ask(plate: ColourPlate) -> str:
        assert plate.normal in plate.options and NOTHING in plate.options
        if plate.id in wrong:
            return next(o for o in plate.options if o != plate.normal)
        if kind == "normal":
            return plate.normal
        if kind == "red_green":
            return plate.red_green if plate.red_green is not None else NOTHING
        return NOTHING

    return ask


async def test_colour_normal_observer():
    r = await run_colour_test(answerer("normal"), **PLATES)
    assert r.outcome is ColourVision.NORMAL and len(r.answers) == 1 + len(SCREENING_PLATES)


async def test_colour_red_green_observer_is_detected():
    r = await run_colour_test(answerer("red_green"), **PLATES)
    assert r.outcome is ColourVision.RED_GREEN_DEFICIENT
    assert all(a.red_green_typical for a in r.answers if a.plate != DEMO_PLATE.id)


def test_every_session_draws_its_own_plates():
    drawn = {tuple(p.id for p in session_plates(load_pool(), random.Random(seed))[1]) for seed in range(12)}
    assert len(drawn) >= 8  # figures differ from session to session
    demo, screening, reserve = session_plates(load_pool(), random.Random(1))
    assert {d for p in screening for d in p.detects} == {"protan", "deutan"}
    assert {p.kind for p in screening} == {PlateKind.VANISHING, PlateKind.TRANSFORMATION}
    assert not {p.id for p in reserve} & {p.id for p in screening}


async def test_colour_one_slip_goes_to_reserve_plates():
    ok = await run_colour_test(answerer("normal", wrong={SCREENING_PLATES[0].id}), **PLATES)
    assert ok.outcome is ColourVision.NORMAL and len(ok.answers) == 1 + len(SCREENING_PLATES) + len(RESERVE_PLATES)
    bad = await run_colour_test(answerer("normal", wrong={SCREENING_PLATES[0].id, RESERVE_PLATES[1].id}), **PLATES)
    assert bad.outcome is ColourVision.RED_GREEN_DEFICIENT


async def test_colour_demo_plate_misread_is_inconclusive():
    r = await run_colour_test(answerer("blind"), **PLATES)
    assert r.outcome is ColourVision.INCONCLUSIVE and len(r.answers) == 1


def test_colour_guessing_bound():
    assert colour_guess_probability() == Fraction(28, 4096)
    assert colour_guess_probability() < Fraction(2, 100)


# --- hearing --------------------------------------------------------------------------------

async def test_hearing_each_ear_and_guessing_bound():
    assert hearing_guess_probability(6) == Fraction(1, 64) < Fraction(2, 100)
    played: list[Side] = []

    async def play(side: Side) -> None:
        played.append(side)

    async def deaf_right() -> Side | None:  # hears only on the left; a right sound reaches the left ear
        return Side.LEFT

    async def good() -> Side | None:
        return played[-1]

    r = await run_hearing_test(play, good, rng=random.Random(1))
    assert r.left and r.right and len(r.trials) == 12
    assert played.count(Side.LEFT) == played.count(Side.RIGHT) == 6
    r = await run_hearing_test(play, deaf_right, rng=random.Random(2))
    assert r.left and not r.right
    with pytest.raises(ValueError):
        await run_hearing_test(play, good, trials_per_ear=5)
