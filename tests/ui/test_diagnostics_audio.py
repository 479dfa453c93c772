"""The diagnostics screen's speakers tab: speaker test per side and level calibration, checked on
the samples that went out (a WAV file sink), and the no-sound case said in words."""

from __future__ import annotations

import json

import pytest

from flows.medical_rules import HEARING_TEST_RULE
from kiosk.app import KioskOptions, create_app
from peripherals.audio.outputs import read_wav
from peripherals.audio.tones import Channel, analyse, loudest_side

from .diagnostics_support import login, make_diagnostics, screenshot, staff_actions, wait_text

pytestmark = pytest.mark.slow


def start(kivy_ui, diag, lang="en"):
    kivy_ui.start(create_app(KioskOptions(lang=lang, voice=False), [], diagnostics=diag))
    kivy_ui.wait_screen("home")


def sounds(path):
    data, rate = read_wav(path)
    loud = abs(data).max(axis=1) > 30
    edges = [i for i in range(1, len(loud)) if loud[i] != loud[i - 1]]
    return data, rate, edges


def test_speaker_test_and_calibration_change_what_is_played(kivy_ui, tmp_path, artifacts):
    sink = tmp_path / "speakers.wav"
    diag = make_diagnostics(tmp_path, None, audio_output=f"wav:{sink}")
    try:
        start(kivy_ui, diag)
        login(kivy_ui, diag)
        kivy_ui.tap("diag.tab.audio")
        assert "not calibrated" in wait_text(kivy_ui, "diag.audio.cal.left", lambda t: bool(t))
        kivy_ui.tap("diag.audio.test.left")
        wait_text(kivy_ui, "diag.audio.result", lambda t: "Played on the Left" in t)
        screenshot(kivy_ui, artifacts / "diagnostics", "08-speakers-en")

        kivy_ui.tap("diag.audio.side.right")
        kivy_ui.tap("diag.audio.reference")
        wait_text(kivy_ui, "diag.audio.result", lambda t: "Reference played" in t)
        for key in "80":
            kivy_ui.tap(f"keypad.{key}")
        kivy_ui.tap("diag.audio.save")
        wait_text(kivy_ui, "diag.audio.result", lambda t: "Saved" in t)
        assert "80 dB SPL" in wait_text(kivy_ui, "diag.audio.cal.right", lambda t: "calibrated" in t)
        kivy_ui.tap("diag.audio.test.right")
        wait_text(kivy_ui, "diag.audio.result", lambda t: "Played on the Right" in t and "-40.0 dBFS" in t)
    finally:
        diag.close()
        player = getattr(diag, "_audio_player", None)
        if player is not None:
            player.close()
    stored = json.loads((tmp_path / "audio-calibration.json").read_text())
    assert stored["right"]["spl_at_reference"] == 80 and stored["left"]["calibrated_at"] is None

    data, rate = read_wav(sink)
    n_test, n_ref = round(HEARING_TEST_RULE.tone_s * rate), 5 * rate
    first, reference, last = data[:n_test], data[n_test:n_test + n_ref], data[n_test + n_ref:]
    assert len(last) == n_test
    assert loudest_side(first, rate) is Channel.LEFT and loudest_side(reference, rate) is Channel.RIGHT
    assert loudest_side(last, rate) is Channel.RIGHT
    a = analyse(first, rate)[Channel.LEFT]
    assert a.frequency_hz == pytest.approx(HEARING_TEST_RULE.frequency_hz, abs=1) and a.rms_dbfs == pytest.approx(-36, abs=0.2)
    r = analyse(reference, rate)[Channel.RIGHT]
    assert r.frequency_hz == pytest.approx(1000, abs=1) and r.rms_dbfs == pytest.approx(-20, abs=0.2)
    assert analyse(last, rate)[Channel.RIGHT].rms_dbfs == pytest.approx(-40, abs=0.2)  # 60 − (80 − (−20)) … calibrated
    assert [e.action for e in staff_actions(diag)][-4:] == ["speaker_test", "speaker_test", "audio_calibration",
                                                             "speaker_test"]


def test_no_sound_output_is_said_on_the_tab(kivy_ui, tmp_path):
    diag = make_diagnostics(tmp_path, None, audio_output="none")
    try:
        start(kivy_ui, diag)
        login(kivy_ui, diag)
        kivy_ui.tap("diag.tab.audio")
        assert "No sound output" in wait_text(kivy_ui, "diag.audio.output", lambda t: bool(t))
    finally:
        diag.close()
