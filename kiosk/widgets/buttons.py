"""Big, calm buttons: rounded, high-contrast, a visible pressed state, a stable `kiosk_id`."""

from __future__ import annotations

from kivy.graphics import Color, Line, RoundedRectangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.button import Button

from kiosk import theme
from kiosk.widgets.base import FreshTexture
from kiosk.widgets.wrap import CjkWrap

def styles() -> dict[str, tuple]:
    """name: (background, pressed background, text colour, border), in the palette in use (kiosk.theme)."""
    t = theme
    return {
        "primary": (t.PRIMARY, t.PRIMARY_DOWN, t.TEXT_ON_PRIMARY, t.PRIMARY),
        "secondary": (t.SECONDARY, t.SELECTED, t.TEXT, t.SECONDARY_BORDER),
        "danger": (t.DANGER, t.DANGER_DOWN, t.TEXT_ON_PRIMARY, t.DANGER),
        "quiet": (t.BACKGROUND, t.SELECTED, t.TEXT, t.DIVIDER),
        "header": (t.HEADER, t.PRIMARY_DOWN if t.palette is t.NORMAL else t.SELECTED, t.TEXT_ON_DARK, t.TEXT_ON_DARK),
        "key": (t.SURFACE, t.SELECTED, t.TEXT, t.DIVIDER),
        "selected": (t.SELECTED, t.SELECTED, t.TEXT, t.PRIMARY),
        "disabled": (t.DISABLED, t.DISABLED, t.TEXT_MUTED, t.DISABLED if t.palette is t.NORMAL else t.TEXT_MUTED),
    }


STYLES = styles()  # the normal palette's (kept for readers of the old name)


class BigButton(CjkWrap, FreshTexture, Button):
    """A touch target; `kiosk_id` names it for the autopilot, tests and the target audit."""

    kiosk_id = StringProperty("")
    style = StringProperty("primary")
    radius = NumericProperty(16)
    fill = ListProperty([0, 0, 0, 0])
    edge = ListProperty([0, 0, 0, 0])
    primary = BooleanProperty(False)  # a primary action: aim ≥ 120 px tall

    def __init__(self, **kw):
        kw.setdefault("halign", "center")
        kw.setdefault("valign", "middle")
        super().__init__(**kw)
        self.background_normal = ""
        self.background_down = ""
        self.background_color = (0, 0, 0, 0)
        with self.canvas.before:
            self._fill_colour = Color(0, 0, 0, 0)
            self._shape = RoundedRectangle(pos=self.pos, size=self.size, radius=[self.radius])
            self._edge_colour = Color(0, 0, 0, 0)
            self._edge = Line(rounded_rectangle=(*self.pos, *self.size, self.radius), width=2)
        self.bind(pos=self._redraw, size=self._redraw, state=self._restyle, style=self._restyle,
                  disabled=self._restyle)
        self._restyle()
        self.wrap_inset = 24
        self.init_wrap()

    def _redraw(self, *_):
        self._shape.pos, self._shape.size = self.pos, self.size
        self._edge.rounded_rectangle = (*self.pos, *self.size, self.radius)
        self.text_size = (max(1, self.width - 24), None)

    def _restyle(self, *_):
        bg, down, fg, edge = styles()["disabled" if self.disabled else self.style]
        self._fill_colour.rgba = down if self.state == "down" else bg
        self._edge_colour.rgba = edge
        self.color = fg
        self.disabled_color = fg
        self.fill = list(bg)
        self.edge = list(edge)
