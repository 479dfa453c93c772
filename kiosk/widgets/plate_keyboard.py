"""Number-plate entry: the province character first (渝 川 贵 …), then letters and digits.

A plate is one province character, a letter, then five or six letters/digits (新能源
plates have six). Letters I and O are not used on plates, so they have no keys. The
kiosk's own province comes first in the grid.
"""

from __future__ import annotations

from typing import Callable

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from flows.services.validation import PLATE_PROVINCES
from kiosk.widgets.base import Column
from kiosk.widgets.buttons import BigButton

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
HOME_FIRST = "渝川贵鄂湘陕"


def province_order() -> list[str]:
    return list(dict.fromkeys(HOME_FIRST + PLATE_PROVINCES))


class PlateKeyboard(Column):
    def __init__(self, *, labels: dict[str, str], on_change: Callable[[str], None], max_length: int = 8,
                 key_height: float = 100, font_size: float = 44, value: str = "", **kw):
        kw.setdefault("spacing", 10)
        super().__init__(**kw)
        self.value = value
        self.max_length = max_length
        self._labels, self._on_change = labels, on_change
        self._kh, self._fs = key_height, font_size
        self.grid = GridLayout(cols=8, spacing=8, size_hint_y=None)
        self.add_widget(self.grid)
        edit = BoxLayout(size_hint_y=None, height=key_height, spacing=8)
        edit.add_widget(self._key("delete", labels.get("delete", "delete"), "plate.delete", "quiet"))
        edit.add_widget(self._key("clear", labels.get("clear", "clear"), "plate.clear", "quiet"))
        self.add_widget(edit)
        self._refresh()

    def _key(self, key: str, text: str, kid: str, style: str = "key") -> BigButton:
        b = BigButton(text=text, kiosk_id=kid, style=style, font_size=self._fs, size_hint_y=None, height=self._kh)
        b.bind(on_release=lambda _b, k=key: self.press(k))
        return b

    def press(self, key: str) -> None:
        if key == "delete":
            self.value = self.value[:-1]
        elif key == "clear":
            self.value = ""
        elif len(self.value) < self.max_length:
            self.value += key
        self._refresh()

    def _refresh(self) -> None:
        self.grid.clear_widgets()
        if not self.value:
            for ch in province_order():
                self.grid.add_widget(self._key(ch, ch, f"plate.province.{ch}"))
        else:
            for ch in LETTERS + "0123456789":
                self.grid.add_widget(self._key(ch, ch, f"plate.key.{ch}"))
        rows = -(-len(self.grid.children) // 8)
        self.grid.height = rows * self._kh + (rows - 1) * 8
        self._on_change(self.value)

    def wipe(self) -> None:
        self.value = ""
        self.grid.clear_widgets()
