"""Shared face fixtures: real photos from tests/data/faces and scripted sequences built from them."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

FACES = Path(__file__).resolve().parent.parent / "data" / "faces"


def photo(person: str, n: int = 1):
    image = cv2.imread(str(FACES / person / f"{n}.jpg"))
    assert image is not None, f"missing test photo {person}/{n}"
    return image


@pytest.fixture(scope="session")
def citizen():
    """(neutral 640×480 frame, its landmarks) of a real photo whose sequences the tests replay."""
    from peripherals.camera.face_motion import portrait_frame

    return portrait_frame(photo("jackie_chan", 1))


def timed(frames, fps: float = 15.0):
    return ((i / fps, f) for i, f in enumerate(frames))
