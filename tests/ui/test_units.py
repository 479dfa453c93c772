"""Pieces without a window: pinyin engine, regions, speech text, flow host threading, formatting."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import yaml

from flows.demo import DemoDeps, DemoFlow
from flows.views import Action, ViewKind
from kiosk.flowhost import FlowHost, SessionSpec
from kiosk.i18n import load_catalog
from kiosk.pinyin import PinyinTable
from kiosk.regions import load_regions
from kiosk.tts import speech_text
from kiosk.widgets.keypad import format_date, format_phone

from .catalog_keys import ROOT
from .demo_support import FakeBackoffice


def test_pinyin_offers_phrases_then_characters_and_unfinished_syllables():
    t = PinyinTable.load()
    cands = t.candidates("jiefangbei")
    assert cands[0].text == "解放碑" and cands[0].consumes == 10
    assert any(c.text == "解" and c.consumes == 3 for c in cands)
    assert "路" in [c.text for c in t.candidates("lu")]
    assert "中" in [c.text for c in t.candidates("zh")]  # an unfinished syllable still offers characters
    assert t.candidates("") == []


def test_every_shipped_answer_text_can_be_typed_on_the_kiosk_keyboards():
    """The autopilot types the answers files' street, names and items: every character must have a key."""
    from kiosk.widgets.pinyin_keyboard import WORDS
    from kiosk.widgets.plate_keyboard import LETTERS, province_order

    table = PinyinTable.load()
    typeable = set("".join(table.syllables.values())) | set("".join(WORDS)) | set("0123456789")
    for path in sorted((ROOT / "examples" / "answers").glob("*.yaml")):
        answers = yaml.safe_load(path.read_text(encoding="utf-8"))["answers"]
        for step, value in answers.items():
            if not isinstance(value, dict):
                continue
            for name, text in value.items():
                if name in ("street", "recipient_name", "item"):
                    missing = {c for c in str(text) if c not in typeable}
                    assert not missing, f"{path.name}: {name} needs {missing}"
                if name == "plate":
                    assert text[0] in province_order() and all(c in LETTERS + "0123456789" for c in text[1:])


def test_regions_cover_chongqing_and_match_the_back_office_provinces():
    from flows.services.validation import PROVINCES

    regions = load_regions()
    assert regions.provinces[0].name == "重庆市"
    cq = regions.city("重庆市", "重庆市")
    assert len(cq.districts) == 38 and "渝中区" in [d.name for d in cq.districts]
    assert all(p.name in PROVINCES for p in regions.provinces)


def test_speech_never_carries_parameters():
    for lang in ("zh", "en"):
        for key, template in load_catalog(lang).items():
            spoken = speech_text(template)
            assert "{" not in spoken and "}" not in spoken, key
    assert speech_text("您的血压是{systolic}/{diastolic}毫米汞柱") == "您的血压是/毫米汞柱"


def test_phone_and_date_formatting():
    assert format_phone("13800138000") == "138 0013 8000"
    assert format_phone("1380") == "138 0"
    assert format_date("2022120") == "2022-12-0"


class BlockingReader:
    """A badly behaved device: blocks the flow loop's thread for a second."""

    async def read(self):
        time.sleep(1.0)
        return "11010519491231002X", "王秀英"


def test_the_ui_thread_never_waits_for_the_flow():
    posted: list = []
    host = FlowHost(post=posted.append)
    try:
        views: list = []
        session = host.start(SessionSpec(flow=DemoFlow(), deps_factory=lambda: DemoDeps(BlockingReader(), FakeBackoffice())),
                             views.append, lambda outcome: None)
        deadline = time.monotonic() + 5
        while not posted and time.monotonic() < deadline:
            time.sleep(0.01)
        t0 = time.perf_counter()
        for _ in range(100):  # "UI thread" work while the flow's device call blocks its own thread
            session.act(Action.help())
        assert time.perf_counter() - t0 < 0.1
        assert threading.current_thread() is threading.main_thread()
        while posted:
            posted.pop(0)()
        assert views and views[0].kind is ViewKind.PROMPT
    finally:
        session.close()
        host.stop()


def test_chinese_line_breaking_keeps_numbers_whole_and_punctuation_attached():
    from kiosk.widgets.wrap import break_lines

    def measure(s: str) -> float:
        return len(s) * 10

    text = "您的血压是128/82毫米汞柱，脉搏72次/分，在正常范围内。"
    lines = break_lines(text, measure, 160).split("\n")
    assert "".join(lines) == text
    assert all(measure(line) <= 160 for line in lines if not line.startswith("128"))
    assert not any(line[0] in "，。、" for line in lines)  # no line starts with closing punctuation
    assert any("128/82" in line for line in lines) and any("72次/分" in line for line in lines)
    assert break_lines("keep still and do not talk", measure, 100) == "keep still\nand do not\ntalk"
