"""The hearing test's audio path: tones, calibration, and the samples that really went out —
into a WAV file, and through PortAudio/ALSA into ALSA's `file` plugin (a sink with no sound card)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from peripherals.audio import calibration
from peripherals.audio.errors import AudioUnavailable, PlaybackFailed
from peripherals.audio.outputs import MemoryOutput, NoOutput, WavFileOutput, open_output, read_wav
from peripherals.audio.player import TonePlayer
from peripherals.audio.tones import Channel, analyse, loudest_side, tone

CLI = [sys.executable, "-m", "peripherals.cli"]


def segments(data: np.ndarray, gap: int = 200) -> list[np.ndarray]:
    """Split a recording at silences into the sounds it holds."""
    loud = np.abs(data).max(axis=1) > 30
    out, start, quiet = [], None, 0
    for i, on in enumerate(loud):
        if on:
            start, quiet = (i if start is None else start), 0
        elif start is not None:
            quiet += 1
            if quiet > gap:
                out.append(data[start:i - quiet + 1])
                start = None
    if start is not None:
        out.append(data[start:])
    return out


@pytest.mark.parametrize("channel", list(Channel))
def test_a_tone_is_on_one_channel_at_its_frequency_and_level(channel):
    buf = tone(channel, 512, -30.0, 0.5)
    stats = analyse(buf)
    other = Channel.RIGHT if channel is Channel.LEFT else Channel.LEFT
    assert stats[channel].frequency_hz == pytest.approx(512, abs=1)
    assert stats[channel].rms_dbfs == pytest.approx(-30.0, abs=0.1)
    assert stats[other].rms_dbfs <= -100 and loudest_side(buf) is channel
    assert abs(buf[0, 0]) + abs(buf[0, 1]) < 1e-4  # ramps: no click that both ears would hear


def test_tones_refuse_impossible_requests():
    with pytest.raises(ValueError):
        tone("left", 30000, -20, 0.1)
    with pytest.raises(ValueError):
        tone("left", 1000, 0.0, 0.1)


def test_calibration_maps_sound_pressure_to_digital_level(tmp_path: Path):
    cal = calibration.Calibration().record("left", 82.0).record("right", 70.0)
    assert cal.calibrated
    assert cal.dbfs_for("left", 60) == pytest.approx(-42.0)
    assert cal.dbfs_for("right", 60) == pytest.approx(-30.0)
    path = tmp_path / "audio-calibration.json"
    calibration.save(path, cal)
    assert calibration.load(path) == cal
    assert not calibration.load(tmp_path / "missing.json").calibrated
    player = TonePlayer(MemoryOutput(), cal)
    with pytest.raises(PlaybackFailed):
        player.play_tone("right", 512, 100, 0.1)  # the speaker cannot reach it without clipping


def test_played_samples_in_a_wav_file_carry_side_frequency_and_calibrated_level(tmp_path: Path):
    out = tmp_path / "session.wav"
    cal = calibration.Calibration().record("left", 76.0).record("right", 80.0)
    player = TonePlayer(WavFileOutput(out), cal)
    order = ["left", "right", "right", "left"]
    for side in order:
        player.play_tone(side, 512, 60, 0.3)
        player.output.play(np.zeros((4800, 2), np.float32))  # a pause between trials
    player.close()
    data, rate = read_wav(out)
    sounds = segments(data)
    assert rate == 48000 and len(sounds) == len(order)
    for side, sound in zip(order, sounds):
        stats = analyse(sound, rate)
        assert loudest_side(sound, rate) is Channel(side)
        assert stats[Channel(side)].frequency_hz == pytest.approx(512, abs=2)
        assert stats[Channel(side)].rms_dbfs == pytest.approx(cal.dbfs_for(side, 60), abs=0.3)


def test_outputs_by_url_and_no_output():
    assert isinstance(open_output("memory:"), MemoryOutput)
    assert isinstance(open_output("wav:/tmp/x.wav"), WavFileOutput)
    with pytest.raises(AudioUnavailable):
        open_output("none").open()
    with pytest.raises(AudioUnavailable):
        NoOutput().play(np.zeros((10, 2)))
    with pytest.raises(ValueError):
        open_output("bluetooth:x")


# -- the real PortAudio path into ALSA's file plugin ------------------------------------------
def alsa_env(tmp_path: Path, sink: Path) -> dict[str, str]:
    conf = tmp_path / "asound.conf"
    conf.write_text(
        "</usr/share/alsa/alsa.conf>\n"
        "pcm.kiosktest {\n type file\n slave.pcm \"null\"\n"
        f" file \"{sink}\"\n format \"wav\"\n"
        " hint { show on description \"kiosk test sink\" }\n}\n", encoding="utf-8")
    return {**os.environ, "ALSA_CONFIG_PATH": str(conf)}


def have_portaudio() -> bool:
    try:
        import sounddevice  # noqa: F401
    except OSError:
        return False
    return Path("/usr/share/alsa/alsa.conf").is_file()


@pytest.mark.skipif(not have_portaudio(), reason="PortAudio/ALSA not installed (scripts/setup.sh installs them)")
@pytest.mark.parametrize("side", ["left", "right"])
def test_speaker_test_through_portaudio_and_alsa_writes_the_tone(tmp_path: Path, side: str):
    sink = tmp_path / "sink.wav"
    out = subprocess.run([*CLI, "play-tone", "--output", "portaudio:kiosktest", "--side", side, "--frequency", "1000",
                          "--db-spl", "66", "--duration", "0.4"],
                         env=alsa_env(tmp_path, sink), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["output"] == "kiosktest" and report["level_dbfs"] == pytest.approx(-30.0)
    data, rate = read_wav(sink)
    (sound,) = segments(data)
    stats = analyse(sound, rate)
    assert loudest_side(sound, rate) is Channel(side)
    assert stats[Channel(side)].frequency_hz == pytest.approx(1000, abs=2)
    assert stats[Channel(side)].rms_dbfs == pytest.approx(-30.0, abs=0.3)


@pytest.mark.skipif(not have_portaudio(), reason="PortAudio/ALSA not installed")
def test_a_missing_audio_device_is_said_in_plain_words(tmp_path: Path):
    out = subprocess.run([*CLI, "play-tone", "--output", "portaudio:no-such-speaker", "--side", "left"],
                         env=alsa_env(tmp_path, tmp_path / "unused.wav"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "this kiosk cannot play sound" in out.stderr
