"""dlib's three face models on RGB arrays, without OpenCV or pydantic (the face process imports only this).

Why a module of its own: the face engine can run in a process of its own
(peripherals/face/process_engine.py, docs/memory.md), and that process should hold the
models and nothing else — numpy + dlib + the models, no OpenCV (≈ 35–50 MiB) and no
pkg_resources (`face_recognition_models` imports it only to name its files, which are
found here without importing the package). Callers pass RGB uint8 images; colour
conversion and downscaling happen on the caller's side.
"""

from __future__ import annotations

import importlib.util
import os
import threading

import numpy as np

from peripherals.face.errors import FaceEngineUnavailable

SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
Box = tuple[int, int, int, int]  # x, y, w, h in pixels


def model_path(filename: str) -> str:
    """A file of the face-recognition-models package (found without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceEngineUnavailable("the face engine needs face-recognition-models (it is missing)", kind="camera")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", filename)
    if not os.path.isfile(path):
        raise FaceEngineUnavailable(f"face-recognition-models has no {filename}", kind="camera")
    return path


class DlibModels:
    """HOG detector + 68-point shape predictor + ResNet descriptor; one lock (dlib objects are not documented thread-safe)."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise FaceEngineUnavailable("the face engine needs dlib-bin (it is missing)", kind="camera") from None
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(model_path(SHAPE_68))
        self._descriptor = dlib.face_recognition_model_v1(model_path(RESNET))
        self._lock = threading.Lock()

    def _rect(self, box: Box):
        x, y, w, h = (int(v) for v in box)
        return self._dlib.rectangle(x, y, x + w, y + h)

    @staticmethod
    def _points(shape) -> np.ndarray:
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def detect(self, rgb: np.ndarray, small: np.ndarray | None = None, scale: float = 1.0,
               upsample: int = 0) -> list[tuple[Box, float, np.ndarray]]:
        """Faces found in `small` (`rgb` scaled by `scale`, or `rgb` itself): (box in `rgb` pixels, score, 68 landmarks)."""
        search = rgb if small is None else small
        with self._lock:
            rects, scores, _ = self._detector.run(search, upsample, 0.0)
            found = []
            for rect, score in zip(rects, scores):
                box = (round(rect.left() / scale), round(rect.top() / scale),
                       round(rect.width() / scale), round(rect.height() / scale))
                found.append((box, float(score), self._points(self._shape(rgb, self._rect(box)))))
        return found

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        with self._lock:
            return self._points(self._shape(rgb, self._rect(box)))

    def embed(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        with self._lock:
            shape = self._shape(rgb, self._rect(box))  # the descriptor is aligned on this shape (68 points)
            return np.asarray(self._descriptor.compute_face_descriptor(rgb, shape), dtype=np.float32)
