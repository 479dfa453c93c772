"""A small pinyin → character engine for the street field of a mailing address.

Why our own table and not an IME package (kivy.md §3, measured on this machine class):
pinyinIME costs +223 MiB RSS and 1.4 s to load, Pinyin2Hanzi +82 MiB and 0.4 s; an
address needs a few hundred characters (路 街 号 栋 单元 村 镇 and place names), so a
5 KB JSON table (kiosk/data/pinyin_address.json, ~560 characters, ~50 phrases) costs
well under 1 MiB and loads in milliseconds. Digits and the common address words have
their own keys, so most addresses need few pinyin look-ups at all.

Input is toneless pinyin letters (v for ü). `candidates(letters)` offers whole-word
phrases first, then the characters of the first syllable (longest match), then, for an
unfinished syllable, characters of every syllable it begins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "pinyin_address.json"


@dataclass(frozen=True)
class Candidate:
    text: str
    consumes: int  # how many typed letters picking it uses up


class PinyinTable:
    def __init__(self, syllables: dict[str, str], phrases: dict[str, str]):
        self.syllables = syllables
        self.phrases = phrases
        self._longest = max(map(len, syllables))

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls, path: Path = DATA) -> "PinyinTable":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["syllables"], data["phrases"])

    def first_syllable(self, letters: str) -> str | None:
        for n in range(min(self._longest, len(letters)), 0, -1):
            if letters[:n] in self.syllables:
                return letters[:n]
        return None

    def candidates(self, letters: str, limit: int = 24) -> list[Candidate]:
        letters = letters.lower()
        out: list[Candidate] = []
        seen: set[str] = set()

        def add(text: str, consumes: int) -> None:
            if text not in seen:
                seen.add(text)
                out.append(Candidate(text, consumes))

        if not letters:
            return out
        # whole typed word is a phrase, or begins with one (jiefangbeilu -> 解放碑 …)
        for key in sorted(self.phrases, key=len, reverse=True):
            if letters == key or letters.startswith(key):
                add(self.phrases[key], len(key))
        first = self.first_syllable(letters)
        if first is not None:
            for ch in self.syllables[first]:
                add(ch, len(first))
        if first is None or len(letters) == len(first):
            for syl in sorted(self.syllables):  # unfinished syllable: zh -> 中 镇 ...
                if syl.startswith(letters) and syl != first:
                    for ch in self.syllables[syl]:
                        add(ch, len(letters))
        return out[:limit]
