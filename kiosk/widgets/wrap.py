"""Line breaking for Chinese text (Kivy breaks lines only at spaces).

Kivy's text layout wraps at spaces; a Chinese sentence has none, so Kivy either keeps it
on one line or, when it is too long, cuts it anywhere — before a full stop, or through
the middle of a number ("脉搏7 / 2次/分"). This module breaks lines itself, before
Kivy sees the text, with the basic rules of Chinese typesetting (GB/T 15834 punctuation
placement, JIS X 4051-style kinsoku):

- a break may fall between two Chinese characters, or at a space;
- never inside a run of Latin letters/digits (numbers, codes, "App", "7-3");
- never before closing punctuation (，。、；：？！）》”…), never after opening (（《“).
"""

from __future__ import annotations

import re
from typing import Callable

NO_BREAK_BEFORE = set("，。、；：？！）》」』”’…%·,.;:?!)]}%/")
NO_BREAK_AFTER = set("（《「『“‘([{¥/")
_LATIN = re.compile(r"[A-Za-z0-9¥$€.,:/%\-+@#_'’()\[\]]+")


def units(paragraph: str) -> list[str]:
    """Unbreakable pieces: a Latin/digit run, a space, or one other character, with punctuation glued on."""
    raw: list[str] = []
    i = 0
    while i < len(paragraph):
        m = _LATIN.match(paragraph, i)
        if m and m.end() > i:
            raw.append(m.group())
            i = m.end()
        else:
            raw.append(paragraph[i])
            i += 1
    out: list[str] = []
    for u in raw:
        if out and (u[0] in NO_BREAK_BEFORE or out[-1][-1] in NO_BREAK_AFTER) and u != " " and out[-1] != " ":
            out[-1] += u
        else:
            out.append(u)
    return out


def break_lines(text: str, measure: Callable[[str], float], width: float) -> str:
    """`text` with newlines inserted so no line is wider than `width` (a unit wider than that stays whole)."""
    if width <= 0:
        return text
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for u in units(paragraph):
            candidate = line + u
            if line and measure(candidate.rstrip()) > width:
                lines.append(line.rstrip())
                line = "" if u == " " else u
            else:
                line = candidate
        lines.append(line.rstrip())
    return "\n".join(lines)


class CjkWrap:
    """Mixin for Label subclasses: keeps `text` broken into lines by `break_lines` for the
    label's current width and font. Set `text` as usual; the unbroken text is `source_text`."""

    wrap_inset = 0  # pixels of the width the label's text_size leaves out (buttons: padding)

    def init_wrap(self) -> None:
        self.source_text = self.text
        self._wrapped_text: str | None = None
        self.bind(text=self._text_set, width=self._rewrap, font_size=self._rewrap, bold=self._rewrap)

    def _text_set(self, *_):
        if self.text != self._wrapped_text:
            self.source_text = self.text
            self._rewrap()

    def _rewrap(self, *_):
        core = getattr(self, "_label", None)
        avail = self.width - self.wrap_inset - 4
        if core is None or avail <= 10 or not self.source_text:
            return
        wrapped = break_lines(self.source_text, lambda s: core.get_extents(s)[0], avail)
        if wrapped != self.text:
            self._wrapped_text = wrapped
            self.text = wrapped
