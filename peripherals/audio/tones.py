"""Test tones as sample buffers, and the analysis that checks what was played.

A tone is a sine of `frequency_hz` on ONE channel of a stereo buffer (the other channel
silent) at `level_dbfs` = 20·log10(RMS) with full scale 1.0 (a full-scale sine is
−3.01 dBFS), with 20 ms raised-cosine ramps so it
starts and stops without a click (a click is heard on both sides and would give the
direction away). `analyse()` measures, per channel, the RMS level and the dominant
frequency (FFT peak, parabolic interpolation) — the tests and the simulated citizen use
it on the samples that actually went out.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from pydantic import BaseModel

SAMPLE_RATE = 48000
RAMP_S = 0.02
SILENCE_DBFS = -120.0


class Channel(StrEnum):
    LEFT = "left"
    RIGHT = "right"


CHANNEL_INDEX = {Channel.LEFT: 0, Channel.RIGHT: 1}


def tone(channel: Channel | str, frequency_hz: float, level_dbfs: float, duration_s: float,
         samplerate: int = SAMPLE_RATE) -> np.ndarray:
    """A (n, 2) float32 buffer: the tone on `channel`, silence on the other."""
    if not 20 <= frequency_hz <= samplerate / 2.2:
        raise ValueError("frequency outside the audible, representable range")
    if level_dbfs > -3.0103:
        raise ValueError("level above full scale")
    n = int(round(duration_s * samplerate))
    t = np.arange(n) / samplerate
    amplitude = np.sqrt(2) * 10 ** (level_dbfs / 20)
    wave = amplitude * np.sin(2 * np.pi * frequency_hz * t)
    ramp = min(int(RAMP_S * samplerate), n // 2)
    if ramp:
        env = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        wave[:ramp] *= env
        wave[n - ramp:] *= env[::-1]
    out = np.zeros((n, 2), dtype=np.float32)
    out[:, CHANNEL_INDEX[Channel(channel)]] = wave
    return out


class ChannelStats(BaseModel):
    rms_dbfs: float
    frequency_hz: float | None  # None: silent


def _level(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return 20 * np.log10(rms) if rms > 1e-6 else SILENCE_DBFS


def _peak_frequency(x: np.ndarray, samplerate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec[1:]) + 1)
    if 1 <= k < len(spec) - 1:
        a, b, c = np.log(spec[k - 1] + 1e-12), np.log(spec[k] + 1e-12), np.log(spec[k + 1] + 1e-12)
        k = k + 0.5 * (a - c) / (a - 2 * b + c)
    return float(k * samplerate / len(x))


def analyse(buffer: np.ndarray, samplerate: int = SAMPLE_RATE, *, steady: bool = True) -> dict[Channel, ChannelStats]:
    """Per-channel RMS level and dominant frequency; `steady` skips the ramps (the middle 80 %)."""
    x = np.asarray(buffer, dtype=np.float64)
    if x.dtype.kind == "i" or np.abs(x).max(initial=0) > 1.5:  # integer PCM
        x = x / 32768.0
    if steady and len(x) > 10:
        x = x[len(x) // 10: len(x) - len(x) // 10]
    out = {}
    for ch, i in CHANNEL_INDEX.items():
        level = _level(x[:, i])
        out[ch] = ChannelStats(rms_dbfs=level,
                               frequency_hz=_peak_frequency(x[:, i], samplerate) if level > SILENCE_DBFS else None)
    return out


def loudest_side(buffer: np.ndarray, samplerate: int = SAMPLE_RATE, margin_db: float = 20.0) -> Channel | None:
    """The channel a listener hears the sound on: louder than the other by `margin_db`; None if neither."""
    stats = analyse(buffer, samplerate)
    left, right = stats[Channel.LEFT].rms_dbfs, stats[Channel.RIGHT].rms_dbfs
    if left - right >= margin_db:
        return Channel.LEFT
    if right - left >= margin_db:
        return Channel.RIGHT
    return None
