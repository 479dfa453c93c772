"""Level calibration of each speaker: which digital level gives which sound pressure at the ear.

Staff play the reference tone (1 kHz at `REFERENCE_DBFS`) on one channel, read a sound
level meter held where the citizen's ear is (the marked standing spot, 50 cm from the
speaker), and enter the dB SPL it shows. From then on a tone of L dB SPL is played at
``REFERENCE_DBFS + (L − measured)`` dBFS on that channel. Until calibrated, a nominal
`DEFAULT_SPL_AT_REFERENCE` is assumed and the diagnostics screen says "not calibrated".
Stored as JSON (the kiosk's state directory); no personal data.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from peripherals.audio.tones import Channel

REFERENCE_HZ = 1000.0
REFERENCE_DBFS = -20.0
DEFAULT_SPL_AT_REFERENCE = 76.0  # nominal small kiosk speaker at 50 cm (uncalibrated guess)
MAX_DBFS = -6.0  # headroom: never closer to full scale than this


class ChannelCalibration(BaseModel):
    spl_at_reference: float = Field(default=DEFAULT_SPL_AT_REFERENCE, ge=20, le=130)
    calibrated_at: dt.datetime | None = None


class Calibration(BaseModel):
    left: ChannelCalibration = Field(default_factory=ChannelCalibration)
    right: ChannelCalibration = Field(default_factory=ChannelCalibration)

    def channel(self, channel: Channel | str) -> ChannelCalibration:
        return self.left if Channel(channel) is Channel.LEFT else self.right

    @property
    def calibrated(self) -> bool:
        return self.left.calibrated_at is not None and self.right.calibrated_at is not None

    def dbfs_for(self, channel: Channel | str, db_spl: float) -> float:
        """The digital level that gives `db_spl` at the ear; ValueError when the speaker cannot reach it."""
        level = REFERENCE_DBFS + (db_spl - self.channel(channel).spl_at_reference)
        if level > MAX_DBFS:
            raise ValueError(f"{db_spl:g} dB SPL needs {level:.1f} dBFS on the {Channel(channel).value} speaker")
        return level

    def record(self, channel: Channel | str, measured_db_spl: float, when: dt.datetime | None = None) -> "Calibration":
        entry = ChannelCalibration(spl_at_reference=measured_db_spl,
                                   calibrated_at=when or dt.datetime.now(dt.timezone.utc))
        return self.model_copy(update={Channel(channel).value: entry})


def load(path: Path) -> Calibration:
    """The stored calibration, or the nominal one when there is none (or it is unreadable)."""
    try:
        return Calibration.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        return Calibration()


def save(path: Path, calibration: Calibration) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(calibration.model_dump(mode="json"), indent=1), encoding="utf-8")
    tmp.replace(path)
