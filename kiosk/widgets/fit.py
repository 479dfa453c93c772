"""A column that fills the height it is given, so a page neither scrolls nor leaves its
lower half empty.

Children with a fixed height (text, cards) keep it. Children marked `flex(widget, lo, hi)`
(pictures, the colour plate, answer buttons) share what is left, each between its
smallest and largest height: a tall portrait screen gets a bigger plate and bigger
answer buttons, a short landscape or large-text screen a smaller plate — and the
answers stay on the page. Only when even the smallest sizes do not fit does the column
grow past its `target` (the scroll view around it then scrolls; the layout test fails
on that, so it does not ship).
"""

from __future__ import annotations

import weakref

from kivy.clock import Clock
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.scrollview import ScrollView

from kiosk.widgets.base import FollowsChildrenHeight


def flex(widget, lo: float, hi: float):
    """Mark `widget` (size_hint_y=None) as taking between `lo` and `hi` px of the spare height."""
    widget.flex_range = (float(lo), float(max(lo, hi)))
    widget.height = lo
    return widget


def set_flex(widget, lo: float, hi: float) -> None:
    """Change a flexible child's range and lay its column out again."""
    widget.flex_range = (float(lo), float(max(lo, hi)))
    parent = widget.parent
    if isinstance(parent, FitColumn):
        parent.refit()


def flex_range(widget) -> tuple[float, float] | None:
    return getattr(widget, "flex_range", None)


def share(spare: float, ranges: list[tuple[float, float]]) -> list[float]:
    """Heights for flexible children: each starts at its minimum; the spare height is
    handed out in proportion to how much each may still grow (water filling)."""
    heights = [lo for lo, _ in ranges]
    extra = spare - sum(heights)
    for _ in range(len(ranges) + 1):
        room = [hi - h for h, (_, hi) in zip(heights, ranges)]
        total = sum(r for r in room if r > 0.5)
        if extra <= 0.5 or total <= 0.5:
            break
        given = 0.0
        for i, r in enumerate(room):
            if r > 0.5:
                add = min(r, extra * r / total)
                heights[i] += add
                given += add
        extra -= given
    return heights


class FitColumn(FollowsChildrenHeight, BoxLayout):
    """A vertical stack whose flexible children fill `target` px (see the module docstring)."""

    target = NumericProperty(0)

    def __init__(self, **kw):
        kw.setdefault("orientation", "vertical")
        kw.setdefault("size_hint_y", None)
        super().__init__(**kw)
        self._fitting = False
        self.on_overflow = None  # called (once per layout pass) when even the minimum sizes do not fit
        self._overflow_check = Clock.create_trigger(self._check_overflow, -1)
        self._last_layout: tuple | None = None
        self.follow_children_height()
        self.bind(target=self._fit)

    def _check_overflow(self, *_):
        _PENDING.discard(self)
        self._check()

    def _check(self) -> None:
        """Only a settled layout counts: while a text is still being wrapped to its final
        width (a label starts 100 px wide, so very tall) or the column still changes size,
        look again next frame."""
        if self.on_overflow is None or self.target <= 1 or self.overflow() <= 1 or self.parent is None:
            return
        settled = (self.height, self.width, self.target)
        if _unsettled(self) or settled != self._last_layout:  # still moving: look again next frame
            self._last_layout = settled
            _PENDING.add(self)
            Clock.schedule_once(self._check_overflow, 0)
            return
        self.on_overflow()

    def refit(self) -> None:
        """Lay out again (a child's `flex_range` changed)."""
        self._fit()

    def _fit(self, *_):
        if self._fitting:
            return
        self._fitting = True
        try:
            pad = self.padding
            vpad = (pad[1] + pad[3]) if len(pad) == 4 else (pad[1] * 2 if len(pad) == 2 else pad[0] * 2)
            kids = list(self.children)
            fixed = sum(c.height for c in kids if flex_range(c) is None)
            base = fixed + self.spacing * max(0, len(kids) - 1) + vpad
            flexible = [c for c in kids if flex_range(c) is not None]
            if flexible:
                for c, h in zip(flexible, share(self.target - base, [flex_range(c) for c in flexible])):
                    c.height = int(h)  # floor: rounding up could overflow by a pixel or two
            self.height = base + sum(c.height for c in flexible)
            if self.on_overflow is not None and self.height - self.target > 1:
                _PENDING.add(self)
                self._overflow_check()
        finally:
            self._fitting = False

    def spare(self) -> float:
        """How many px more this column could take, its flexible children at their smallest."""
        shrink = sum(c.height - flex_range(c)[0] for c in self.children if flex_range(c) is not None)
        return self.target - self.height + shrink

    def overflow(self) -> float:
        """How many px the content is taller than the height it was given (0 when it fits)."""
        return max(0.0, self.height - self.target)


_PENDING: "weakref.WeakSet[FitColumn]" = weakref.WeakSet()


def layout_pending() -> bool:
    """True while a page may still re-arrange itself (a column that did not fit is being
    looked at again); the autopilot and the tests wait for this before they look."""
    return any(c.parent is not None and c.get_root_window() is not None for c in list(_PENDING))


def _unsettled(root) -> bool:
    stack = [root]
    while stack:
        w = stack.pop()
        if getattr(w, "stale", False):
            return True
        stack.extend(w.children)
    return False


def fit_scroll(spacing: float) -> tuple[ScrollView, FitColumn]:
    """A scroll view holding a FitColumn that fills it (it scrolls only if content cannot fit)."""
    scroll = ScrollView(do_scroll_x=False, bar_width=12, scroll_type=["bars", "content"])
    column = FitColumn(spacing=spacing)
    scroll.add_widget(column)
    scroll.bind(height=lambda _s, h: setattr(column, "target", h))
    return scroll, column
