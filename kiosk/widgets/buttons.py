"""Big, calm buttons: rounded, high-contrast, a visible pressed state, a stable `kiosk_id`."""

from __future__ import annotations

from kivy.graphics import Color, Line, RoundedRectangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.button import Button

from kiosk import theme
from kiosk.widgets.base import FreshTexture
from kiosk.widgets.wrap import CjkWrap

STYLES = {
    # name: (background, pressed background, text colour, border)
    "primary": (theme.PRIMARY, theme.PRIMARY_DOWN, theme.TEXT_ON_DARK, theme.PRIMARY),
    "secondary": (theme.SECONDARY, theme.SELECTED, theme.TEXT, theme.SECONDARY_BORDER),
    "danger": (theme.DANGER, theme.DANGER_DOWN, theme.TEXT_ON_DARK, theme.DANGER),
    "quiet": (theme.BACKGROUND, theme.SELECTED, theme.TEXT, theme.DIVIDER),
    "header": (theme.HEADER, theme.PRIMARY_DOWN, theme.TEXT_ON_DARK, theme.TEXT_ON_DARK),
    "key": (theme.SURFACE, theme.SELECTED, theme.TEXT, theme.DIVIDER),
    "selected": (theme.SELECTED, theme.SELECTED, theme.TEXT, theme.PRIMARY),
    "disabled": (theme.hex_colour("#E4E8ED"), theme.hex_colour("#E4E8ED"), theme.TEXT_MUTED, theme.hex_colour("#E4E8ED")),
}


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
        bg, down, fg, edge = STYLES["disabled" if self.disabled else self.style]
        self._fill_colour.rgba = down if self.state == "down" else bg
        self._edge_colour.rgba = edge
        self.color = fg
        self.disabled_color = fg
        self.fill = list(bg)
        self.edge = list(edge)
