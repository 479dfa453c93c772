"""Photographs of a document on a desk, made up for the document camera's simulator and tests.

A real-looking photo, not a clean scan: an A4 application form (a title, field rows with
Chinese text in the system's CJK font when it is installed, a table, a stamp) on a
wood-grain desk under uneven light, seen by a camera above it at an angle (perspective),
slightly turned, with lens blur, sensor noise and JPEG artefacts. Deterministic per `seed`,
so tests know where the page's corners really are (`PagePhoto.corners`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

A4_RATIO = 297 / 210
FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FORM_LINES = ("申请人姓名：王晓东", "证件号码：5001031988********", "联系电话：139****5678",
              "申请事项：社会保障卡补换", "通讯地址：重庆市渝中区解放碑街道民族路188号",
              "申请理由：原卡遗失，申请补办新卡。", "本人承诺以上信息真实有效。", "申请人签名：王晓东    日期：2026年12月6日")


@dataclass(frozen=True)
class PagePhoto:
    image: np.ndarray  # BGR
    corners: np.ndarray  # 4×2 float32: the page's corners in the photo, tl tr br bl


@lru_cache(maxsize=1)
def _font_path() -> str | None:
    return next((p for p in FONT_CANDIDATES if Path(p).exists()), None)


def flat_page(width: int = 840, seed: int = 0, skew_deg: float = 0.0) -> np.ndarray:
    """The form itself, as printed (BGR, A4 proportions); `skew_deg` turns the print on the paper."""
    from PIL import Image, ImageDraw, ImageFont

    height = int(round(width * A4_RATIO))
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (250, 250, 247))
    draw = ImageDraw.Draw(img)
    font_file = _font_path()
    size = max(12, width // 36)

    def font(px: int):
        return ImageFont.truetype(font_file, px) if font_file else ImageFont.load_default()

    margin = width // 10
    draw.text((width // 2, margin), "社会保障卡补换申请表", fill=(20, 20, 20), font=font(size * 2), anchor="mt")
    y = margin + size * 4
    for i, line in enumerate(FORM_LINES):
        draw.text((margin, y), line, fill=(25, 25, 30), font=font(size))
        draw.line((margin, y + size + 6, width - margin, y + size + 6), fill=(120, 120, 120), width=1)
        y += int(size * 2.4)
    top = y + size  # a table of materials
    rows, cols = 5, 3
    cell_h, cell_w = size * 2, (width - 2 * margin) // cols
    for r in range(rows + 1):
        draw.line((margin, top + r * cell_h, margin + cols * cell_w, top + r * cell_h), fill=(40, 40, 40), width=2)
    for c in range(cols + 1):
        draw.line((margin + c * cell_w, top, margin + c * cell_w, top + rows * cell_h), fill=(40, 40, 40), width=2)
    for r, (a, b, c) in enumerate((("材料", "份数", "备注"), ("身份证复印件", "1", "正反面"), ("照片", "1", "白底"),
                                   ("申请表", "1", "本表"), ("其他", "0", "—"))):
        for col, text in enumerate((a, b, c)):
            draw.text((margin + col * cell_w + 10, top + r * cell_h + size // 3), text, fill=(30, 30, 30), font=font(size))
    cx, cy, rad = width - margin - size * 3, top + rows * cell_h + size * 5, size * 3  # a red seal
    draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), outline=(200, 40, 40), width=4)
    draw.text((cx, cy), "受理", fill=(200, 40, 40), font=font(size), anchor="mm")
    page = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    if skew_deg:
        m = cv2.getRotationMatrix2D((width / 2, height / 2), skew_deg, 1.0)
        page = cv2.warpAffine(page, m, (width, height), borderValue=(250, 250, 247))
    grain = rng.standard_normal(page.shape, dtype=np.float32) * 2.0  # paper texture
    return np.clip(page.astype(np.float32) + grain, 0, 255).astype(np.uint8)


def desk(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Wood-grain desk in warm tones (drawn at a quarter of the size and enlarged: it is soft anyway)."""
    rng = np.random.default_rng(seed + 101)
    w, h = max(8, width // 4), max(8, height // 4)
    x = np.linspace(0, 1, w, dtype=np.float32)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    grain = 0.5 + 0.5 * np.sin(2 * np.pi * (y * 9 + 0.15 * np.sin(2 * np.pi * x * 3)) + rng.uniform(0, 6))
    base = np.stack([60 + 25 * grain, 95 + 30 * grain, 135 + 35 * grain], axis=-1).astype(np.float32)  # B G R
    base = cv2.resize(base, (width, height), interpolation=cv2.INTER_LINEAR)
    base += rng.standard_normal(base.shape, dtype=np.float32) * 4
    return np.clip(base, 0, 255).astype(np.uint8)


def page_photo(size: tuple[int, int] = (1600, 1200), *, seed: int = 0, tilt: float = 0.08, turn_deg: float = 4.0,
               blur: float = 0.8, skew_deg: float = 0.0, fill: float = 0.62) -> PagePhoto:
    """The form photographed on the desk: perspective `tilt`, turned `turn_deg`, `blur` sigma in px."""
    w, h = size
    rng = np.random.default_rng(seed)
    page = flat_page(width=840, seed=seed, skew_deg=skew_deg)
    ph, pw = page.shape[:2]
    scale = fill * h / ph  # the page's height is `fill` of the photo's
    cx, cy = w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    hw, hh = pw * scale / 2, ph * scale / 2
    quad = np.array([[-hw * (1 - tilt), -hh], [hw * (1 - tilt), -hh], [hw, hh], [-hw, hh]], dtype=np.float32)
    t = np.deg2rad(turn_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], dtype=np.float32)
    corners = (quad @ rot.T + np.array([cx, cy], dtype=np.float32)).astype(np.float32)
    src = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, corners)
    photo = desk(w, h, seed)
    shadow = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h))
    shadow = cv2.GaussianBlur(np.roll(shadow, (12, 10), axis=(0, 1)), (0, 0), 9)
    photo = (photo.astype(np.float32) * (1 - 0.35 * shadow[..., None] / 255)).astype(np.uint8)
    warped = cv2.warpPerspective(page, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h))
    photo = np.where(mask[..., None] > 127, warped, photo)
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]  # uneven light: brighter top left
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    light = (1.05 - 0.22 * (xx * 0.6 + yy * 0.4))[..., None]
    noise = rng.standard_normal(photo.shape, dtype=np.float32) * 3
    photo = np.clip(photo.astype(np.float32) * light + noise, 0, 255).astype(np.uint8)
    if blur:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    ok, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return PagePhoto(image=cv2.imdecode(jpeg, cv2.IMREAD_COLOR), corners=corners)


