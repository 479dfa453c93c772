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


class PageNotFound(DeviceError):
    """No document page could be found in the document camera's photo."""

    code = "page_not_found"
    plain = "no page was found under the document camera"


class PageUnreadable(DeviceError):
    """A page was found but would not be readable (`problems`: blurred, low_contrast, no_text, too_dark)."""

    code = "page_unreadable"
    plain = "the page photo is not clear enough to read"

    def __init__(self, message: str | None = None, *, problems: tuple[str, ...] = (), **kw):
        self.problems = tuple(problems)
        super().__init__(message, **kw)
