"""1:1 verification: is the face in the probe the person in the reference portrait?

The score is `1 - distance` of the two ResNet descriptors, clipped to 0..1, so higher
is more alike. `MATCH_THRESHOLD` was set by measurement on tests/data/faces (24 people,
88 photos; `python bench/face.py --eval` prints the table): at 0.50 no impostor pair of
3667 matched and 7.5 % of 161 genuine pairs were refused. A false accept lets someone
act under another person's name; a false reject costs a retry or a staff check, so the
operating point leans to FAR = 0. See docs/face.md.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from peripherals.face.engine import FaceEngine, get_engine, largest_face

MATCH_THRESHOLD = 0.50


class Verdict(BaseModel):
    """The decision and its evidence; carries no image and no template."""

    match: bool
    score: float
    threshold: float
    method: str  # engine name, e.g. "dlib-resnet-v1"


def score_of(distance: float) -> float:
    return float(min(1.0, max(0.0, 1.0 - distance)))


def template(image: np.ndarray, engine: FaceEngine | None = None) -> np.ndarray:
    """The descriptor of the largest face in `image` (NoFaceFound when there is none)."""
    engine = engine or get_engine()
    return engine.embed(image, largest_face(image, engine))


def compare_templates(a: np.ndarray, b: np.ndarray, *, threshold: float = MATCH_THRESHOLD,
                      engine: FaceEngine | None = None) -> Verdict:
    engine = engine or get_engine()
    score = score_of(engine.distance(a, b))
    return Verdict(match=score >= threshold, score=round(score, 4), threshold=threshold, method=engine.name)


def verify(reference: np.ndarray, probe: np.ndarray, *, threshold: float = MATCH_THRESHOLD,
           engine: FaceEngine | None = None) -> Verdict:
    """Compare the largest face of `probe` with that of `reference`; both images are left untouched."""
    engine = engine or get_engine()
    return compare_templates(template(reference, engine), template(probe, engine), threshold=threshold, engine=engine)
