"""Face sources for the camera simulator: a live citizen who follows the prompt, and attacks.

    simcam://camera?source=citizen:resident     a person who does what the screen asks
    simcam://camera?source=print:resident       a printed photo of them, tilted by hand
    simcam://camera?source=print-still:resident / print-moved:resident
    simcam://camera?source=phone:resident       their photo on a phone screen, moved
    simcam://camera?source=replay:resident      a phone replaying a recording of them doing
                                                turn-right, blink, nod (a fixed order)

The name after the colon is a photo in peripherals/camera/citizens/ (resident, hmt,
foreign: the simulated ID cards' holders, real photos, see SOURCES.md there) or a path to
any photo. The citizen hears the prompt through `prompt(action)` — the camera driver's
`show_prompt`, called by the flow when it shows a challenge — the way a person reacts to
the screen; the attacks ignore it. The neutral frame is built once per photo and cached; an action's clip is built when prompted
and dropped once played.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from peripherals.camera.errors import SceneUnavailable

CITIZENS = Path(__file__).resolve().parent / "citizens"
KINDS = ("citizen", "print", "print-still", "print-moved", "phone", "replay")
REPLAY_ORDER = ("turn-right", "blink", "nod")


def is_face_source(source: str) -> bool:
    return isinstance(source, str) and source.partition(":")[0] in KINDS and ":" in source


def _photo_path(name: str) -> Path:
    path = CITIZENS / f"{name}.jpg"
    if path.is_file():
        return path
    path = Path(name)
    if path.is_file():
        return path
    known = ", ".join(sorted(p.stem for p in CITIZENS.glob("*.jpg")))
    raise SceneUnavailable(f"no citizen photo {name!r}; builtin: {known}, or a path to a photo")


@lru_cache(maxsize=8)
def _neutral(name: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from peripherals.camera.face_motion import portrait_frame

    photo = cv2.imread(str(_photo_path(name)), cv2.IMREAD_COLOR)
    if photo is None:
        raise SceneUnavailable(f"cannot read citizen photo {name!r}")
    try:
        return portrait_frame(photo, size)
    except Exception as exc:  # no face in the photo, or no face engine installed
        raise SceneUnavailable(f"citizen photo {name!r} cannot be used: {exc}") from None


def _clip(name: str, size: tuple[int, int], action: str) -> tuple[np.ndarray, ...]:
    """Built each time it is asked for (≈ 18 warps): a cache of clips held 16 MiB per action at
    640×480 and filled up over sessions as the random challenges came round (docs/memory.md)."""
    from peripherals.camera.face_motion import action_clip

    base, landmarks = _neutral(name, size)
    return tuple(action_clip(base, landmarks, action))


@lru_cache(maxsize=8)
def _attack(kind: str, name: str, size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    from peripherals.camera import face_motion as fm

    base, landmarks = _neutral(name, size)
    if kind.startswith("print"):
        return tuple(fm.printed_photo(base, {"print": "tilted"}.get(kind, kind.partition("-")[2]), frames=90))
    if kind == "phone":
        return tuple(fm.phone_replay([base] * 90))
    return tuple(fm.phone_replay(fm.live_sequence(base, landmarks, REPLAY_ORDER)))


class LiveCitizen:
    """Neutral frames, and the frames of an action once prompted (out and back, then neutral);
    while the prompt stays on screen the citizen does it again after a pause, as people do."""

    REPEAT_AFTER = 8  # neutral frames (≈ 0.5 s) before doing the asked action again
    REACTION_S = 0.45  # from the prompt to the first movement (people take 0.3–1 s to read and start)

    def __init__(self, name: str, size: tuple[int, int]) -> None:
        self.name, self.size = name, size
        self.base, self.landmarks = _neutral(name, size)
        self._queue: deque[np.ndarray] = deque()
        self._lock = threading.Lock()
        self._asked: tuple[np.ndarray, ...] | None = None  # the clip of the prompt on screen now
        self._react_at = 0.0
        self.prompts: list[str] = []

    def prompt(self, action: str | None) -> None:
        if not action:  # the prompt is gone: the citizen looks at the camera again
            with self._lock:
                self._queue.clear()
                self._asked = None
            return
        from peripherals.face.liveness import Challenge

        Challenge(action)  # only the known actions
        shown_at = time.monotonic()  # the citizen starts reading now, however long the clip takes to build
        clip = _clip(self.name, self.size, action)
        with self._lock:
            self.prompts.append(action)
            self._asked = clip
            self._queue.clear()
            self._queue.extend(clip)
            self._react_at = shown_at + self.REACTION_S  # a moment to read the prompt

    def frame(self, index: int) -> np.ndarray:
        with self._lock:
            if time.monotonic() < self._react_at:
                return self.base
            if not self._queue and self._asked is not None:
                self._queue.extend([self.base] * self.REPEAT_AFTER + list(self._asked))
            return self._queue.popleft() if self._queue else self.base

    def close(self) -> None:
        pass


class Attack:
    """A looped attack sequence; prompts change nothing."""

    def __init__(self, kind: str, name: str, size: tuple[int, int]) -> None:
        self.frames = _attack(kind, name, size)
        self.prompts: list[str] = []

    def prompt(self, action: str | None) -> None:
        if action:
            self.prompts.append(action)

    def frame(self, index: int) -> np.ndarray:
        return self.frames[index % len(self.frames)]

    def close(self) -> None:
        pass


def open_face_source(source: str, size: tuple[int, int] | None) -> LiveCitizen | Attack:
    kind, _, name = source.partition(":")
    size = tuple(size) if size else (640, 480)
    if kind == "citizen":
        return LiveCitizen(name, size)
    return Attack(kind, name, size)
