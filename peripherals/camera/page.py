"""A document-camera photo → a flat, straight, readable page (pure image work, no device).

1. **Page detection**: grey → blur → Canny edges (closed with a dilation) → external
   contours, largest first → the first that `approxPolyDP` turns into a convex quadrilateral
   covering ≥ `min_area` of the photo; if no edge outline closes (a white page on a pale
   desk), the largest bright region from Otsu's threshold and its minimum-area rectangle.
2. **Perspective correction**: corners ordered tl, tr, br, bl; `getPerspectiveTransform`
   onto a page `width` px wide whose height follows the measured side lengths.
3. **Deskew**: the print itself may sit turned on the sheet: the text pixels (adaptive
   threshold) vote through `minAreaRect` of the dominant line directions (a Hough
   transform of the ink), and the page is rotated back by their median angle (±15°).
4. **Readable-page check** (what an OCR or a clerk needs): sharpness = variance of the
   Laplacian, contrast = 99th − 1st grey percentile, both at a fixed 600 px width, ink = share of dark pixels. A page is
   readable when all three pass; the failed ones are named, so the citizen is told what
   to fix (hold still, more light, put the page under the camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from peripherals.camera.errors import PageNotFound, PageUnreadable

QUALITY_WIDTH = 600  # px: an A4 page at ~72 dpi, where 10-point text is still legible when sharp
A4_RATIO = 297 / 210
MIN_SHARPNESS = 60.0  # Laplacian variance at QUALITY_WIDTH: a photo blurred by σ ≈ 1.2 px still passes
MIN_CONTRAST = 80.0  # grey levels between the 1st and 99th percentile
INK_RANGE = (0.004, 0.35)


@dataclass(frozen=True)
class PageQuality:
    sharpness: float
    contrast: float
    ink: float
    problems: tuple[str, ...] = ()

    @property
    def readable(self) -> bool:
        return not self.problems


@dataclass
class ScannedPage:
    image: np.ndarray  # BGR, flat and straight
    corners: np.ndarray  # where the page was found in the photo (tl tr br bl)
    skew_deg: float  # rotation undone by the deskew
    quality: PageQuality
    jpeg: bytes = field(default=b"", repr=False)


def order_corners(pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float32).reshape(4, 2)
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], dtype=np.float32)


def find_page(photo: np.ndarray, min_area: float = 0.12) -> np.ndarray | None:
    """The page's four corners (tl tr br bl) or None."""
    h, w = photo.shape[:2]
    scale = 800 / max(h, w) if max(h, w) > 800 else 1.0
    small = cv2.resize(photo, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else photo
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    area_min = min_area * grey.shape[0] * grey.shape[1]
    edges = cv2.dilate(cv2.Canny(grey, 40, 120), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for c in sorted(contours, key=cv2.contourArea, reverse=True)[:8]:
        if cv2.contourArea(c) < area_min:
            break
        approx = cv2.approxPolyDP(c, 0.02 * cv2.arcLength(c, True), True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            return order_corners(approx.reshape(4, 2) / scale)
    _, bright = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        c = max(contours, key=cv2.contourArea)
        if cv2.contourArea(c) >= area_min:
            return order_corners(cv2.boxPoints(cv2.minAreaRect(c)) / scale)
    return None


def rectify(photo: np.ndarray, corners: np.ndarray, width: int = 1240) -> np.ndarray:
    tl, tr, br, bl = corners
    w_measured = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    h_measured = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    ratio = h_measured / max(w_measured, 1.0)
    if abs(ratio / A4_RATIO - 1) < 0.1:  # perspective foreshortens one side: an application form is A4
        ratio = A4_RATIO
    height = int(round(width * ratio))
    dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    return cv2.warpPerspective(photo, cv2.getPerspectiveTransform(corners, dst), (width, height),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def skew_angle(page: np.ndarray, limit: float = 15.0) -> float:
    """The angle (degrees, counter-clockwise positive) the print's lines are turned by."""
    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    ink = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    h, w = ink.shape
    ink[: h // 40], ink[-h // 40:], ink[:, : w // 40], ink[:, -w // 40:] = 0, 0, 0, 0  # the sheet's own edges
    lines = cv2.HoughLinesP(ink, 1, np.pi / 720, threshold=120, minLineLength=w // 4, maxLineGap=8)
    if lines is None:
        return 0.0
    angles = []
    for x1, y1, x2, y2 in lines[:, 0]:
        a = np.degrees(np.arctan2(-(y2 - y1), x2 - x1))
        if abs(a) <= limit:
            angles.append(a)
    return float(np.median(angles)) if angles else 0.0


def deskew(page: np.ndarray) -> tuple[np.ndarray, float]:
    angle = skew_angle(page)
    if abs(angle) < 0.2:
        return page, 0.0
    h, w = page.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    return cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE), angle


def quality(page: np.ndarray) -> PageQuality:
    """Measured on the page scaled to `QUALITY_WIDTH` px, so the figures do not depend on the
    camera's resolution or on how much the rectification enlarged the page."""
    h, w = page.shape[:2]
    small = cv2.resize(page, (QUALITY_WIDTH, max(1, int(QUALITY_WIDTH * h / max(w, 1)))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    lo, hi = np.percentile(grey, (1, 99)) if grey.size else (0, 0)
    contrast = float(hi - lo)
    ink_mask = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    ink = float(np.count_nonzero(ink_mask)) / ink_mask.size
    problems = []
    if sharp < MIN_SHARPNESS:
        problems.append("blurred")
    if contrast < MIN_CONTRAST:
        problems.append("low_contrast")
    if not INK_RANGE[0] <= ink <= INK_RANGE[1]:
        problems.append("no_text" if ink < INK_RANGE[0] else "too_dark")
    return PageQuality(sharpness=sharp, contrast=contrast, ink=ink, problems=tuple(problems))


def scan_page(photo: np.ndarray, *, width: int = 1240, jpeg_quality: int = 80) -> ScannedPage:
    """Detect, flatten, straighten and check one page; PageNotFound / PageUnreadable otherwise."""
    if photo is None or photo.ndim != 3 or photo.shape[0] < 64 or photo.shape[1] < 64:
        raise PageNotFound("no usable photo")
    corners = find_page(photo)
    if corners is None:
        raise PageNotFound("no page under the camera")
    page, angle = deskew(rectify(photo, corners, width))
    q = quality(page)
    if not q.readable:
        raise PageUnreadable(f"page not readable: {', '.join(q.problems)}", problems=q.problems)
    ok, buf = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return ScannedPage(image=page, corners=corners, skew_deg=angle, quality=q, jpeg=buf.tobytes() if ok else b"")
