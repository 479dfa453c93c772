"""The full quality gate: the camera's gate (one face, size, centred, exposure, sharpness)
plus what needs landmarks — head pose (yaw, pitch, roll), eyes open, nose and mouth uncovered.

Limits follow ISO/IEC 19794-5 / ICAO 9303 practice for a frontal portrait (±20° yaw and
pitch... relaxed slightly for a kiosk: the camera sits above the screen) and GA/T 1212's
"正面免冠" capture. A covered lower face is found by colour: the chroma of the skin between
nose and chin compared with that between the eyes (a surgical mask is blue, white or black;
skin is not). It is a heuristic, measured on the labelled photos (no false alarm on
tests/data/faces) and on masks painted over them; see docs/face.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from peripherals.camera.face import check_face
from peripherals.camera.models import ISSUE_MESSAGES, FaceCheck, FaceCheckConfig, FaceIssue
from peripherals.face import geometry as g
from peripherals.face.engine import FaceEngine, get_engine

MAX_YAW = 25.0
MAX_PITCH = 25.0
MAX_ROLL = 15.0
MIN_EAR = 0.15
MAX_COVER_CHROMA = 22.0  # Lab a*b* distance between lower face and cheeks above which the face counts as covered


def _region_ab(lab: np.ndarray, polygon: np.ndarray) -> np.ndarray | None:
    mask = np.zeros(lab.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 255)
    if cv2.countNonZero(mask) < 30:
        return None
    return np.array(cv2.mean(lab, mask=mask)[1:3])


def lower_face_covered(frame: np.ndarray, p: np.ndarray) -> float:
    """Chroma distance (Lab a*, b*) between the lower face (nose tip to chin) and the skin between the eyes."""
    lab = cv2.cvtColor(frame, cv2.COLOR_BGR2LAB).astype(np.float32)
    lower = _region_ab(lab, np.vstack([p[[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]], p[[35, 33, 31]]]))
    # the skin between the eyes and brows: a mask reaches the nose bridge, never above it
    glabella = _region_ab(lab, p[[21, 22, 42, 27, 39]])
    if lower is None or glabella is None:
        return 0.0
    return float(np.linalg.norm(lower - glabella))


def pose_issues(frame: np.ndarray, p: np.ndarray) -> list[FaceIssue]:
    height, width = frame.shape[:2]
    yaw, pitch, roll = g.head_pose(p, width, height)
    issues = []
    if lower_face_covered(frame, p) > MAX_COVER_CHROMA:  # first: a mask also throws the pose off
        issues.append(FaceIssue.FACE_COVERED)
    if abs(yaw) > MAX_YAW or abs(pitch) > MAX_PITCH:
        issues.append(FaceIssue.NOT_FACING)
    if abs(roll) > MAX_ROLL:
        issues.append(FaceIssue.HEAD_TILTED)
    if g.eye_aspect_ratio(p) < MIN_EAR:
        issues.append(FaceIssue.EYES_CLOSED)
    return issues


def check_quality(frame: np.ndarray, config: FaceCheckConfig | None = None, engine: FaceEngine | None = None) -> FaceCheck:
    """`check_face` and, when that passes, the landmark checks; one `FaceCheck` with every reason."""
    return check_with_landmarks(frame, config, engine)[0]


def check_with_landmarks(frame: np.ndarray, config: FaceCheckConfig | None = None,
                         engine: FaceEngine | None = None) -> tuple[FaceCheck, np.ndarray | None]:
    """`check_quality` and the 68 landmarks it judged (None when the camera's gate failed first
    or no landmarks could be placed) — for the staff's camera self-test, which draws them."""
    check = check_face(frame, config)
    if not check.passed or check.face is None:
        return check, None
    engine = engine or get_engine()
    faces = engine.detect(frame)
    if not faces:  # the Haar cascade saw a face the landmark detector cannot place: not frontal enough
        issues, landmarks = [FaceIssue.NOT_FACING], None
    else:
        landmarks = faces[0].landmarks
        issues = pose_issues(frame, landmarks)
    if not issues:
        return check, landmarks
    return check.model_copy(update={"passed": False, "reasons": issues, "message": ISSUE_MESSAGES[issues[0]]}), landmarks
