"""Step progress ("第 3 步 / 共 9 步") with a segmented bar, and a plain progress bar."""

from __future__ import annotations

from kivy.graphics import Color, RoundedRectangle
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk import theme
from kiosk.widgets.base import Text


class Segments(Widget):
    """`total` segments, the first `index` filled: how far along the errand is."""

    index = NumericProperty(0)
    total = NumericProperty(1)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, index=self._draw, total=self._draw)

    def _draw(self, *_):
        self.canvas.clear()
        n = max(1, int(self.total))
        gap = 8
        w = (self.width - gap * (n - 1)) / n
        with self.canvas:
            for i in range(n):
                Color(*(theme.PROGRESS_FILL if i < self.index else theme.PROGRESS_TRACK))
                RoundedRectangle(pos=(self.x + i * (w + gap), self.y), size=(w, self.height), radius=[self.height / 2])


class StepProgress(BoxLayout):
    """The step counter text over the segment bar."""

    def __init__(self, text: str, index: int, total: int, font_size: float, **kw):
        kw.setdefault("orientation", "vertical")
        kw.setdefault("size_hint_y", None)
        super().__init__(**kw)
        self.label = Text(text=text, font_size=font_size, color=theme.TEXT_MUTED, kiosk_role="body")
        self.bar = Segments(index=index, total=total, size_hint_y=None, height=max(10, font_size * 0.3))
        self.add_widget(self.label)
        self.add_widget(self.bar)
        self.spacing = 10
        self.label.bind(height=self._fit)
        self._fit()

    def _fit(self, *_):
        self.height = self.label.height + self.bar.height + self.spacing


class MeterBar(Widget):
    """A thick progress bar for measurements (value 0..1)."""

    value = NumericProperty(0.0)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, value=self._draw)

    def _draw(self, *_):
        self.canvas.clear()
        r = self.height / 2
        with self.canvas:
            Color(*theme.PROGRESS_TRACK)
            RoundedRectangle(pos=self.pos, size=self.size, radius=[r])
            if self.value > 0:
                Color(*theme.PROGRESS_FILL)
                RoundedRectangle(pos=self.pos, size=(max(self.height, self.width * min(1.0, self.value)), self.height),
                                 radius=[r])
