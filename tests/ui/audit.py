"""Screenshot audit: what the citizen actually sees, measured.

- contrast: for every visible, enabled label with text, the background colour is the most
  common colour of its rectangle in the screenshot and the text colour the pixel that
  differs most from it; their WCAG contrast ratio must be ≥ 7:1 (AAA);
- size: text ≥ 32 px at 1080×1920;
- touch targets: every widget with a kiosk_id ≥ 60×60 px, primary actions ≥ 120 px tall;
- glyphs (Chinese screens): every character shown has a glyph in the font face Kivy uses
  (no tofu boxes).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from kiosk.autopilot import walk

MIN_CONTRAST = 7.0
MIN_TEXT_PX = 32
MIN_TARGET_PX = 60
MIN_PRIMARY_PX = 120


def luminance(rgb) -> float:
    def chan(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (chan(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _luminance_array(rgb: np.ndarray) -> np.ndarray:
    c = rgb / 255.0
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@lru_cache(maxsize=1)
def font_cmap() -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    from kiosk.fonts import font_path

    path = font_path()
    font = TTCollection(str(path)).fonts[0] if path.suffix == ".ttc" else TTFont(str(path))
    return frozenset(font.getBestCmap())


def _visible_rect(w, win_h):
    """The widget's rectangle in image coordinates, clipped by enclosing scroll views; None if hidden."""
    x, y = w.to_window(w.x, w.y)
    x0, y0, x1, y1 = x, y, x + w.width, y + w.height
    p = w.parent
    while p is not None and p is not p.parent:
        if isinstance(p, ScrollView):
            px, py = p.to_window(p.x, p.y)
            x0, y0, x1, y1 = max(x0, px), max(y0, py), min(x1, px + p.width), min(y1, py + p.height)
        p = p.parent
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(x0), int(win_h - y1), int(x1), int(win_h - y0)


def _disabled(w) -> bool:
    p = w
    while p is not None and p is not p.parent:
        if getattr(p, "disabled", False) or getattr(p, "opacity", 1) == 0:
            return True
        p = p.parent
    return False


def audit(screen, image, lang: str) -> list[str]:
    """Problems on `screen` as drawn in `image` (a PIL RGB screenshot of the whole window)."""
    problems: list[str] = []
    win_h = image.height
    cmap = font_cmap() if lang == "zh" else None
    pixels = np.asarray(image.convert("RGB"))
    top = getattr(screen, "overlay", None) or screen  # a modal question covers (and dims) the screen
    for w in walk(top):
        if getattr(w, "kiosk_id", "") and not _disabled(w) and _visible_rect(w, win_h):
            if w.width < MIN_TARGET_PX or w.height < MIN_TARGET_PX:
                problems.append(f"{screen.name}: target {w.kiosk_id} is {w.width:.0f}×{w.height:.0f} px")
            if getattr(w, "primary", False) and w.height < MIN_PRIMARY_PX:
                problems.append(f"{screen.name}: primary {w.kiosk_id} only {w.height:.0f} px tall")
        if not isinstance(w, Label) or not w.text.strip() or _disabled(w):
            continue
        rect = _visible_rect(w, win_h)
        if rect is None:
            continue
        label = w.text.strip().replace("\n", " ")[:24]
        if w.font_size < MIN_TEXT_PX:
            problems.append(f"{screen.name}: text {label!r} is {w.font_size:.0f} px")
        if cmap is not None:
            missing = {ch for ch in w.text if ch not in "\n\t" and ord(ch) not in cmap}
            if missing:
                problems.append(f"{screen.name}: no glyph for {sorted(missing)} in {label!r}")
        x0, y0, x1, y1 = rect
        region = pixels[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)].reshape(-1, 3).astype(np.int64)
        if region.size == 0:
            problems.append(f"{screen.name}: text {label!r} is outside the screen ({x0},{y0})-({x1},{y1})")
            continue
        packed = (region[:, 0] << 16) | (region[:, 1] << 8) | region[:, 2]
        values, counts = np.unique(packed, return_counts=True)
        colours = np.stack([(values >> 16) & 255, (values >> 8) & 255, values & 255], axis=1)
        bg = colours[np.argmax(counts)]
        lum = _luminance_array(colours.astype(float))
        lbg = float(_luminance_array(bg[None, :].astype(float))[0])
        ratios = (np.maximum(lum, lbg) + 0.05) / (np.minimum(lum, lbg) + 0.05)
        fg = tuple(int(v) for v in colours[np.argmax(ratios)])
        bg = tuple(int(v) for v in bg)
        ratio = float(ratios.max())
        if ratio < MIN_CONTRAST:
            problems.append(f"{screen.name}: contrast {ratio:.1f}:1 for {label!r} (text {fg} on {bg})")
    return problems
