"""Messages of the kiosk-side update machinery: request, progress, outcome, reason codes.

`fleet.protocol` owns the MQTT wire messages (`UpdateDesired`, `UpdateReported`); these
models are what the update library takes and gives back. `UpdateRequest.from_desired`
reads any object with the `UpdateDesired` fields, and `reported_fields` turns progress or
an outcome into the keyword arguments of `UpdateReported`, so the agent glues the two
without this package importing the protocol.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

from fleet.bundle.errors import ReasonCode, UpdateError

__all__ = ["ReasonCode", "UpdateError", "UpdateOutcome", "UpdateProgress", "UpdateRequest", "reported_fields", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UpdateRequest(BaseModel):
    """What the kiosk is asked to run: the agent builds it from the retained desired message."""

    version: str
    url: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")  # of the whole bundle file
    size: int | None = Field(default=None, ge=0)
    rollout_id: str = ""
    allow_downgrade: bool = False

    @classmethod
    def from_desired(cls, desired: Any) -> "UpdateRequest":
        """From a `fleet.protocol.UpdateDesired` (or anything with the same attributes)."""
        return cls(
            version=desired.version,
            url=desired.url,
            sha256=getattr(desired, "sha256", None) or None,
            size=getattr(desired, "size", None) or None,
            rollout_id=getattr(desired, "rollout_id", "") or "",
            allow_downgrade=bool(getattr(desired, "allow_downgrade", False)),
        )

    @property
    def attempt_key(self) -> str:
        """Identifies one attempt at one bundle: a new rollout of a failed bundle may retry."""
        return f"{self.rollout_id}:{self.sha256 or self.url}"


ProgressPhase = Literal[
    "downloading",
    "verifying",
    "installing",
    "switching",
    "restarting",
    "health_check",
    "committed",
    "rolling_back",
    "rolled_back",
    "refused",
    "deferred",
    "failed",
]


class UpdateProgress(BaseModel):
    """One progress report; `percent` only while downloading."""

    phase: ProgressPhase
    version: str
    rollout_id: str = ""
    percent: float | None = None
    bytes_done: int | None = None
    bytes_total: int | None = None
    reason: ReasonCode | None = None
    detail: str = ""
    at: datetime = Field(default_factory=utcnow)


OutcomeStatus = Literal["committed", "rolled_back", "refused", "deferred", "failed", "aborted", "noop"]


class UpdateOutcome(BaseModel):
    """How an apply() or resume() ended.

    committed   the new release runs and is healthy
    rolled_back the new release was not healthy; the previous one runs again
    refused     the bundle or request was rejected (nothing changed)
    deferred    not now (session active, outside the window); the download is kept
    failed      could not finish and nothing to roll back to (first install), or download failed
    aborted     resume() found an install interrupted before the switch and cleaned it up;
                the running release never changed and the request may be applied again
    noop        the requested version already runs
    """

    status: OutcomeStatus
    version: str
    rollout_id: str = ""
    current_version: str | None = None
    previous_version: str | None = None
    reason: ReasonCode | None = None
    detail: str = ""


# Mapping onto fleet.protocol.UpdateState values (strings, so no import is needed).
_PROTOCOL_STATE = {
    "downloading": "downloading",
    "verifying": "installing",
    "installing": "installing",
    "switching": "installing",
    "restarting": "pending_commit",
    "health_check": "pending_commit",
    "rolling_back": "pending_commit",
    "committed": "committed",
    "noop": "committed",
    "rolled_back": "rolled_back",
    "refused": "refused",
    "failed": "failed",
    "aborted": "idle",
    "deferred": "idle",
}


def reported_fields(item: UpdateProgress | UpdateOutcome, current_version: str | None = None) -> dict[str, str]:
    """Keyword arguments for `fleet.protocol.UpdateReported` (add kiosk_id yourself).

    The protocol message has no percent or reason field yet, so both go into `detail`
    as ``"<reason>: <detail>"`` / ``"42.0%"``.
    """
    phase = item.phase if isinstance(item, UpdateProgress) else item.status
    parts = []
    if isinstance(item, UpdateProgress) and item.percent is not None:
        parts.append(f"{item.percent:.1f}%")
    if item.reason is not None:
        parts.append(item.reason.value + (f": {item.detail}" if item.detail else ""))
    elif item.detail:
        parts.append(item.detail)
    current = current_version if current_version is not None else getattr(item, "current_version", None)
    return {
        "version": item.version,
        "state": _PROTOCOL_STATE[phase],
        "current_version": current or "",
        "rollout_id": item.rollout_id,
        "detail": "; ".join(parts),
    }
