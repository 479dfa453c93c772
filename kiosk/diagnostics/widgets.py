"""Small layout pieces of the maintenance screens (cards that fit their text, button rows)."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk import theme
from kiosk.widgets.base import FollowsChildrenHeight, Panel, Text
from kiosk.widgets.buttons import BigButton

OK_MARK = "✔"  # the state is said in words too: colour is never the only signal
BAD_MARK = "✘"


class Card(FollowsChildrenHeight, Panel):
    """A white card whose height follows its children (all with size_hint_y=None)."""

    def __init__(self, **kw):
        kw.setdefault("orientation", "vertical")
        kw.setdefault("size_hint_y", None)
        kw.setdefault("bg", list(theme.SURFACE))
        kw.setdefault("border", list(theme.DIVIDER))
        super().__init__(**kw)
        self.follow_children_height()


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
