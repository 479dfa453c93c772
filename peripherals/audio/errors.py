"""Errors of the audio output."""

from __future__ import annotations

from peripherals.errors import DeviceError, DeviceNotPresent


class AudioUnavailable(DeviceNotPresent):
    """No sound output: PortAudio missing, no output device, or the named device is not there."""

    code = "audio_unavailable"
    plain = "this kiosk cannot play sound"


class PlaybackFailed(DeviceError):
    """The output accepted the sound but playing it failed (device vanished, underrun...)."""

    code = "playback_failed"
    plain = "the sound could not be played"
    degrades_device = True
