"""Layout checks from the widget tree (no pixels): what a citizen could not see or reach.

For the screen on show (and its modal question, if one is open):
- every widget lies inside the window, and every widget of the page body lies between
  the header and the footer (nothing slides under the bars);
- no page needs scrolling (a FitColumn never grows past the scroll view it fills); the
  home catalogue is the one list that scrolls by design (groups, search), so only its
  tiles' own text is checked;
- no text is cut: a label's rendered text fits its box (buttons included);
- every tappable widget (one with a kiosk_id) is at least `min_target` px both ways, and
  no two of them overlap;
- text is at least MIN_TEXT_PX.
"""

from __future__ import annotations

from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from kiosk.autopilot import walk
from kiosk.widgets.fit import FitColumn

MIN_TEXT_PX = 32
TOLERANCE = 1.5


def _rect(w):
    x, y = w.to_window(w.x, w.y)
    return x, y, x + w.width, y + w.height


def _hidden(w) -> bool:
    p = w
    while p is not None and p is not p.parent:
        if getattr(p, "opacity", 1) == 0:
            return True
        p = p.parent
    return False


def _inside(inner, outer) -> bool:
    return (inner[0] >= outer[0] - TOLERANCE and inner[1] >= outer[1] - TOLERANCE
            and inner[2] <= outer[2] + TOLERANCE and inner[3] <= outer[3] + TOLERANCE)


def _overlap(a, b) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > TOLERANCE and min(a[3], b[3]) - max(a[1], b[1]) > TOLERANCE


def _label(w) -> str:
    text = getattr(w, "text", "")
    text = text.strip().replace("\n", " ")[:20] if isinstance(text, str) else ""
    return getattr(w, "kiosk_id", "") or text or type(w).__name__


def check_layout(screen, window_size: tuple[int, int], min_target: float) -> list[str]:
    """Problems on `screen` as laid out now (pump a few frames first)."""
    problems: list[str] = []
    win = (0, 0, window_size[0], window_size[1])
    name = screen.name
    root_box = screen.root_box
    bars = [c for c in root_box.children if c.size_hint_y is None]  # header and footer have fixed heights
    bodies = [c for c in root_box.children if c.size_hint_y is not None]
    top = getattr(screen, "overlay", None)
    layers = [top] if top is not None else [root_box]
    targets = []
    for layer in layers:
        for w in walk(layer):
            if w is layer or _hidden(w):
                continue
            r = _rect(w)
            if w.width < 1 or w.height < 1:
                continue
            if not _inside(r, win) and not _scrolls_by_design(w):
                problems.append(f"{name}: {_label(w)} is outside the window ({r[0]:.0f},{r[1]:.0f})-({r[2]:.0f},{r[3]:.0f})")
            if isinstance(w, FitColumn) and isinstance(w.parent, ScrollView) and w.overflow() > TOLERANCE:
                problems.append(f"{name}: the page needs scrolling ({w.overflow():.0f} px too tall)")
            if isinstance(w, Label) and w.text.strip():
                tw, th = w.texture_size
                if th > w.height + TOLERANCE or tw > w.width + TOLERANCE:
                    problems.append(f"{name}: text {_label(w)!r} is cut ({tw:.0f}×{th:.0f} in {w.width:.0f}×{w.height:.0f})")
                if w.font_size < MIN_TEXT_PX:
                    problems.append(f"{name}: text {_label(w)!r} is {w.font_size:.0f} px")
            if getattr(w, "kiosk_id", "") and not getattr(w, "disabled", False):
                targets.append((w, r))
                if w.width < min_target - TOLERANCE or w.height < min_target - TOLERANCE:
                    problems.append(f"{name}: target {w.kiosk_id} is {w.width:.0f}×{w.height:.0f} px (< {min_target:.0f})")
    if top is None:
        for body in bodies:
            area = _rect(body)
            for w in walk(body):
                if w is body or _hidden(w) or w.width < 3 or w.height < 3:  # (an empty spacer)
                    continue
                if isinstance(w.parent, ScrollView) and isinstance(w, FitColumn):
                    continue  # the column itself may be taller than the view (reported above)
                r = _rect(w)
                clip = _scroll_clip(w)
                if clip is None and _scrolls_by_design(w):
                    continue  # the home catalogue: a list that scrolls (groups, search)
                if clip is not None and not _overlap(r, clip):
                    problems.append(f"{name}: {_label(w)} is scrolled out of sight")
                    continue
                if not _inside(r, area):
                    problems.append(f"{name}: {_label(w)} reaches under the header or footer")
        for bar in bars:
            for w in walk(bar):
                if w is not bar and not _inside(_rect(w), _rect(bar)):
                    problems.append(f"{name}: {_label(w)} sticks out of its bar")
    for i, (a, ra) in enumerate(targets):
        for b, rb in targets[i + 1:]:
            if _overlap(ra, rb):
                problems.append(f"{name}: targets {a.kiosk_id} and {b.kiosk_id} overlap")
    return problems


def _scroll_clip(w):
    """The visible rectangle of the scroll view `w` is in (None: not in one, or one that may scroll)."""
    p = w.parent
    while p is not None and p is not p.parent:
        if isinstance(p, ScrollView):
            return None if getattr(p, "scrolls_by_design", False) else _rect(p)
        p = p.parent
    return None


def _scrolls_by_design(w) -> bool:
    p = w.parent
    while p is not None and p is not p.parent:
        if isinstance(p, ScrollView):
            return getattr(p, "scrolls_by_design", False)
        p = p.parent
    return False
