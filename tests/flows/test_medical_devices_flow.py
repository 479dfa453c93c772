"""The renewal's medical check on its devices: tones really played for the hearing test, the
height measured by the station, and the staff fallbacks when either cannot work."""

from __future__ import annotations

import pytest

from flows.deps import NoAudio
from flows.engine import AbortReason, OutcomeStatus
from flows.medical_rules import HEARING_TEST_RULE
from flows.views import ViewKind
from peripherals.audio.tones import Channel, analyse, loudest_side

from .flow_support import FAST_FACE, FAST_PAYMENT, FAST_SIM, example_answers, run_flow

SETTINGS = {**FAST_PAYMENT, **FAST_FACE, "card_wait_s": 0.3, "rng_seed": 11, "height_timeout_s": 2.0}


def spec(answers=None, sim=None, settings=None):
    s = example_answers("licence-renewal", settings={**SETTINGS, **(settings or {})}, sim=FAST_SIM)
    s.answers.update(answers or {})
    for kind, options in (sim or {}).items():
        s.sim[kind] = {**s.sim.get(kind, {}), **options}
    return s


@pytest.mark.timeout(60)
def test_hearing_plays_calibrated_tones_left_and_right_with_a_playing_screen(backoffice, tmp_path):
    r = run_flow("licence-renewal", spec(), backoffice.url, tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    played = r.deps.audio.player.output.buffers
    trials = HEARING_TEST_RULE.trials_per_ear
    assert r.deps.audio.played == len(played) == 2 * trials
    sides = [loudest_side(b) for b in played]
    assert sides.count(Channel.LEFT) == sides.count(Channel.RIGHT) == trials
    assert sides != sorted(sides)  # shuffled, not all left then all right
    level = r.deps.audio.player.calibration.dbfs_for("left", HEARING_TEST_RULE.level_db_spl)
    for side, buf in zip(sides, played):
        stats = analyse(buf)
        assert stats[side].frequency_hz == pytest.approx(HEARING_TEST_RULE.frequency_hz, abs=1)
        assert stats[side].rms_dbfs == pytest.approx(level, abs=0.2)
        assert len(buf) == round(HEARING_TEST_RULE.tone_s * 48000)
    hearing = [v for v in r.result.views if v.step == "hearing"]
    playing = [v for v in hearing if v.kind is ViewKind.MEASURING]
    assert len(playing) == 2 * trials and all(v.instruction.key == "hearing.playing" for v in playing)
    kinds = [v.kind for v in hearing if v.kind in (ViewKind.MEASURING, ViewKind.CHOICE)]
    assert kinds == [ViewKind.MEASURING, ViewKind.CHOICE] * trials * 2  # a sound, then the question


@pytest.mark.timeout(60)
def test_no_audio_output_says_so_and_hands_over_to_staff(backoffice, tmp_path):
    def no_sound(view, deps):
        deps.audio = NoAudio()

    r = run_flow("licence-renewal", spec(), backoffice.url, tmp_path / "state", intercept=no_sound)
    assert r.outcome.status is OutcomeStatus.ABORTED and r.outcome.reason is AbortReason.STAFF_NEEDED
    err = r.result.views[-1]
    assert err.code == "audio_unavailable" and err.what.key == "hearing.no_audio"
    assert not [v for v in r.result.views if v.step == "hearing" and v.kind is ViewKind.CHOICE]


@pytest.mark.timeout(60)
def test_height_comes_from_the_station_and_is_shown(backoffice, tmp_path):
    r = run_flow("licence-renewal", spec(sim={"height": {"height": 166.4, "weight": 59.0}}), backoffice.url,
                 tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.COMPLETED
    views = [v for v in r.result.views if v.step == "height"]
    assert views[0].kind is ViewKind.MEASURING and views[0].device == "height"
    shown = [v for v in views if v.kind is ViewKind.PROMPT][0]
    assert shown.message.key == "height.measured_with_weight" and shown.message.params["height_cm"] == 166.4
    assert not [v for v in views if v.kind is ViewKind.FORM]  # nobody typed it


@pytest.mark.timeout(60)
def test_station_that_cannot_measure_offers_retry_then_staff_entry(backoffice, tmp_path):
    r = run_flow("licence-renewal", spec(sim={"height": {"person": 0}}, settings={"height_timeout_s": 0.3}),
                 backoffice.url, tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.COMPLETED
    views = [v for v in r.result.views if v.step == "height"]
    errors = [v for v in views if v.kind is ViewKind.ERROR]
    assert len(errors) == 2 and errors[0].code == "no_measurement"  # tried again once, then staff
    assert [o.key for o in errors[0].options] == ["retry", "staff"]
    assert [v for v in views if v.kind is ViewKind.FORM][0].message.key == "height.staff_entry"
