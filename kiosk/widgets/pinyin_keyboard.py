"""On-screen pinyin keyboard: letters, a candidate row, digits and common address words.

Typing letters builds a composition ("jiefang"); the candidate row offers 解放, 街 ...;
tapping one appends it to the value and removes the letters it used. Digits and the
address words (号 路 街 栋 单元 楼 室 -) go straight in. Engine: kiosk.pinyin.
"""

from __future__ import annotations

from typing import Callable

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk import theme
from kiosk.pinyin import Candidate, PinyinTable
from kiosk.widgets.base import Column, Text
from kiosk.widgets.buttons import BigButton

ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
WORDS = ("号", "路", "街", "栋", "单元", "楼", "室", "-")
CANDIDATES_SHOWN = 7


class PinyinKeyboard(Column):
    def __init__(self, *, labels: dict[str, str], on_change: Callable[[str], None], max_length: int = 60,
                 key_height: float = 104, font_size: float = 44, value: str = "", table: PinyinTable | None = None,
                 **kw):
        kw.setdefault("spacing", 10)
        super().__init__(**kw)
        self.table = table or PinyinTable.load()
        self.value = value
        self.letters = ""
        self.page = 0
        self.max_length = max_length
        self._labels = labels
        self._on_change = on_change
        self._kh = key_height
        self._fs = font_size
        top = BoxLayout(size_hint_y=None, height=key_height, spacing=6)
        self.composition = Text(text="", font_size=font_size, color=theme.TEXT, size_hint=(None, 1), width=font_size * 4.2)
        top.add_widget(self.composition)
        self.candidate_row = BoxLayout(spacing=6)
        top.add_widget(self.candidate_row)
        self.add_widget(top)
        for row in ROWS[:2]:
            self.add_widget(self._row([(c, c, f"pinyin.key.{c}") for c in row]))
        last = BoxLayout(size_hint_y=None, height=key_height, spacing=6)  # z…m between Delete and Clear
        for key, text, kid, width in (("delete", labels.get("delete", "⌫"), "pinyin.delete", 1.5),
                                      *((c, c, f"pinyin.key.{c}", 1) for c in ROWS[2]),
                                      ("clear", labels.get("clear", "clear"), "pinyin.clear", 1.5)):
            b = self._key(key, text, kid, "key" if width == 1 else "quiet")
            b.size_hint_x = width
            if width != 1:
                b.font_size = self._fs * 0.8
            last.add_widget(b)
        self.add_widget(last)
        digits = GridLayout(cols=10, spacing=6, size_hint_y=None, height=key_height)
        for d in "1234567890":
            digits.add_widget(self._key(d, d, f"pinyin.digit.{d}"))
        self.add_widget(digits)
        words = GridLayout(cols=len(WORDS), spacing=6, size_hint_y=None, height=key_height)
        for w in WORDS:
            key = self._key(w, w, f"pinyin.word.{w}")
            key.font_size = self._fs * 0.85  # 单元 fits its key
            words.add_widget(key)
        self.add_widget(words)
        self._refresh()

    def _key(self, key: str, text: str, kid: str, style: str = "key") -> BigButton:
        b = BigButton(text=text, kiosk_id=kid, style=style, font_size=self._fs, size_hint_y=None, height=self._kh)
        b.bind(on_release=lambda _b, k=key: self.press(k))
        return b

    def _row(self, keys: list[tuple[str, str, str]], style: str = "key") -> BoxLayout:
        row = BoxLayout(size_hint_y=None, height=self._kh, spacing=6)
        pad = (10 - len(keys)) / 2 if len(keys) < 10 and style == "key" else 0
        if pad:
            row.add_widget(BoxLayout(size_hint_x=pad))
        for key, text, kid in keys:
            row.add_widget(self._key(key, text, kid, style))
        if pad:
            row.add_widget(BoxLayout(size_hint_x=pad))
        return row

    # -- typing --------------------------------------------------------------------------
    def press(self, key: str) -> None:
        if len(key) == 1 and key.isascii() and key.isalpha():
            if len(self.letters) < 24:
                self.letters += key
                self.page = 0
        elif key == "delete":
            if self.letters:
                self.letters = self.letters[:-1]
            else:
                self.value = self.value[:-1]
        elif key == "clear":
            self.letters, self.value = "", ""
        elif key == "more":
            self.page += 1
        else:  # a digit or an address word
            self._append(key)
        self._refresh()

    def pick(self, cand: Candidate) -> None:
        self._append(cand.text)
        self.letters = self.letters[cand.consumes:]
        self.page = 0
        self._refresh()

    def _append(self, text: str) -> None:
        if len(self.value) + len(text) <= self.max_length:
            self.value += text
        self._on_change(self.value)

    def _refresh(self) -> None:
        self.composition.text = self.letters
        self.candidate_row.clear_widgets()
        cands = self.table.candidates(self.letters)
        start = self.page * CANDIDATES_SHOWN
        if start >= len(cands):
            self.page, start = 0, 0
        shown = cands[start:start + CANDIDATES_SHOWN]
        for i, c in enumerate(shown):
            b = BigButton(text=c.text, kiosk_id=f"pinyin.cand.{i}", style="selected", font_size=self._fs,
                          size_hint_y=None, height=self._kh)
            b.bind(on_release=lambda _b, cand=c: self.pick(cand))
            self.candidate_row.add_widget(b)
        if len(cands) > start + CANDIDATES_SHOWN:
            more = BigButton(text=self._labels.get("more", "›"), kiosk_id="pinyin.more", style="quiet",
                             font_size=self._fs * 0.8, size_hint_y=None, height=self._kh)
            more.bind(on_release=lambda _b: self.press("more"))
            self.candidate_row.add_widget(more)
        self._on_change(self.value)

    def wipe(self) -> None:
        self.value, self.letters = "", ""
        self.composition.text = ""
        self.candidate_row.clear_widgets()
