"""Plays calibrated test tones on one side: the hearing test's "tuning fork".

`play_tone(channel, frequency_hz, db_spl, duration_s)` turns the wanted sound pressure at
the ear into a digital level with the channel's `Calibration`, synthesises the tone
(`tones.tone`) and plays it on the `AudioOutput`. It remembers what it played (`last`,
`last_buffer`) for the diagnostics screen and for the simulated citizen, who *listens*
to the samples (`tones.loudest_side`) rather than being told the side.
"""

from __future__ import annotations

import threading

import numpy as np
from pydantic import BaseModel

from peripherals.audio.calibration import REFERENCE_DBFS, REFERENCE_HZ, Calibration
from peripherals.audio.errors import PlaybackFailed
from peripherals.audio.outputs import AudioOutput
from peripherals.audio.tones import Channel, loudest_side, tone


class Played(BaseModel):
    channel: Channel
    frequency_hz: float
    db_spl: float | None  # None: a raw digital level (the calibration reference)
    level_dbfs: float
    duration_s: float


class TonePlayer:
    def __init__(self, output: AudioOutput, calibration: Calibration | None = None) -> None:
        self.output = output
        self.calibration = calibration or Calibration()
        self.last: Played | None = None
        self.last_buffer: np.ndarray | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        self.output.open()

    def close(self) -> None:
        self.output.close()

    def play_tone(self, channel: Channel | str, frequency_hz: float, db_spl: float, duration_s: float) -> Played:
        try:
            level = self.calibration.dbfs_for(channel, db_spl)
        except ValueError as exc:
            raise PlaybackFailed(str(exc), kind="audio") from None
        return self._play(Channel(channel), frequency_hz, level, duration_s, db_spl)

    def play_reference(self, channel: Channel | str, duration_s: float = 3.0) -> Played:
        """The calibration tone: 1 kHz at the reference digital level."""
        return self._play(Channel(channel), REFERENCE_HZ, REFERENCE_DBFS, duration_s, None)

    def _play(self, channel: Channel, frequency_hz: float, level: float, duration_s: float,
              db_spl: float | None) -> Played:
        buffer = tone(channel, frequency_hz, level, duration_s, self.output.samplerate)
        with self._lock:  # one sound at a time
            self.output.play(buffer)
            self.last_buffer = buffer
            self.last = Played(channel=channel, frequency_hz=frequency_hz, db_spl=db_spl, level_dbfs=level,
                               duration_s=duration_s)
        return self.last

    def heard_side(self) -> Channel | None:
        """The side a listener at the standing spot hears the last sound on (from its samples)."""
        return loudest_side(self.last_buffer, self.output.samplerate) if self.last_buffer is not None else None
