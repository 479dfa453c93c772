"""Scripted camera sequences built from one real photo: a live citizen, and attacks on liveness.

A live citizen is made by moving the photo's own 68 landmarks the way a head moves —
the nose swings against the face contour for a turn, the eyelids meet for a blink, the
lower lip and chin drop for an open mouth — and warping the photo piecewise-affinely
(one affine map per Delaunay triangle of the landmarks) onto the moved points. That is
non-rigid, like a real face. The attacks are the same photo printed on paper or shown on
a phone, moved and tilted by hand: one homography per frame, i.e. rigid.

Frames are built once per photo and cached; nothing here writes an image anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from peripherals.face import geometry as g
from peripherals.face.engine import get_engine, largest_face

SIZE = (640, 480)
ACTION_FRAMES = 9  # frames per action: out and back


def portrait_frame(photo: np.ndarray, size: tuple[int, int] = SIZE, face_fraction: float = 0.24) -> tuple[np.ndarray, np.ndarray]:
    """The photo scaled and shifted so its face is ≈24 % of the frame width (a citizen at arm's length, the
    whole head in view for the licence photo), centred a little above the middle."""
    face = largest_face(photo)
    scale = face_fraction * size[0] / face.box.w
    cx, cy = face.box.cx * scale, face.box.cy * scale
    m = np.float32([[scale, 0, size[0] * 0.5 - cx], [0, scale, size[1] * 0.42 - cy]])
    frame = cv2.warpAffine(photo, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    points = get_engine().detect(frame)
    landmarks = points[0].landmarks if points else cv2.transform(face.landmarks.reshape(-1, 1, 2), m).reshape(-1, 2)
    return frame, landmarks.astype(np.float32)


def _frame_points(width: int, height: int) -> np.ndarray:
    xs, ys = np.linspace(0, width - 1, 5), np.linspace(0, height - 1, 4)
    edge = [(x, 0) for x in xs] + [(x, height - 1) for x in xs] + [(0, y) for y in ys[1:-1]] + [(width - 1, y) for y in ys[1:-1]]
    return np.array(edge, dtype=np.float32)


def _ring(landmarks: np.ndarray, factor: float = 1.6, n: int = 12) -> np.ndarray:
    """Fixed points on an ellipse around the face, so the warp stays local to the head."""
    centre = landmarks.mean(0)
    rx, ry = (landmarks[:, 0].max() - landmarks[:, 0].min()) * factor / 2, (landmarks[:, 1].max() - landmarks[:, 1].min()) * factor / 2
    return np.array([(centre[0] + rx * math.cos(a), centre[1] + ry * 1.1 * math.sin(a) - ry * 0.2)
                     for a in np.linspace(0, 2 * math.pi, n, endpoint=False)], dtype=np.float32)


def warp_piecewise(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Warp `image` so that points `src` land on `dst`, one affine per Delaunay triangle of `src`."""
    height, width = image.shape[:2]
    rect = (0, 0, width, height)
    subdiv = cv2.Subdiv2D(rect)
    clipped = np.clip(src, 0, [width - 1, height - 1])
    index = {}
    for i, (x, y) in enumerate(clipped):
        key = (round(float(x), 1), round(float(y), 1))
        if key not in index:
            index[key] = i
            subdiv.insert((float(x), float(y)))
    out = image.copy()
    for tri in subdiv.getTriangleList():
        pts = tri.reshape(3, 2)
        if (pts < 0).any() or (pts[:, 0] >= width).any() or (pts[:, 1] >= height).any():
            continue
        ids = [index.get((round(float(x), 1), round(float(y), 1))) for x, y in pts]
        if None in ids:
            continue
        s, d = src[ids].astype(np.float32), dst[ids].astype(np.float32)
        if np.allclose(s, d, atol=0.05):
            continue
        x, y, w, h = cv2.boundingRect(d)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, d - np.float32([x0, y0]))
        patch = cv2.warpAffine(image, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(d - np.float32([x0, y0])).astype(np.int32), 255, lineType=cv2.LINE_AA)
        region = out[y0:y1, x0:x1]
        alpha = (mask.astype(np.float32) / 255.0)[..., None]
        region[:] = (patch * alpha + region * (1 - alpha)).astype(np.uint8)
    return out


