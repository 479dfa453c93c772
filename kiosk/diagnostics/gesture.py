"""The hidden way in: a long press in the top-left corner of the attract screen.

An invisible square over the header's top-left corner (where only the title is drawn, no
button). A finger held there for `hold_s` seconds (3 s) without sliding out opens the
staff PIN screen; a shorter press, or one that moves away, does nothing and lets the
touch through, so a citizen who brushes the corner notices nothing.
"""

from __future__ import annotations

from typing import Callable

from kivy.clock import Clock
from kivy.uix.widget import Widget


class HiddenCorner(Widget):
    def __init__(self, on_hold: Callable[[], None], *, hold_s: float = 3.0, side_px: float = 160, **kw):
        kw.setdefault("size_hint", (None, None))
        super().__init__(**kw)
        self.size = (side_px, side_px)
        self.hold_s = hold_s
        self.on_hold = on_hold
        self._pending = None
        self._touch = None
        self.fired = 0  # for tests and the log

    def place(self, *_):
        """Top-left corner of the parent (Kivy's y grows upwards)."""
        if self.parent is not None:
            self.pos = (0, self.parent.height - self.height)

    def on_parent(self, _w, parent):
        if parent is not None:
            parent.bind(size=self.place)
            self.place()

    def on_touch_down(self, touch):
        if self.collide_point(*touch.pos) and self._touch is None:
            self._touch = touch
            self._pending = Clock.schedule_once(self._fire, self.hold_s)
        return False  # never swallow: the press may be something else

    def on_touch_move(self, touch):
        if touch is self._touch and not self.collide_point(*touch.pos):
            self._cancel()
        return False

    def on_touch_up(self, touch):
        if touch is self._touch:
            self._cancel()
        return False

    def _cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._pending = None
        self._touch = None

    def _fire(self, _dt) -> None:
        self._pending = None
        self._touch = None
        self.fired += 1
        self.on_hold()

    def stop(self) -> None:
        self._cancel()
