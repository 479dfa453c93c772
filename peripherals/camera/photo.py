"""Cut a driving-licence photo out of a camera frame: 260 × 378 px, head in proportion, white background.

The rules (/work/shared/reference/health.md §7 "Driving-licence photo", sources
m.w09.net/Life/ca51fcaf862fb80d0bb76a0e1f43df45.html and m.egb634.com/ask/3309357.html):
printed 32 mm high × 22 mm wide, head 14–16 mm wide and 19–22 mm long, white background;
the digital file is 378 (h) × 260 (w) px at 300 dpi, JPEG quality ≥ 70, about 14–30 KB,
head 165–189 px wide. At 300 dpi (11.81 px/mm) a 19–22 mm head is 224–260 px long.

How the crop is placed. The Haar detector boxes the face from the brows to the mouth,
not the whole head, so the head is estimated from the box (side h, width w): crown at
`CROWN_ABOVE` × h above the box, chin at `CHIN_BELOW` × h below its top, head width
`HEAD_WIDTH` × w. These ratios were measured on skimage.data.astronaut() and agree with
common face proportions. The crop is scaled so the head is `TARGET_HEAD_LENGTH` px long
(the middle of 224–260, which makes it about 176 px wide, inside 165–189), centred
horizontally, crown `TOP_MARGIN` px below the top edge.

How the background is made white. GrabCut (Rother et al. 2004, `cv2.grabCut`) is seeded
from the face: the inner face is certain foreground, the head and shoulders probable
foreground, the border beside and above the head certain background, the rest
probable background. Its result is cleaned (largest person-shaped region, holes filled),
feathered by a pixel or two, and composited onto white. This is a simple approach that
suits a kiosk with a plain wall behind the citizen; a busy background can leave bits
of it beside the hair. Staff see the photo before it is submitted.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from peripherals.camera.errors import PhotoNotPossible
from peripherals.camera.face import detect_faces
from peripherals.camera.models import FaceBox, FaceIssue, LicencePhoto

PHOTO_WIDTH = 260
PHOTO_HEIGHT = 378
HEAD_WIDTH_RANGE = (165, 189)  # px, health.md §7
HEAD_LENGTH_RANGE = (224, 260)  # px: 19–22 mm at 300 dpi
TARGET_HEAD_LENGTH = 242
TOP_MARGIN = 36  # px from the top edge to the crown (≈3 mm)
CROWN_ABOVE = 0.5  # crown this many face-box heights above the box top
CHIN_BELOW = 1.15  # chin this many face-box heights below the box top
HEAD_WIDTH = 1.2  # head width (ear to ear) in face-box widths
MAX_UPSCALE = 2.5  # a smaller face than this would be a blurred photo: ask the citizen to come closer
JPEG_QUALITY_START = 90
JPEG_QUALITY_MIN = 70  # health.md §7: quality ≥ 70
JPEG_MAX_BYTES = 30_000  # health.md §7: about 14–30 KB
WHITE = (255, 255, 255)


def _head_in_frame(face: FaceBox) -> tuple[float, float, float, float]:
    """Estimated head (centre x, crown y, width, length) in frame pixels."""
    crown = face.y - CROWN_ABOVE * face.h
    length = (CROWN_ABOVE + CHIN_BELOW) * face.h
    return face.cx, crown, HEAD_WIDTH * face.w, length


def _crop_scaled(frame: np.ndarray, x0: float, y0: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The photo-sized window at (x0, y0) of `frame` scaled by `scale`, and a mask of the pixels that came from the frame."""
    height, width = frame.shape[:2]
    left, top = int(round(x0)), int(round(y0))
    right, bottom = int(round(x0 + PHOTO_WIDTH / scale)), int(round(y0 + PHOTO_HEIGHT / scale))
    pad = (max(0, -top), max(0, bottom - height), max(0, -left), max(0, right - width))  # top, bottom, left, right
    padded = cv2.copyMakeBorder(frame, *pad, cv2.BORDER_CONSTANT, value=WHITE)
    inside = cv2.copyMakeBorder(np.full((height, width), 255, np.uint8), *pad, cv2.BORDER_CONSTANT, value=0)
    rows = slice(top + pad[0], bottom + pad[0])
    cols = slice(left + pad[2], right + pad[2])
    window, valid = padded[rows, cols], inside[rows, cols]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    photo = cv2.resize(window, (PHOTO_WIDTH, PHOTO_HEIGHT), interpolation=interpolation)
    valid = cv2.resize(valid, (PHOTO_WIDTH, PHOTO_HEIGHT), interpolation=cv2.INTER_NEAREST)
    return photo, valid > 0


