"""Message catalogs: every citizen-facing string lives in a JSON catalog, none in screen code.

Why JSON and not gettext: flows name their texts with stable keys (`Msg(key, params)`),
not with English source sentences, so a flat key → template map per language is the
natural fit; it needs no compile step (.po → .mo) and a test can check key coverage
directly. Templates use `str.format` fields (`{code}`); a string parameter whose value
has a `value.<v>` entry is translated too (e.g. eye="left" → 左眼).

Languages: `zh` (zh_CN, the default and the reference catalog) and `en`.
"""

from __future__ import annotations

import json
import logging
import string
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from flows.views import Msg

log = logging.getLogger(__name__)

CATALOG_DIR = Path(__file__).parent
LANGUAGES: dict[str, str] = {"zh": "zh_CN", "en": "en"}  # short code -> catalog file stem
DEFAULT_LANGUAGE = "zh"
MISSING_KEY = "ui.missing_text"  # shown (in the current language) when a key has no entry


@lru_cache(maxsize=None)
def load_catalog(lang: str) -> dict[str, str]:
    """`<stem>.json` plus every fragment `<stem>.<area>.json` (one per area, e.g. zh_CN.services.json),
    so work on different areas edits different files; a key defined twice is an error."""
    data: dict[str, str] = {}
    for path in catalog_files(lang):
        part = json.loads(path.read_text(encoding="utf-8"))
        twice = sorted(k for k in part if k in data and not k.startswith("_"))
        if twice:
            raise ValueError(f"{path.name}: keys already defined elsewhere: {twice[:5]}")
        data.update(part)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def catalog_files(lang: str) -> list[Path]:
    stem = LANGUAGES[lang]
    return [CATALOG_DIR / f"{stem}.json", *sorted(CATALOG_DIR.glob(f"{stem}.*.json"))]


class _Lenient(string.Formatter):
    """Leave a placeholder empty instead of raising when a parameter is missing; `{x:yuan}`
    formats an amount in fen as ¥12.50."""

    def get_value(self, key, args, kwargs):  # type: ignore[override]
        if isinstance(key, str):
            return kwargs.get(key, "")
        return super().get_value(key, args, kwargs)

    def format_field(self, value, format_spec):  # type: ignore[override]
        if format_spec == "yuan":
            try:
                fen = int(value)
            except (TypeError, ValueError):
                return str(value)
            return f"¥{fen // 100}.{fen % 100:02d}"
        try:
            return super().format_field(value, format_spec)
        except (TypeError, ValueError):
            return str(value)


_formatter = _Lenient()


class Translator:
    """Turns keys and `Msg`s into text in one language."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE):
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; choose one of {sorted(LANGUAGES)}")
        self.lang = lang
        self.catalog = load_catalog(lang)

    def has(self, key: str) -> bool:
        return key in self.catalog

    def __call__(self, key: str, **params: object) -> str:
        template = self.catalog.get(key)
        if template is None:
            template = self._fallback(key)
        return _formatter.format(template, **self._params(params))

    def _fallback(self, key: str) -> str:
        """`a.b.c` missing: the nearest `a.b._default` / `a._default`, else the missing-text notice."""
        parts = key.split(".")
        for n in range(len(parts) - 1, 0, -1):
            default = ".".join(parts[:n]) + "._default"
            if default in self.catalog:
                return self.catalog[default]
        log.warning("i18n: no %s text for key %s", self.lang, key)  # keys never carry personal data
        return self.catalog.get(MISSING_KEY, "…")

    def msg(self, m: Msg | None) -> str:
        return "" if m is None else self(m.key, **m.params)

    def template(self, key: str) -> str:
        """The bare template (for speech: parameters are never spoken, see kiosk.tts)."""
        return self.catalog.get(key, "")

    def _params(self, params: Mapping[str, object]) -> dict[str, object]:
        """Translate parameter values that name something (eye="left", corrected=True, criteria="a,b")."""
        out: dict[str, object] = {}
        for k, v in params.items():
            if isinstance(v, bool):
                v = self.catalog.get(f"value.{str(v).lower()}", v)
            elif isinstance(v, str) and f"value.{v}" in self.catalog:
                v = self.catalog[f"value.{v}"]
            elif isinstance(v, str) and "," in v and all(f"value.{p}" in self.catalog for p in v.split(",")):
                v = self.catalog.get("value._list_separator", ", ").join(self.catalog[f"value.{p}"] for p in v.split(","))
            out[k] = v
        return out
