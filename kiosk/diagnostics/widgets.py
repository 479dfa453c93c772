"""Small layout pieces of the maintenance screens (cards that fit their text, button rows)."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk import theme
from kiosk.widgets.base import Panel, Text
from kiosk.widgets.buttons import BigButton

OK_MARK = "✔"  # the state is said in words too: colour is never the only signal
BAD_MARK = "✘"


class Card(Panel):
    """A white card whose height follows its children (all with size_hint_y=None)."""

    def __init__(self, **kw):
        kw.setdefault("orientation", "vertical")
        kw.setdefault("size_hint_y", None)
        kw.setdefault("bg", list(theme.SURFACE))
        kw.setdefault("border", list(theme.DIVIDER))
        super().__init__(**kw)
        self.bind(children=self._watch, padding=self._fit, spacing=self._fit)

    def _watch(self, *_):
        for c in self.children:
            c.unbind(height=self._fit)
            c.bind(height=self._fit)
        self._fit()

    def _fit(self, *_):
        pad = self.padding
        vpad = pad[1] + pad[3] if len(pad) == 4 else (pad[1] * 2 if len(pad) == 2 else pad[0] * 2)
        n = len(self.children)
        self.height = sum(c.height for c in self.children) + self.spacing * max(0, n - 1) + vpad


def line(text: str, size: float, *, bold: bool = False, muted: bool = False, colour=None, kid: str = "") -> Text:
    t = Text(text=text, font_size=size, bold=bold, color=colour or (theme.TEXT_MUTED if muted else theme.TEXT),
             line_height=1.2)
    if kid:
        t.kiosk_id = kid  # type: ignore[attr-defined]
    return t


def button(kid: str, text: str, handler, *, size: float, height: float, style: str = "secondary",
           **kw) -> BigButton:
    b = BigButton(text=text, kiosk_id=kid, style=style, font_size=size, size_hint_y=None, height=height, **kw)
    b.bind(on_release=lambda _b: handler())
    return b


def button_row(buttons: list[BigButton], *, height: float, spacing: float) -> BoxLayout:
    row = BoxLayout(size_hint_y=None, height=height, spacing=spacing)
    for b in buttons:
        row.add_widget(b)
    return row
