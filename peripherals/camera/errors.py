"""Camera failures that are not plain device errors."""

from __future__ import annotations

from peripherals.errors import DeviceError


class PhotoNotPossible(DeviceError):
    """No licence photo can be cut from this frame (no face, or more than one).

    Not a device fault: the camera works, the picture does not fit. `reasons` holds
    `FaceIssue` codes so the screen can tell the citizen what to change.
    """

    code = "photo_not_possible"
    plain = "a photo could not be taken; please look straight at the camera"

    def __init__(self, message: str | None = None, *, reasons: list[str] | None = None, **kw):
        self.reasons = list(reasons or [])
        super().__init__(message, **kw)


class SceneUnavailable(RuntimeError):
    """A simulator source cannot be loaded: missing file, unknown scene, or scikit-image not installed.

    scikit-image is a development dependency; only the builtin face scenes need it.
    """
