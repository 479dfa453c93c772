"""Face detection and the quality gate a frame must pass before a photo is taken.

Detection uses the Viola–Jones frontal-face Haar cascade that ships inside
opencv-python (`cv2.data.haarcascades`), so nothing is downloaded and no model file is
kept in this repository. Frames are downscaled to `detect_width` and histogram-equalised
before detection: that keeps it fast (≈20 ms for 640×480 on one core) and lets it find a
badly lit face, whose darkness the gate then reports as `too_dark` instead of `no_face`.

This is a quality gate, not a liveness check: a printed photo held up to the camera
passes it. Liveness is out of scope (see docs/devices/camera.md).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from peripherals.camera.models import ISSUE_MESSAGES, FaceBox, FaceCheck, FaceCheckConfig, FaceIssue

CASCADE_FILE = "haarcascade_frontalface_default.xml"
MIN_DETECT_PX = 30  # smallest face searched for, in pixels of the downscaled frame (the cascade is 24×24)
PASSED_MESSAGE = "Your face is well placed. Hold still."

_cascade: cv2.CascadeClassifier | None = None
_cascade_lock = threading.Lock()  # one classifier shared by threads; detectMultiScale is not documented thread-safe


def _classifier() -> cv2.CascadeClassifier:
    global _cascade
    if _cascade is None:
        path = cv2.data.haarcascades + CASCADE_FILE
        classifier = cv2.CascadeClassifier(path)
        if classifier.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}; is opencv-python 4.x installed?")
        _cascade = classifier
    return _cascade


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def detect_faces(
    frame: np.ndarray, *, detect_width: int = 480, min_neighbors: int = 6, min_relative_strength: float = 0.35
) -> list[FaceBox]:
    """Frontal faces in `frame` (BGR or grey), in frame pixels, largest first.

    A real face collects dozens of overlapping Haar hits ("neighbours"); the cascade's
    false alarms on clothes or background collect a handful. A detection is kept when it
    has at least `min_neighbors` and at least `min_relative_strength` of the strongest
    one's, so a patterned shirt is not counted as a second person.
    """
    gray = to_gray(frame)
    height, width = gray.shape[:2]
    scale = min(1.0, detect_width / width) if width else 1.0
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
    small = cv2.equalizeHist(small)
    with _cascade_lock:
        found, neighbours = _classifier().detectMultiScale2(
            small, scaleFactor=1.1, minNeighbors=3, minSize=(MIN_DETECT_PX, MIN_DETECT_PX)
        )
    if not len(found):
        return []
    floor = max(min_neighbors, min_relative_strength * max(int(n) for n in neighbours))
    boxes = [
        FaceBox(x=round(x / scale), y=round(y / scale), w=round(w / scale), h=round(h / scale))
        for (x, y, w, h), n in zip(found, neighbours)
        if n >= floor
    ]
    return sorted(boxes, key=lambda b: b.area, reverse=True)


def _clip(box: FaceBox, width: int, height: int) -> FaceBox:
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(width, box.x + box.w), min(height, box.y + box.h)
    return FaceBox(x=x0, y=y0, w=max(1, x1 - x0), h=max(1, y1 - y0))


def brightness(gray: np.ndarray) -> float:
    """Mean grey level, 0–255."""
    return float(gray.mean()) if gray.size else 0.0


def sharpness(gray_face: np.ndarray, face_px: int = 128) -> float:
    """Variance of the Laplacian of the face, resized to `face_px` wide and contrast-stretched.

    Resizing makes the figure independent of camera resolution and distance; stretching
    the 1st–99th percentile to 0–255 makes it independent of exposure, so a dark but
    sharp face is reported as dark, not as blurred.
    """
    if gray_face.size == 0:
        return 0.0
    h, w = gray_face.shape[:2]
    size = (face_px, max(1, round(h * face_px / w)))
    face = cv2.resize(gray_face, size, interpolation=cv2.INTER_AREA if w > face_px else cv2.INTER_LINEAR)
    lo, hi = np.percentile(face, (1, 99))
    stretched = np.clip((face.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1.0)), 0, 255)
    return float(cv2.Laplacian(stretched.astype(np.float32), cv2.CV_32F).var())


def check_face(frame: np.ndarray, config: FaceCheckConfig | None = None) -> FaceCheck:
    """Judge whether `frame` shows exactly one usable face; reasons use stable `FaceIssue` codes."""
    config = config or FaceCheckConfig()
    gray = to_gray(frame)
    height, width = gray.shape[:2]
    faces = detect_faces(
        gray,
        detect_width=config.detect_width,
        min_neighbors=config.min_neighbors,
        min_relative_strength=config.min_relative_strength,
    )
    base = {"faces_found": len(faces), "frame_width": width, "frame_height": height}
    if len(faces) != 1:
        issue = FaceIssue.NO_FACE if not faces else FaceIssue.SEVERAL_FACES
        return FaceCheck(passed=False, reasons=[issue], brightness=brightness(gray), message=ISSUE_MESSAGES[issue], **base)

    face = _clip(faces[0], width, height)
    roi = gray[face.y : face.y + face.h, face.x : face.x + face.w]
    level = brightness(roi)
    sharp = sharpness(roi, config.sharpness_face_px)
    reasons: list[FaceIssue] = []
    fraction = face.w / width
    if fraction < config.min_face_fraction:
        reasons.append(FaceIssue.FACE_TOO_SMALL)
    elif fraction > config.max_face_fraction:
        reasons.append(FaceIssue.FACE_TOO_LARGE)
    if (
        abs(face.cx / width - config.target_x) > config.max_offset_x
        or abs(face.cy / height - config.target_y) > config.max_offset_y
    ):
        reasons.append(FaceIssue.NOT_CENTRED)
    if level < config.min_brightness:
        reasons.append(FaceIssue.TOO_DARK)
    elif level > config.max_brightness:
        reasons.append(FaceIssue.TOO_BRIGHT)
    if sharp < config.min_sharpness:
        reasons.append(FaceIssue.BLURRED)
    return FaceCheck(
        passed=not reasons,
        reasons=reasons,
        face=face,
        brightness=round(level, 1),
        sharpness=round(sharp, 1),
        message=ISSUE_MESSAGES[reasons[0]] if reasons else PASSED_MESSAGE,
        **base,
    )
