"""Measures read off 68 iBUG landmarks: eye and mouth opening, head pose, non-rigid motion.

All measures are ratios of landmark distances, so they do not depend on how far the
citizen stands. Yaw and pitch proxies are signed: yaw > 0 when the nose moves towards
the right of the (unmirrored) camera image, which is the citizen turning to their LEFT.

`nonrigid_residual` is the core of presentation-attack detection: every landmark of a
flat photo, however it is moved or tilted, maps from one frame to the next by a single
homography. Fit that homography on the points that should stay put and measure how far
the moving group (nose for a head turn, eyelids for a blink, lips for an open mouth)
departs from it, in units of the inter-ocular distance. A real head is not flat: its
nose swings against its contour, its eyelids close while the rest stays.
"""

from __future__ import annotations

import cv2
import numpy as np

JAW = list(range(0, 17))
BROWS = list(range(17, 27))
NOSE = list(range(27, 36))
LEFT_EYE = list(range(36, 42))  # image left
RIGHT_EYE = list(range(42, 48))
EYES = LEFT_EYE + RIGHT_EYE
MOUTH = list(range(48, 68))
ALL = list(range(68))

# a generic head (mm), for solvePnP: nose tip, chin, eye outer corners, mouth corners
_MODEL_3D = np.array([(0.0, 0.0, 0.0), (0.0, -63.6, -12.5), (-43.3, 32.7, -26.0), (43.3, 32.7, -26.0),
                      (-28.9, -28.9, -24.1), (28.9, -28.9, -24.1)], dtype=np.float64)
_MODEL_IDX = [30, 8, 36, 45, 48, 54]


def _d(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def inter_ocular(p: np.ndarray) -> float:
    return max(_d(p[LEFT_EYE].mean(0), p[RIGHT_EYE].mean(0)), 1e-6)


def eye_aspect_ratio(p: np.ndarray) -> float:
    """Mean EAR of both eyes (Soukupová & Čech 2016): ≈0.3 open, <0.15 closed."""
    def one(e: np.ndarray) -> float:
        return (_d(e[1], e[5]) + _d(e[2], e[4])) / max(2.0 * _d(e[0], e[3]), 1e-6)
    return (one(p[LEFT_EYE]) + one(p[RIGHT_EYE])) / 2.0


def mouth_aspect_ratio(p: np.ndarray) -> float:
    """Inner-lip opening over mouth width: ≈0 closed, >0.4 wide open."""
    return (_d(p[61], p[67]) + _d(p[62], p[66]) + _d(p[63], p[65])) / max(3.0 * _d(p[60], p[64]), 1e-6)


def yaw_proxy(p: np.ndarray) -> float:
    """Where the nose tip sits between the two face contours: 0 frontal, ±0.5 strongly turned."""
    left, right = _d(p[30], p[2]), _d(p[30], p[14])
    return (left - right) / max(left + right, 1e-6)


def pitch_proxy(p: np.ndarray) -> float:
    """Nose tip height between the eye line and the mouth line (≈0.6 looking straight on)."""
    eyes = p[EYES].mean(0)
    mouth = (p[48] + p[54]) / 2.0
    return float((p[30][1] - eyes[1]) / max(mouth[1] - eyes[1], 1e-6))


def roll_degrees(p: np.ndarray) -> float:
    dx, dy = p[RIGHT_EYE].mean(0) - p[LEFT_EYE].mean(0)
    return float(np.degrees(np.arctan2(dy, dx)))


def head_pose(p: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a generic 3-D head and a pinhole camera of focal ≈ width."""
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rvec, _ = cv2.solvePnP(_MODEL_3D, p[_MODEL_IDX].astype(np.float64), camera, None, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return 0.0, 0.0, roll_degrees(p)
    rot, _ = cv2.Rodrigues(rvec)
    sy = np.hypot(rot[0, 0], rot[1, 0])
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    yaw = np.degrees(np.arctan2(-rot[2, 0], sy))
    pitch = (pitch + 180) % 360 - 180
    if pitch > 90:
        pitch -= 180
    elif pitch < -90:
        pitch += 180
    return float(yaw), float(pitch), roll_degrees(p)


def nonrigid_residual(base: np.ndarray, cur: np.ndarray, moving: list[int]) -> float:
    """RMS distance (in inter-ocular units) of the `moving` points from where one homography,
    fitted on all the other points, puts them. ≈0.01–0.03 for a flat photo (landmark noise)."""
    anchor = [i for i in ALL if i not in set(moving)]
    h, _ = cv2.findHomography(base[anchor].astype(np.float64), cur[anchor].astype(np.float64), 0)
    if h is None:
        return 0.0
    projected = cv2.perspectiveTransform(base[moving].reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
    err = np.sqrt(np.mean(np.sum((projected - cur[moving]) ** 2, axis=1)))
    return float(err / inter_ocular(cur))


def blink_nonrigidity(base: np.ndarray, cur: np.ndarray) -> float:
    """How much more closed the eyes are than the rest of the face explains: 1 − EAR(now) / EAR(base
    moved by the homography fitted on the non-eye points). 0 for any photo, ≈0.5 for a real blink."""
    anchor = [i for i in ALL if i not in set(EYES)]
    h, _ = cv2.findHomography(base[anchor].astype(np.float64), cur[anchor].astype(np.float64), 0)
    if h is None:
        return 0.0
    predicted = cv2.perspectiveTransform(base.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
    return float(1.0 - eye_aspect_ratio(cur) / max(eye_aspect_ratio(predicted), 1e-6))
