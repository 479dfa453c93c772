"""The update state file: where an install stands, written atomically before each step.

Write = tmp file + fsync + rename + fsync of the directory, so after a power cut the file
is either the old or the new record, never a torn one. `resume()` reads it to finish or
undo whatever was in progress.
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from fleet.bundle.durable import atomic_write_bytes
from fleet.updates.models import ReasonCode, UpdateRequest, utcnow


class Phase(StrEnum):
    IDLE = "idle"
    DOWNLOADING = "downloading"
    VERIFIED = "verified"  # bundle checked and extracted into staging/<version>
    INSTALLING = "installing"  # releases/<version> being built
    INSTALLED = "installed"  # releases/<version>/INSTALLED written
    SWITCHING = "switching"  # from here on `current` may point at the new release
    RESTARTING = "restarting"
    HEALTH_CHECK = "health_check"
    COMMITTED = "committed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


PRE_SWITCH = {Phase.DOWNLOADING, Phase.VERIFIED, Phase.INSTALLING, Phase.INSTALLED}
POST_SWITCH = {Phase.SWITCHING, Phase.RESTARTING, Phase.HEALTH_CHECK}
SETTLED = {Phase.IDLE, Phase.COMMITTED, Phase.ROLLED_BACK, Phase.FAILED}


class UpdateRecord(BaseModel):
    phase: Phase = Phase.IDLE
    request: UpdateRequest | None = None
    version: str | None = None  # the release being installed
    previous_version: str | None = None  # what ran before the switch (the rollback target)
    manifest_sha256: str | None = None
    health_attempts: int = 0  # restarts into the new release so far (bounded across power cuts)
    reason: ReasonCode | None = None
    detail: str = ""
    failed_attempts: list[str] = Field(default_factory=list)  # UpdateRequest.attempt_key rolled back here
    started_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> UpdateRecord:
        """The saved record; a missing file is an idle kiosk."""
        try:
            return UpdateRecord.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return UpdateRecord()
        except ValidationError:
            # Cannot happen with atomic writes unless the disk lies; treat as unknown but
            # keep the bad file for people to look at. resume() then trusts `current`.
            os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            return UpdateRecord(detail="state file was unreadable")

    def save(self, record: UpdateRecord) -> UpdateRecord:
        record.updated_at = utcnow()
        atomic_write_bytes(self.path, record.model_dump_json(indent=1).encode())
        return record
