"""The message catalogs cover every key the flows can show, in both languages, in a font that has the glyphs."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from flows.registry import FLOWS
from kiosk.i18n import Translator, load_catalog

from .catalog_keys import ROOT, all_keys


@pytest.fixture(scope="module")
def flow_keys():
    keys, unexpanded = all_keys(list(FLOWS))
    assert not unexpanded, f"f-string i18n keys without an expansion in tests/ui/catalog_keys.py: {unexpanded}"
    return keys


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_catalog_has_every_flow_key(lang, flow_keys):
    catalog = load_catalog(lang)
    missing = sorted(k for k in flow_keys if k not in catalog)
    assert not missing, f"{lang}: {len(missing)} keys missing, e.g. {missing[:15]}"
    assert len(flow_keys) > 300  # the scan really found the flows' keys


def test_both_catalogs_have_the_same_keys_and_placeholders():
    zh, en = load_catalog("zh"), load_catalog("en")
    assert set(zh) == set(en), sorted(set(zh) ^ set(en))

    def fields(t):
        return {f for _, f, _, _ in string.Formatter().parse(t) if f}

    differ = [k for k in zh if fields(zh[k]) != fields(en[k])]
    assert not differ, differ


def test_every_service_and_device_error_code_has_text():
    catalog = load_catalog("zh")
    for name in FLOWS:
        assert f"service.{name}.title" in catalog and f"service.{name}.desc" in catalog
    codes = set()
    for path in (ROOT / "peripherals").rglob("errors.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "code" for t in node.targets):
                if isinstance(node.value, ast.Constant):
                    codes.add(node.value.value)
    assert len(codes) > 20
    assert not sorted(c for c in codes if f"code.{c}" not in catalog)


def test_translator_formats_params_values_lists_and_money():
    zh, en = Translator("zh"), Translator("en")
    assert zh("vision.look_into_tester", eye="left").startswith("请用左眼")
    assert "left eye" in en("vision.look_into_tester", eye="left")
    assert zh("renewal.medical.failed", criteria="vision,colour_vision") == "体检结果不符合换证要求：视力、辨色力。"
    assert "¥128.50" in zh("payment.scan_qr", amount_fen=12850, qr="x", order_id="o")
    assert zh("error.rejected.some_new_code") == zh("error.rejected._default")  # unknown codes still read well
    assert zh("no.such.key") == zh("ui.missing_text")


def _font_cmap() -> set[int]:
    fontTools = pytest.importorskip("fontTools.ttLib")
    from kiosk.fonts import font_path

    path = font_path()
    font = fontTools.TTCollection(str(path)).fonts[0] if path.suffix == ".ttc" else fontTools.TTFont(str(path))
    return set(font.getBestCmap())  # face 0: the one Kivy's SDL_ttf opens


def test_no_missing_glyphs_in_any_text_the_kiosk_can_show():
    """Tofu check by cmap: every character of every catalog string, region name, pinyin candidate and key label."""
    from kiosk.pinyin import PinyinTable
    from kiosk.regions import load_regions
    from kiosk.widgets.pinyin_keyboard import WORDS

    cmap = _font_cmap()
    texts: list[str] = []
    for lang in ("zh", "en"):
        texts += load_catalog(lang).values()  # the main file and every fragment
    regions = load_regions()
    for p in regions.provinces:
        texts += [p.name, p.en] + [c.name for c in p.cities] + [d.name + d.en for c in p.cities for d in c.districts]
    table = PinyinTable.load()
    texts += list(table.syllables.values()) + list(table.phrases.values()) + list(WORDS)
    texts += ["✓ ", "！", "¥", "›", "·", "…", "0123456789-%"]
    missing = sorted({ch for t in texts for ch in t if ch not in "\n\t" and ord(ch) not in cmap})
    assert not missing, f"characters without a glyph in the kiosk font: {missing}"