def moved_landmarks(p: np.ndarray, action: str, s: float) -> np.ndarray:
    """Landmarks of the face `p` doing `action` to extent `s` (0 neutral … 1 full)."""
    q = p.copy()
    w = float(p[16, 0] - p[0, 0])
    h = float(p[8, 1] - p[27, 1])
    if action in ("turn-left", "turn-right"):
        sign = 1.0 if action == "turn-left" else -1.0  # citizen's left = image right (unmirrored)
        centre_x = (p[0, 0] + p[16, 0]) / 2
        depth = np.zeros(68, np.float32)  # how far each point stands out of the face plane, 0..1
        depth[g.NOSE] = [0.35, 0.5, 0.7, 1.0, 0.6, 0.7, 0.8, 0.7, 0.6]
        depth[g.MOUTH] = 0.35
        depth[g.EYES] = 0.15
        depth[g.BROWS] = 0.2
        depth[8] = 0.3
        q[:, 0] += sign * s * 0.30 * w * depth
        # the far-side contour compresses, the near side comes round
        side = (p[:, 0] - centre_x) / (w / 2)
        q[g.JAW, 0] += sign * s * 0.06 * w * (1 - sign * side[g.JAW])
    elif action == "nod":
        depth = np.zeros(68, np.float32)
        depth[g.NOSE] = [0.3, 0.45, 0.65, 1.0, 0.6, 0.7, 0.8, 0.7, 0.6]
        depth[g.MOUTH] = 0.3
        depth[g.BROWS] = -0.25
        depth[g.EYES] = 0.05
        q[:, 1] += s * 0.16 * h * depth
        q[g.JAW[4:13], 1] -= s * 0.05 * h
    elif action == "blink":
        for upper, lower in (((37, 41), (38, 40)), ((43, 47), (44, 46))):
            for u, l in (upper, lower):
                target = p[l] + (p[u] - p[l]) * 0.12
                q[u] = p[u] + (target - p[u]) * s
    elif action == "open-mouth":
        drop = s * 0.22 * h
        for i in (55, 56, 57, 58, 59, 64, 65, 66, 67, 60):
            q[i, 1] += drop * (1.0 if i in (56, 57, 58, 65, 66, 67) else 0.55)
        q[g.JAW[3:14], 1] += drop * np.array([0.1, 0.3, 0.55, 0.8, 0.95, 1.0, 0.95, 0.8, 0.55, 0.3, 0.1], np.float32)
    return q


def _paint_open_mouth(frame: np.ndarray, q: np.ndarray, s: float) -> None:
    if s <= 0.15:
        return
    inner = np.round(q[60:68]).astype(np.int32)
    cv2.fillPoly(frame, [inner], (30, 20, 45), lineType=cv2.LINE_AA)


def _paint_closed_eyes(frame: np.ndarray, p: np.ndarray, s: float) -> None:
    """Cover what is left of each eye with eyelid skin (inpainted) and a lash line along the lower lid."""
    if s < 0.6:
        return
    mask = np.zeros(frame.shape[:2], np.uint8)
    for eye in (g.LEFT_EYE, g.RIGHT_EYE):
        cv2.fillPoly(mask, [np.round(p[eye]).astype(np.int32)], 255)
    iod = g.inter_ocular(p)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(3, int(iod * 0.08)),) * 2))
    frame[:] = cv2.inpaint(frame, mask, max(3, int(iod * 0.06)), cv2.INPAINT_TELEA)
    for eye in (g.LEFT_EYE, g.RIGHT_EYE):
        e = p[eye]  # corners 0 and 3; upper lid 1, 2; lower lid 5, 4
        lid = np.array([e[0], (e[1] + e[5] * 2) / 3, (e[2] + e[4] * 2) / 3, e[3]])  # where the closed lids meet
        cv2.polylines(frame, [np.round(lid).astype(np.int32)], False, (35, 40, 55), max(2, int(iod * 0.04)),
                      lineType=cv2.LINE_AA)


def action_frame(base: np.ndarray, landmarks: np.ndarray, action: str, s: float) -> np.ndarray:
    height, width = base.shape[:2]
    fixed = np.vstack([_frame_points(width, height), _ring(landmarks)])
    q = moved_landmarks(landmarks, action, s)
    frame = warp_piecewise(base, np.vstack([landmarks, fixed]), np.vstack([q, fixed]))
    if action == "open-mouth":
        _paint_open_mouth(frame, q, s)
    elif action == "blink":
        _paint_closed_eyes(frame, landmarks, s)
    return frame


