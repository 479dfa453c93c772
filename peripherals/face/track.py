"""Landmarks frame by frame: detect, and follow the last box for a moment when detection misses.

The HOG detector loses a face turned well past 30°; the shape predictor still places
its landmarks inside the previous box, which is what a head-turn challenge needs.
"""

from __future__ import annotations

import numpy as np

from peripherals.camera.models import FaceBox
from peripherals.face.engine import FaceEngine, get_engine


class FaceTracker:
    def __init__(self, engine: FaceEngine | None = None, *, follow_frames: int = 8, min_face_px: int = 60):
        self.engine = engine or get_engine()
        self.follow_frames = follow_frames
        self.min_face_px = min_face_px
        self._box: FaceBox | None = None
        self._missed = 0

    def reset(self) -> None:
        self._box, self._missed = None, 0

    def update(self, frame: np.ndarray) -> tuple[np.ndarray | None, int, FaceBox | None]:
        """(landmarks of the main face or None, faces seen, its box)."""
        # HOG finds faces of 80 px and up: once the face is over twice that, half the width
        # finds it too, four times faster
        small = self._box is not None and self._box.w * 320 / frame.shape[1] >= 100
        faces = self.engine.detect(frame, max_width=320) if small else []
        if not faces:
            faces = self.engine.detect(frame)
        faces = [f for f in faces if f.box.w >= self.min_face_px]
        if faces:
            self._box, self._missed = faces[0].box, 0
            return faces[0].landmarks, len(faces), faces[0].box
        if self._box is not None and self._missed < self.follow_frames:
            self._missed += 1
            points = self.engine.landmarks(frame, self._box)
            x0, y0 = points.min(0)
            x1, y1 = points.max(0)
            self._box = FaceBox(x=int(x0), y=int(y0) - int((y1 - y0) * 0.15), w=int(x1 - x0), h=int((y1 - y0) * 1.15))
            return points, 1, self._box
        self._box = None
        return None, 0, None
