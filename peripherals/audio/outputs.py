"""Where the hearing test's samples go: PortAudio (sounddevice), a WAV file, or memory.

- `SoundDeviceOutput` — the kiosk's speakers or headphones through PortAudio (ALSA on
  Debian). ``portaudio:`` is the default device, ``portaudio:NAME`` a named one (an ALSA
  PCM such as ``hw:0,0``, ``default`` or one defined in asound.conf). Samples go out as
  16-bit stereo at 48 kHz. No PortAudio library, no such device, or one without two
  output channels → `AudioUnavailable`.
- `WavFileOutput` — ``wav:/path/file.wav``: every buffer played is appended to one WAV
  file (16-bit stereo), for tests and for recording what a session played.
- `MemoryOutput` — ``memory:``: keeps the buffers (the virtual kiosk; its simulated
  citizen listens to them).
"""

from __future__ import annotations

import threading
import time
import wave
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from peripherals.audio.errors import AudioUnavailable, PlaybackFailed
from peripherals.audio.tones import SAMPLE_RATE


def to_pcm16(buffer: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(buffer, dtype=np.float64), -1.0, 1.0) * 32767).round().astype("<i2")


class AudioOutput(ABC):
    """Blocking stereo output; `play()` returns when the buffer has been played."""

    samplerate: int = SAMPLE_RATE
    url: str = ""

    def open(self) -> None:
        """Check the output exists; AudioUnavailable when it does not."""

    def close(self) -> None:
        """Release it; safe to call twice."""

    @abstractmethod
    def play(self, buffer: np.ndarray) -> None: ...

    def describe(self) -> str:
        return self.url


class SoundDeviceOutput(AudioOutput):
    def __init__(self, device: str | int | None = None, samplerate: int = SAMPLE_RATE) -> None:
        self.device = device if device not in ("", "default") else None
        self.samplerate = samplerate
        self.url = f"portaudio:{device or ''}"
        self._sd: Any = None
        self._name = ""

    def open(self) -> None:
        if self._sd is not None:
            return
        try:
            import sounddevice as sd
        except OSError as exc:  # the PortAudio library itself is missing
            raise AudioUnavailable(f"PortAudio is not installed ({exc})", kind="audio") from None
        try:
            info = sd.query_devices(self.device, kind="output")
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioUnavailable(f"no audio output {self.device or 'default'!r} ({exc})", kind="audio") from None
        if int(info["max_output_channels"]) < 2:
            raise AudioUnavailable(f"{info['name']} has no stereo output", kind="audio")
        self._sd, self._name = sd, str(info["name"])

    def describe(self) -> str:
        return self._name or self.url

    def play(self, buffer: np.ndarray) -> None:
        self.open()
        try:
            self._sd.play(to_pcm16(buffer), self.samplerate, device=self.device, blocking=True)
        except Exception as exc:  # PortAudioError and friends: typed for the flow
            raise PlaybackFailed(f"playing on {self.describe()} failed ({type(exc).__name__})", kind="audio") from None

    def close(self) -> None:
        if self._sd is not None:
            try:
                self._sd.stop()
            except Exception:
                pass
        self._sd = None


class WavFileOutput(AudioOutput):
    def __init__(self, path: str | Path, samplerate: int = SAMPLE_RATE, *, realtime: bool = False) -> None:
        self.path = Path(path)
        self.samplerate = samplerate
        self.realtime = realtime
        self.url = f"wav:{self.path}"
        self._wav: wave.Wave_write | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            if self._wav is None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    w = wave.open(str(self.path), "wb")
                except OSError as exc:
                    raise AudioUnavailable(f"cannot write {self.path} ({exc.strerror})", kind="audio") from None
                w.setnchannels(2)
                w.setsampwidth(2)
                w.setframerate(self.samplerate)
                self._wav = w

    def play(self, buffer: np.ndarray) -> None:
        self.open()
        with self._lock:
            assert self._wav is not None
            self._wav.writeframes(to_pcm16(buffer).tobytes())
            self._wav._file.flush()  # type: ignore[attr-defined]
        if self.realtime:
            time.sleep(len(buffer) / self.samplerate)

    def close(self) -> None:
        with self._lock:
            w, self._wav = self._wav, None
        if w is not None:
            w.close()


class MemoryOutput(AudioOutput):
    def __init__(self, samplerate: int = SAMPLE_RATE, *, realtime: bool = False, keep: int = 32) -> None:
        self.samplerate = samplerate
        self.realtime = realtime
        self.keep = keep
        self.url = "memory:"
        self.buffers: list[np.ndarray] = []
        self.played = 0

    def play(self, buffer: np.ndarray) -> None:
        self.buffers = [*self.buffers[-(self.keep - 1):], np.array(buffer, copy=True)]
        self.played += 1
        if self.realtime:
            time.sleep(len(buffer) / self.samplerate)


class NoOutput(AudioOutput):
    """A kiosk configured without sound (``none``)."""

    url = "none"

    def open(self) -> None:
        raise AudioUnavailable("no audio output is configured for the hearing test", kind="audio")

    def play(self, buffer: np.ndarray) -> None:
        self.open()


def open_output(url: str, samplerate: int = SAMPLE_RATE) -> AudioOutput:
    """``portaudio:[NAME]`` · ``wav:PATH`` · ``memory:`` · ``none`` (not opened yet)."""
    scheme, _, rest = url.partition(":")
    if scheme == "portaudio":
        return SoundDeviceOutput(int(rest) if rest.isdigit() else (rest or None), samplerate)
    if scheme == "wav" and rest:
        return WavFileOutput(rest, samplerate)
    if scheme == "memory":
        return MemoryOutput(samplerate)
    if scheme in ("none", ""):
        return NoOutput()
    raise ValueError(f"unknown audio output {url!r} (portaudio:[NAME], wav:PATH, memory:, none)")


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(frames × 2 int16, sample rate) of a 16-bit stereo WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 2 or w.getsampwidth() != 2:
            raise ValueError("not a 16-bit stereo WAV file")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
        return data, w.getframerate()
