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

import os
import threading

import numpy as np

from peripherals.camera.models import FaceBox
from peripherals.face.errors import NoFaceFound
from peripherals.face.interface import DETECT_MAX_WIDTH, Face, FaceEngine, box_tuple, faces_from, prepare, to_rgb
from peripherals.face.process_engine import ProcessEngine

__all__ = ["DETECT_MAX_WIDTH", "DlibEngine", "Face", "FaceEngine", "ProcessEngine", "engine_loaded", "get_engine",
           "largest_face", "set_engine"]

class DlibEngine:
    """HOG detector + 68-point shape predictor + ResNet descriptor from face-recognition-models, in this process."""

    name = "dlib-resnet-v1"

    def __init__(self) -> None:
        from peripherals.face.dlib_models import DlibModels

        self._models = DlibModels()

    def detect(self, image: np.ndarray, *, upsample: int = 0, max_width: int | None = None) -> list[Face]:
        rgb, small, scale = prepare(image, max_width)
        return faces_from(self._models.detect(rgb, small, scale, upsample))

    def landmarks(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        return self._models.landmarks(to_rgb(image), box_tuple(box))

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        return self._models.embed(to_rgb(image), box_tuple(face.box))

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


_engine: FaceEngine | None = None
_engine_lock = threading.Lock()


ENGINE_ENV = "KIOSK_FACE_ENGINE"  # "process": the models in a face process of their own (`kiosk run`'s default)


def get_engine() -> FaceEngine:
    """The process's engine, built on first use (the models load once: ≈1 s, ≈125 MiB) — in this
    process, or with KIOSK_FACE_ENGINE=process in a child process of its own (docs/memory.md)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                if os.environ.get(ENGINE_ENV) == "process":
                    _engine = ProcessEngine()
                else:
                    _engine = DlibEngine()
    return _engine


def set_engine(engine: FaceEngine | None) -> None:
    """Install another engine (a vendor SDK); None drops the current one so the next use reloads."""
    global _engine
    if engine is not None and not isinstance(engine, FaceEngine):
        raise TypeError("a face engine needs detect, landmarks, embed and distance")
    old, _engine = _engine, engine
    if old is not None and old is not engine and hasattr(old, "close"):
        old.close()  # a face process ends with its engine


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
