"""The `FaceEngine` interface and what every implementation shares (the `Face` result, image preparation).

Its own module so that both implementations — `DlibEngine` in this process
(peripherals/face/engine.py) and `ProcessEngine` in a face process of its own
(peripherals/face/process_engine.py) — build on it without importing each other.
`peripherals.face.engine` re-exports `Face` and `FaceEngine`; callers keep importing them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from peripherals.camera.models import FaceBox

DETECT_MAX_WIDTH = 640  # larger images are downscaled before detection (speed); landmarks use full resolution


@dataclass(frozen=True)
class Face:
    """One detected face: its box and 68 iBUG landmarks, both in pixels of the image it came from."""

    box: FaceBox
    landmarks: np.ndarray = field(repr=False)  # (68, 2) float32, iBUG 300-W order
    confidence: float = 0.0


@runtime_checkable
class FaceEngine(Protocol):
    """What verification, quality and liveness need from a face engine."""

    name: str

    def detect(self, image: np.ndarray, *, upsample: int = 0, max_width: int | None = None) -> list[Face]:
        """Faces in a BGR (or grey) image, largest first, each with 68 landmarks (found on a copy
        at most `max_width` wide; a tracker passes a small width once it knows the face is big)."""
        ...

    def landmarks(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """68 landmarks of the face in `box` (tracking a face between frames without re-detecting)."""
        ...

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """A unit-free descriptor of `face`; compare two with `distance`."""
        ...

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Dissimilarity of two descriptors (0 = identical)."""
        ...


def to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def prepare(image: np.ndarray, max_width: int | None = None) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(RGB image, a copy at most `max_width` wide for the detector or None, its scale)."""
    rgb = to_rgb(image)
    width = rgb.shape[1]
    scale = min(1.0, (max_width or DETECT_MAX_WIDTH) / width) if width else 1.0
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1.0 else None
    return rgb, small, scale


def faces_from(found) -> list[Face]:
    """`Face`s, largest first, from (box, score, landmarks) tuples (peripherals.face.dlib_models)."""
    faces = [Face(box=FaceBox(x=b[0], y=b[1], w=b[2], h=b[3]), landmarks=points, confidence=score)
             for b, score, points in found]
    return sorted(faces, key=lambda f: f.box.area, reverse=True)


def box_tuple(box: FaceBox) -> tuple[int, int, int, int]:
    return int(box.x), int(box.y), int(box.w), int(box.h)