DOCUMENT_SCENES = ("document", "document_blurred", "desk")


def scene(name: str, size: tuple[int, int]) -> np.ndarray:
    """The simulator's builtin document-camera scenes (a copy: callers may draw on it)."""
    return _scene(name, int(size[0]), int(size[1])).copy()


def shared_scene(name: str, size: tuple[int, int]) -> np.ndarray:
    """The cached scene itself, read-only: for the simulator, which only reads it (one copy of
    5.5 MiB at 1600×1200 fewer per document camera)."""
    image = _scene(name, int(size[0]), int(size[1]))
    image.flags.writeable = False
    return image


SCENE_VERSION = 1  # bump when the drawing changes: the file cache below is keyed by it


@lru_cache(maxsize=8)
def _scene(name: str, width: int, height: int) -> np.ndarray:
    """Rendered once per machine: every simulated kiosk (each `kiosk run-flow` process) opens a
    document camera, and drawing the photo costs about a second. The made-up picture (no
    personal data) is kept as a PNG in the temp directory; a damaged file is drawn again."""
    import os
    import tempfile

    path = Path(tempfile.gettempdir()) / "kiosk-sim-scenes" / f"{name}-{width}x{height}-v{SCENE_VERSION}.png"
    cached = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.exists() else None
    if cached is not None and cached.shape == (height, width, 3):
        return cached
    if name == "document":
        image = page_photo((width, height)).image
    elif name == "document_blurred":
        image = page_photo((width, height), blur=7.0).image
    else:
        image = desk(width, height)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.png")
        if cv2.imwrite(str(tmp), image):
            os.replace(tmp, path)
    except OSError:
        pass  # no cache: drawn again next time
    return image
