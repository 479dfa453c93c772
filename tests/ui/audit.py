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

from collections import Counter
from functools import lru_cache

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
        crop = image.crop(rect)
        colours = Counter(crop.get_flattened_data() if hasattr(crop, "get_flattened_data") else crop.getdata())
        bg = colours.most_common(1)[0][0]
        fg = max(colours, key=lambda c: contrast(c, bg))
        ratio = contrast(fg, bg)
        if ratio < MIN_CONTRAST:
            problems.append(f"{screen.name}: contrast {ratio:.1f}:1 for {label!r} (text {fg} on {bg})")
    return problems
