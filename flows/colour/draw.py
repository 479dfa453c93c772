"""Lay a plate's dots: random sizes, random luminance, colour by the figure mask.

The plate is a square filled edge to edge with non-overlapping dots (no circle with a
blank margin), so the mean colour of "where the figure is" and of "everywhere else" both
average dots and paper in the same proportion: any figure/ground contrast a measurement
finds is the dots' colour, never the layout. A dot belongs to the figure when its centre
lies in the mask. The paper between the dots is a darker shade of the colour of its
region (`PAPER_SHADE`): on confusion-line colours it is as invisible to the dichromat as
the dots are, and it keeps the normal observer's figure/ground contrast where the dots
leave gaps.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from flows.colour.palette import LUMINANCE_JITTER, Palette
from flows.colour.cvd import to_srgb

PAPER_SHADE = 0.8
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)


def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if path.is_file():
            return ImageFont.truetype(str(path), px)
    return ImageFont.load_default(size=px)


def figure_mask(text: str, size: int, *, scale: float = 0.62, offset: tuple[float, float] = (0.0, 0.0)) -> Image.Image:
    """An "L" image, 255 where the figure `text` is: thick strokes, centred (plus `offset` × size)."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    font = _font(int(size * scale))
    l, t, r, b = draw.textbbox((0, 0), text, font=font)
    x = (size - (r - l)) / 2 - l + offset[0] * size
    y = (size - (b - t)) / 2 - t + offset[1] * size
    draw.text((x, y), text, fill=255, font=font)
    stroke = max(3, int(size * 0.018)) | 1
    return mask.filter(ImageFilter.MaxFilter(stroke))


def dot_layout(size: int, rng: random.Random, *, r_min: float | None = None, r_max: float | None = None,
               attempts: int = 24000) -> list[tuple[float, float, float]]:
    """Non-overlapping dots (x, y, radius) of random size, filling the square."""
    r_min = r_min or size * 0.0085
    r_max = r_max or size * 0.026
    cell = 2 * r_max
    grid: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
    dots: list[tuple[float, float, float]] = []
    for i in range(attempts):
        # big dots first, then ever smaller ones fill the gaps
        hi = r_max - (r_max - r_min) * min(1.0, i / (attempts * 0.7))
        r = rng.uniform(r_min, max(r_min, hi))
        x, y = rng.uniform(r * 0.3, size - r * 0.3), rng.uniform(r * 0.3, size - r * 0.3)
        cx, cy = int(x // cell), int(y // cell)
        gap = 1.0
        if any((x - ox) ** 2 + (y - oy) ** 2 < (r + orad + gap) ** 2
               for gx in (cx - 1, cx, cx + 1) for gy in (cy - 1, cy, cy + 1) for ox, oy, orad in grid.get((gx, gy), ())):
            continue
        grid.setdefault((cx, cy), []).append((x, y, r))
        dots.append((x, y, r))
    return dots


def render(palette: Palette, mask: Image.Image, rng: random.Random, *, second: Image.Image | None = None) -> Image.Image:
    """The plate as an RGB image; `second` is the transformation plate's figure B mask."""
    size = mask.size[0]
    m = np.asarray(mask) > 127
    m2 = np.asarray(second) > 127 if second is not None else None
    ground, figure = np.array(palette.ground), np.array(palette.figure)
    shift = np.array(palette.second) if palette.second is not None else np.zeros(3)
    # B's shift inside A is scaled so that B covers A and the rest in the same proportion: the
    # mean colours of "A" and "not A" then stay equal for the dichromat (A still vanishes).
    inside_scale = 1.0
    if m2 is not None and (m & m2).any():
        inside_scale = float(np.clip(((m2 & ~m).sum() / (~m).sum()) / ((m & m2).sum() / m.sum()), 0.5, 2.0))
    shift_map = (m2 * np.where(m, inside_scale, 1.0))[..., None] if m2 is not None else 0.0
    paper = np.where(m[..., None], figure, ground) + shift_map * shift
    img = Image.fromarray(_srgb8_array(paper * PAPER_SHADE))
    draw = ImageDraw.Draw(img)
    for x, y, r in dot_layout(size, rng):
        px, py = min(size - 1, int(x)), min(size - 1, int(y))
        colour = figure if m[py, px] else ground
        if m2 is not None and m2[py, px]:
            colour = colour + shift * (inside_scale if m[py, px] else 1.0)
        colour = colour * rng.uniform(1 - LUMINANCE_JITTER, 1 + LUMINANCE_JITTER)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_rgb8(colour))
    return img


def _srgb8_array(linear: np.ndarray) -> np.ndarray:
    return np.floor(to_srgb(linear) * 255 + 0.5).astype(np.uint8)


def _rgb8(linear: np.ndarray) -> tuple[int, int, int]:
    s = to_srgb(linear)
    return tuple(int(math.floor(v * 255 + 0.5)) for v in s)  # type: ignore[return-value]
