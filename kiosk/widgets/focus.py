"""The keypad's focus, drawn: a thick two-tone ring around the focused button.

Dark outside, amber inside, 4 px each, so the ring stands out (≥ 3:1, WCAG 2.4.11 / 1.4.11) on
the light pages, the blue header and the dark high-contrast theme alike.
"""

from __future__ import annotations

from kivy.graphics import Color, InstructionGroup, Line

OUTER = (0.04, 0.04, 0.04, 1)
INNER = (1.0, 0.76, 0.05, 1)  # #FFC20E


class FocusRing:
    def __init__(self) -> None:
        self.widget = None
        self._group: InstructionGroup | None = None
        self._lines: list[tuple[Line, float]] = []

    def show(self, widget) -> None:
        if widget is self.widget and self._group is not None:
            self._place()
            return
        self.hide()
        group = InstructionGroup()
        self._lines = []
        for colour, inset in ((OUTER, -8), (INNER, -3)):
            group.add(Color(*colour))
            line = Line(width=4)
            group.add(line)
            self._lines.append((line, inset))
        widget.canvas.after.add(group)
        self.widget, self._group = widget, group
        widget.bind(pos=self._place, size=self._place)
        self._place()

    def _place(self, *_):
        w = self.widget
        for line, inset in self._lines:
            line.rectangle = (w.x + inset, w.y + inset, w.width - 2 * inset, w.height - 2 * inset)

    def hide(self) -> None:
        if self.widget is not None and self._group is not None:
            self.widget.canvas.after.remove(self._group)
            self.widget.unbind(pos=self._place, size=self._place)
        self.widget, self._group, self._lines = None, None, []
