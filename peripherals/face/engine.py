"""The face engine: one interface, one implementation on dlib, loaded once and lazily.

Why dlib (measured, see docs/face.md): `dlib-bin` is a prebuilt wheel and
`face-recognition-models` ships the published model files (HOG frontal detector built
into dlib, the 68-point iBUG shape predictor, the ResNet-29 128-d face descriptor that
scores 99.38 % on LFW). Nothing is downloaded at run time. At 640×480 on one core:
detect ≈ 22 ms, 68 landmarks ≈ 2 ms, embedding ≈ 85 ms; the models add ≈ 125 MiB RSS.
OpenCV's YuNet/SFace would be lighter but no registry package ships their .onnx files.

A vendor SDK replaces this by implementing `FaceEngine` and calling `set_engine()`.
Images and embeddings pass through; nothing here stores, logs or writes them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from peripherals.camera.models import FaceBox
from peripherals.face.errors import FaceEngineUnavailable, NoFaceFound

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


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class DlibEngine:
    """HOG detector + 68-point shape predictor + ResNet descriptor from face-recognition-models."""

    name = "dlib-resnet-v1"

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models as models
        except ImportError as exc:
            raise FaceEngineUnavailable(
                f"the face engine needs dlib-bin and face-recognition-models ({exc.name} is missing)", kind="camera"
            ) from None
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(models.pose_predictor_model_location())
        self._descriptor = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self._lock = threading.Lock()  # dlib's objects are not documented thread-safe

    def _rect(self, box: FaceBox):
        return self._dlib.rectangle(int(box.x), int(box.y), int(box.x + box.w), int(box.y + box.h))

    def _points(self, shape) -> np.ndarray:
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def detect(self, image: np.ndarray, *, upsample: int = 0, max_width: int | None = None) -> list[Face]:
        rgb = _to_rgb(image)
        height, width = rgb.shape[:2]
        scale = min(1.0, (max_width or DETECT_MAX_WIDTH) / width) if width else 1.0
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1.0 else rgb
        with self._lock:
            rects, scores, _ = self._detector.run(small, upsample, 0.0)
            faces = []
            for rect, score in zip(rects, scores):
                box = FaceBox(x=round(rect.left() / scale), y=round(rect.top() / scale),
                              w=round(rect.width() / scale), h=round(rect.height() / scale))
                shape = self._shape(rgb, self._rect(box))
                faces.append(Face(box=box, landmarks=self._points(shape), confidence=float(score)))
        return sorted(faces, key=lambda f: f.box.area, reverse=True)

    def landmarks(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        rgb = _to_rgb(image)
        with self._lock:
            return self._points(self._shape(rgb, self._rect(box)))

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        rgb = _to_rgb(image)
        with self._lock:
            shape = self._shape(rgb, self._rect(face.box))  # descriptor is aligned on this shape (68 points)
            return np.asarray(self._descriptor.compute_face_descriptor(rgb, shape), dtype=np.float32)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


_engine: FaceEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> FaceEngine:
    """The process's engine, built on first use (the models load once: ≈1 s, ≈125 MiB)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = DlibEngine()
    return _engine


def set_engine(engine: FaceEngine | None) -> None:
    """Install another engine (a vendor SDK); None drops the current one so the next use reloads."""
    global _engine
    if engine is not None and not isinstance(engine, FaceEngine):
        raise TypeError("a face engine needs detect, landmarks, embed and distance")
    _engine = engine


def engine_loaded() -> bool:
    return _engine is not None


def largest_face(image: np.ndarray, engine: FaceEngine | None = None) -> Face:
    """The largest face in `image`, searching harder (upsampled) when a quick pass finds none."""
    engine = engine or get_engine()
    faces = engine.detect(image)
    if not faces and min(image.shape[:2]) < 1200:
        faces = engine.detect(image, upsample=1)
    if not faces:
        raise NoFaceFound(kind="camera")
    return faces[0]