def _seed_mask(face: FaceBox, head: FaceBox, valid: np.ndarray) -> np.ndarray:
    """GrabCut's starting labels, from where the face and head are in the photo."""
    mask = np.full((PHOTO_HEIGHT, PHOTO_WIDTH), cv2.GC_PR_BGD, np.uint8)
    cx, chin = head.cx, head.y + head.h
    head_centre = (int(round(cx)), int(round(head.cy)))
    # Certain background: beside and above the upper head, well outside it, plus any
    # padding. Level with the jaw, collars and shoulders may rise, so GrabCut decides there.
    outside = np.full_like(mask, 1)
    cv2.ellipse(outside, head_centre, (int(head.w * 0.72), int(head.h * 0.62)), 0, 0, 360, 0, -1)
    outside[int(head.cy + 0.2 * head.h) :, :] = 0
    outside[:6, :] = 1  # the top rows are above any hair
    mask[outside > 0] = cv2.GC_BGD
    # Probable foreground: the head (with room for hair) and the neck and shoulders below it.
    cv2.ellipse(mask, head_centre, (int(head.w * 0.6), int(head.h * 0.55)), 0, 0, 360, cv2.GC_PR_FGD, -1)
    neck_top = int(chin - 0.1 * head.h)
    shoulders = np.array(
        [
            [cx - 0.3 * head.w, neck_top],
            [cx + 0.3 * head.w, neck_top],
            [PHOTO_WIDTH, PHOTO_HEIGHT - 0.5 * (PHOTO_HEIGHT - chin)],
            [PHOTO_WIDTH, PHOTO_HEIGHT],
            [0, PHOTO_HEIGHT],
            [0, PHOTO_HEIGHT - 0.5 * (PHOTO_HEIGHT - chin)],
        ],
        np.int32,
    )
    cv2.fillPoly(mask, [shoulders], cv2.GC_PR_FGD)
    # Certain foreground: the middle of the face.
    cv2.ellipse(
        mask, (int(round(face.cx)), int(round(face.cy))), (int(face.w * 0.35), int(face.h * 0.45)), 0, 0, 360, cv2.GC_FGD, -1
    )
    mask[~valid] = cv2.GC_BGD
    return mask


def _person_alpha(photo: np.ndarray, seed: np.ndarray, iterations: int) -> np.ndarray:
    """0–1 alpha of the person: GrabCut, then the region holding the face, holes filled, edge feathered."""
    mask = seed.copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(photo, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    person = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    person = cv2.morphologyEx(person, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(person)
    face_labels = set(np.unique(labels[seed == cv2.GC_FGD])) - {0}
    if face_labels:
        person = np.isin(labels, list(face_labels)).astype(np.uint8)
    contours, _ = cv2.findContours(person, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(person)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    filled[seed == cv2.GC_BGD] = 0
    alpha = cv2.GaussianBlur(filled.astype(np.float32), (5, 5), 0)
    alpha[seed == cv2.GC_BGD] = 0.0  # certain background stays pure white
    return alpha


def _encode(image: np.ndarray, fmt: Literal["jpeg", "png"], max_bytes: int) -> tuple[bytes, int | None]:
    if fmt == "png":
        ok, buf = cv2.imencode(".png", image)
        return buf.tobytes(), None
    quality = JPEG_QUALITY_START
    while True:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if len(buf) <= max_bytes or quality <= JPEG_QUALITY_MIN:
            return buf.tobytes(), quality
        quality -= 5


def make_licence_photo(
    frame: np.ndarray,
    *,
    face: FaceBox | None = None,
    fmt: Literal["jpeg", "png"] = "jpeg",
    max_bytes: int = JPEG_MAX_BYTES,
    grabcut_iterations: int = 3,
) -> LicencePhoto:
    """A 260 × 378 licence photo of the one face in `frame` (BGR), on white.

    `face` is the box from a passed `FaceCheck`; without it the face is detected here.
    Raises `PhotoNotPossible` (with `FaceIssue` reasons) when there is not exactly one
    face, or the head does not fit in the frame or is too small to enlarge.
    """
    if face is None:
        faces = detect_faces(frame)
        if len(faces) != 1:
            issue = FaceIssue.NO_FACE if not faces else FaceIssue.SEVERAL_FACES
            raise PhotoNotPossible(reasons=[issue.value], kind="camera")
        face = faces[0]
    height, width = frame.shape[:2]
    cx, crown, head_w, head_len = _head_in_frame(face)
    if head_len > height or head_w > width:
        raise PhotoNotPossible("the head does not fit in the frame", reasons=[FaceIssue.FACE_TOO_LARGE.value], kind="camera")
    if crown < -0.05 * head_len or cx - head_w / 2 < 0 or cx + head_w / 2 > width or crown + head_len > height:
        raise PhotoNotPossible("the head is cut by the frame edge", reasons=[FaceIssue.NOT_CENTRED.value], kind="camera")
    scale = TARGET_HEAD_LENGTH / head_len
    if scale > MAX_UPSCALE:
        raise PhotoNotPossible("the face is too small for a sharp photo", reasons=[FaceIssue.FACE_TOO_SMALL.value], kind="camera")

    x0, y0 = cx - (PHOTO_WIDTH / 2) / scale, crown - TOP_MARGIN / scale
    photo, valid = _crop_scaled(frame, x0, y0, scale)

    def to_photo(box_x: float, box_y: float, box_w: float, box_h: float) -> FaceBox:
        return FaceBox(
            x=round((box_x - x0) * scale), y=round((box_y - y0) * scale), w=round(box_w * scale), h=round(box_h * scale)
        )

    face_in_photo = to_photo(face.x, face.y, face.w, face.h)
    head_in_photo = to_photo(cx - head_w / 2, crown, head_w, head_len)
    alpha = _person_alpha(photo, _seed_mask(face_in_photo, head_in_photo, valid), grabcut_iterations)
    white = np.full_like(photo, 255)
    composed = (photo * alpha[..., None] + white * (1.0 - alpha[..., None])).round().astype(np.uint8)
    data, quality = _encode(composed, fmt, max_bytes)
    return LicencePhoto(
        image=composed,
        data=data,
        format=fmt,
        media_type="image/jpeg" if fmt == "jpeg" else "image/png",
        width=PHOTO_WIDTH,
        height=PHOTO_HEIGHT,
        head_box=head_in_photo,
        face_box=face_in_photo,
        background_fraction=round(float(1.0 - alpha.mean()), 3),
        jpeg_quality=quality,
    )
