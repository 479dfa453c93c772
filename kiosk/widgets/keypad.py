"""A big 3×4 numeric keypad (phone numbers, digits, numbers, dates) and the entry box it types into.

Keys are ≥ 120 px tall; "5" sits in the centre as on a phone (Section 508 §407.3 asks
for a tactile 5 on hardware keypads). The keypad owns the typed value; nothing goes
through a TextInput or the OS keyboard.
"""

from __future__ import annotations

from typing import Callable

from kivy.properties import StringProperty
from kivy.uix.gridlayout import GridLayout

from kiosk import theme
from kiosk.widgets.base import Panel, Text
from kiosk.widgets.buttons import BigButton


def format_phone(digits: str) -> str:
    """138 0013 8000: groups a mainland mobile number the way people read it aloud."""
    parts = [digits[:3], digits[3:7], digits[7:]]
    return " ".join(p for p in parts if p)


def format_date(digits: str) -> str:
    """YYYY-MM-DD as the digits arrive."""
    out = digits[:4]
    if len(digits) > 4:
        out += "-" + digits[4:6]
    if len(digits) > 6:
        out += "-" + digits[6:8]
    return out


class EntryBox(Panel):
    """Shows what has been typed (or a muted hint) in a bordered box."""

    value_text = StringProperty("")

    def __init__(self, hint: str, font_size: float, **kw):
        kw.setdefault("size_hint_y", None)
        kw.setdefault("padding", (28, 12))
        super().__init__(bg=list(theme.SURFACE), border=list(theme.SECONDARY_BORDER), **kw)
        self.hint = hint
        self.label = Text(text=hint, font_size=font_size * 1.2, color=theme.TEXT_MUTED, kiosk_role="body")
        self.add_widget(self.label)
        self.least = max(font_size * 2.4, 110)
        self.height = self.least
        self.label.bind(height=self._grow)  # a long hint or value wraps: the box grows, nothing is cut
        self.bind(value_text=self._show)

    def _grow(self, *_):
        pad = self.padding
        self.height = max(self.least, self.label.height + (pad[1] + pad[3] if len(pad) == 4 else 2 * pad[1]))

    def _show(self, *_):
        if self.value_text:
            self.label.text = self.value_text
            self.label.color = theme.TEXT
        else:
            self.label.text = self.hint
            self.label.color = theme.TEXT_MUTED

    def wipe(self) -> None:
        self.value_text = ""
        self.label.text = ""


class NumericKeypad(GridLayout):
    """Digits 1–9, then Clear, 0, Delete (or "." for decimal numbers)."""

    def __init__(self, *, labels: dict[str, str], on_change: Callable[[str], None], max_length: int = 11,
                 decimal: bool = False, key_height: float = 132, font_size: float = 56, value: str = "", **kw):
        kw.setdefault("cols", 3)
        kw.setdefault("spacing", 16)
        kw.setdefault("size_hint_y", None)
        super().__init__(**kw)
        self.value = value
        self.max_length = max_length
        self._on_change = on_change
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear" if not decimal else ".", "0", "delete"]
        for key in keys:
            text = labels.get(key, key)
            style = "key" if key.isdigit() or key == "." else "quiet"
            size = font_size if key.isdigit() or key == "." else font_size * 0.7
            b = BigButton(text=text, kiosk_id=f"keypad.{key}", style=style, font_size=size,
                          size_hint_y=None, height=key_height)
            b.bind(on_release=lambda _b, k=key: self.press(k))
            self.add_widget(b)
        self.height = 4 * key_height + 3 * self.spacing[1]

    def press(self, key: str) -> None:
        if key == "clear":
            self.value = ""
        elif key == "delete":
            self.value = self.value[:-1]
        elif len(self.value) < self.max_length and not (key == "." and "." in self.value):
            self.value += key
        self._on_change(self.value)

    def wipe(self) -> None:
        self.value = ""