def action_clip(base: np.ndarray, landmarks: np.ndarray, action: str, frames: int = ACTION_FRAMES) -> list[np.ndarray]:
    """One action out and back: extent rises to 1, holds, and returns to 0."""
    half = max(2, frames // 2)
    profile = [math.sin(math.pi / 2 * (i / half)) for i in range(1, half + 1)]
    extents = profile + [1.0] + profile[::-1][1:] + [0.0]
    return [action_frame(base, landmarks, action, s) for s in extents]


# -- attacks: one homography per frame ----------------------------------------------------------

def _homography(size: tuple[int, int], t: float, kind: str) -> np.ndarray:
    w, h = size
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    if kind == "still":
        return np.eye(3)
    shift = np.float32([40 * math.sin(t * 1.3), 25 * math.sin(t * 0.9)]) if kind in ("moved", "tilted") else np.zeros(2, np.float32)
    rot = math.radians(12 * math.sin(t * 1.1)) if kind in ("moved", "tilted") else 0.0
    scale = 1.0 + 0.08 * math.sin(t * 0.7)
    c = np.float32([w / 2, h / 2])
    r = np.float32([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    moved = (corners - c) @ r.T * scale + c + shift
    if kind == "tilted":  # swing the sheet about its vertical and horizontal axes (perspective)
        yaw, pitch = 0.22 * math.sin(t * 1.2), 0.15 * math.sin(t * 0.8 + 1)
        moved[[0, 3], 1] += np.float32([-1, 1]) * yaw * h * 0.5
        moved[[1, 2], 1] -= np.float32([-1, 1]) * yaw * h * 0.5
        moved[[0, 1], 0] += np.float32([-1, 1]) * pitch * w * 0.3
        moved[[3, 2], 0] -= np.float32([-1, 1]) * pitch * w * 0.3
    return cv2.getPerspectiveTransform(corners, moved.astype(np.float32))


def printed_photo(base: np.ndarray, kind: str = "tilted", frames: int = 60, fps: float = 15.0) -> list[np.ndarray]:
    """A print of `base` held up to the camera: still, moved (shifted and rotated), or tilted in 3-D."""
    h, w = base.shape[:2]
    paper = cv2.addWeighted(base, 0.85, np.full_like(base, 235), 0.15, 0)  # ink on paper: lower contrast
    paper = cv2.copyMakeBorder(paper[12:-12, 16:-16], 12, 12, 16, 16, cv2.BORDER_CONSTANT, value=(238, 238, 235))
    wall = np.full_like(base, (120, 128, 134))
    out = []
    for i in range(frames):
        m = _homography((w, h), i / fps, kind)
        sheet = cv2.warpPerspective(paper, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (w, h))
        out.append(np.where(mask[..., None] > 0, sheet, wall))
    return out


def _on_phone(image: np.ndarray) -> np.ndarray:
    """`image` as seen on a phone screen held near the camera: bezel, backlight, faint moiré."""
    h, w = image.shape[:2]
    screen = cv2.resize(image, (int(w * 0.8), int(h * 0.8)), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0 : screen.shape[0], 0 : screen.shape[1]]
    moire = (6 * np.sin((xx + yy * 0.3) * 0.9)).astype(np.int16)[..., None]
    screen = np.clip(screen.astype(np.int16) * 1.05 + 12 + moire, 0, 255).astype(np.uint8)
    phone = np.full((h, w, 3), (25, 25, 28), np.uint8)
    y0, x0 = (h - screen.shape[0]) // 2, (w - screen.shape[1]) // 2
    phone[y0 : y0 + screen.shape[0], x0 : x0 + screen.shape[1]] = screen
    return phone


def phone_replay(clip: Sequence[np.ndarray], fps: float = 15.0) -> list[np.ndarray]:
    """Frames of `clip` (a still photo repeated, or a recorded sequence) shown on a phone, moved by hand."""
    h, w = clip[0].shape[:2]
    wall = np.full((h, w, 3), (120, 128, 134), np.uint8)
    out = []
    for i, frame in enumerate(clip):
        m = _homography((w, h), i / fps, "moved")
        shown = cv2.warpPerspective(_on_phone(frame), m, (w, h))
        mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (w, h))
        out.append(np.where(mask[..., None] > 0, shown, wall))
    return out


def live_sequence(base: np.ndarray, landmarks: np.ndarray, actions: Sequence[str], *, neutral: int = 6) -> list[np.ndarray]:
    """A citizen doing `actions` in order, with neutral frames before and between them."""
    frames = [base] * neutral
    for action in actions:
        frames += action_clip(base, landmarks, action) + [base] * 3
    return frames
