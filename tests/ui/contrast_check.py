"""Text contrast from the widget tree (no pixels): every visible label's colour against the fill
it is drawn on — its button's, its card's (Panel), or the screen's background — must reach 7:1
(WCAG AAA), computed with tests/ui/audit.py's `contrast`. Cheap enough to run on every screen of
the layout test, in both palettes (the screenshot audit checks the same from the pixels)."""

from __future__ import annotations

from kivy.uix.label import Label

from kiosk import theme
from kiosk.autopilot import walk

from .audit import contrast
from .layout_check import _hidden

MIN_CONTRAST = 7.0


def _rgb(c) -> tuple[float, float, float]:
    return tuple(v * 255 for v in c[:3])


def _background(w, screen):
    from kiosk.widgets.base import Fill, Panel
    from kiosk.widgets.buttons import BigButton

    p = w
    while p is not None and p is not p.parent and p is not screen:
        if isinstance(p, BigButton) and p.fill[3] > 0.5:
            return p.fill
        if isinstance(p, (Panel, Fill)) and p.bg[3] > 0.5:
            return p.bg
        p = p.parent
    return theme.BACKGROUND  # screens draw no background: the window is cleared to it


def check_contrast(screen) -> list[str]:
    top = getattr(screen, "overlay", None)
    problems = []
    for w in walk(top if top is not None else screen.root_box):
        if not isinstance(w, Label) or not w.text.strip() or _hidden(w):
            continue
        fg = w.disabled_color if w.disabled else w.color
        bg = _background(w, screen)
        ratio = contrast(_rgb(fg), _rgb(bg))
        if ratio < MIN_CONTRAST:
            problems.append(f"{screen.name}: text {w.text.strip()[:16]!r} has contrast {ratio:.1f}:1 (< 7)")
    return problems
