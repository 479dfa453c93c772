"""The screenshot audit on every kind of screen, in Chinese, English and large-text mode."""

from __future__ import annotations

import pytest

from flows.clock import ManualClock
from flows.engine import EngineSettings
from kiosk.app import KioskOptions, create_app
from kiosk.autopilot import grab_window

from .audit import audit, contrast
from .demo_support import PHONE, demo_service

SETTINGS = EngineSettings(ask_timeout_s=60, warning_s=30)


def test_contrast_formula_matches_wcag():
    assert round(contrast((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(contrast((118, 118, 118), (255, 255, 255)), 1) == 4.5  # #767676 on white: the AA edge


@pytest.mark.parametrize("lang,elderly", [("zh", False), ("en", False), ("zh", True)])
def test_every_screen_passes_the_audit(kivy_ui, artifacts, lang, elderly):
    app = kivy_ui.start(create_app(KioskOptions(lang=lang, elderly=elderly, engine=SETTINGS, final_linger_s=60),
                                   [demo_service()], flow_clock=ManualClock()))
    problems: list[str] = []
    seen: list[str] = []
    shots = artifacts / f"audit-{lang}{'-elderly' if elderly else ''}"
    shots.mkdir(parents=True, exist_ok=True)

    def check(label: str) -> None:
        kivy_ui.frames(3)
        image = grab_window()
        image.save(shots / f"{len(seen) + 1:02d}-{label}.png", compress_level=1)
        problems.extend(audit(app.sm.current_screen, image, lang))
        seen.append(label)

    check("home")
    kivy_ui.tap("home.service.demo")
    kivy_ui.wait_screen("consent")
    check("consent")
    kivy_ui.tap("consent.identity.yes")
    if kivy_ui.find("consent.next") is not None:  # large text: one consent per page
        kivy_ui.tap("consent.next")
    kivy_ui.tap("consent.contact.no")
    check("consent-answered")
    kivy_ui.tap("consent.contact.yes")
    kivy_ui.tap("consent.confirm")
    kivy_ui.wait_screen("form")
    for d in PHONE[:5]:
        kivy_ui.tap(f"keypad.{d}")
    kivy_ui.tap("form.submit")  # too short: the form says what is wrong
    check("form-error")
    kivy_ui.tap("nav.help")
    kivy_ui.wait_screen("help")
    check("help")
    kivy_ui.tap("help.return")
    kivy_ui.wait_screen("form")
    kivy_ui.tap("nav.cancel")
    check("cancel-confirm")
    kivy_ui.tap("cancel.no")
    app.host.call_soon(app.flow_clock.advance, 60 * (2 if elderly else 1))
    kivy_ui.wait_screen("idle_warning")
    check("idle-warning")
    kivy_ui.tap("idle.more_time")
    kivy_ui.wait_screen("form")
    for d in PHONE[5:]:
        kivy_ui.tap(f"keypad.{d}")
    kivy_ui.tap("form.submit")
    kivy_ui.wait_screen("choice")
    check("choice")
    kivy_ui.tap("option.submit")
    kivy_ui.wait_screen("result")
    check("result")
    kivy_ui.tap("result.done")
    kivy_ui.wait_screen("home")
    app.set_out_of_service("devices")
    check("out-of-service")
    assert len(seen) == 10
    assert not problems, "\n".join(problems)


def test_the_audit_catches_faint_text_small_targets_and_tofu(kivy_ui):
    from kiosk.widgets.base import Text
    from kiosk.widgets.buttons import BigButton

    app = kivy_ui.start(create_app(KioskOptions(), [demo_service()]))
    home = app.screens["home"]
    box = home.root_box.children[0]
    box.add_widget(Text(text="浅灰色的字", font_size=40, color=(0.62, 0.62, 0.62, 1)), index=0)
    box.add_widget(BigButton(text="小", kiosk_id="tiny", size_hint=(None, None), size=(50, 50), font_size=32), index=0)
    box.add_widget(Text(text="\ue000", font_size=40), index=0)  # a private-use character: no glyph
    kivy_ui.frames(4)
    problems = " ".join(audit(home, grab_window(), "zh"))
    assert "contrast" in problems and "浅灰色的字" in problems
    assert "target tiny is 50×50" in problems
    assert "no glyph" in problems
