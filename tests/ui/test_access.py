"""Elderly mode's slower speech, longer time limits and Repeat; the keypad guide's small rules
(volume, pause, back/help keys, the focus ring); the high-contrast theme and the text-size step.
Demo flow, no devices: each test takes a few frames."""

from __future__ import annotations

from flows.engine import EngineSettings
from kiosk.app import KioskOptions, create_app
from kiosk.keys import CODE_FOR, Command
from kiosk.tts import DEFAULT_VOLUME, ELDERLY_RATE_WPM, RATE_WPM, FileSpeaker

from .demo_support import demo_service

SETTINGS = EngineSettings(ask_timeout_s=60, warning_s=30, extension_s=60, max_extensions=10)


def key(ui, cmd: Command, frames: int = 2) -> None:
    from kivy.core.window import Window

    Window.dispatch("on_key_down", CODE_FOR[cmd], 0, None, [])
    ui.frames(frames)


def start(ui, tmp_path, **opts):
    speaker = FileSpeaker(tmp_path / "speech.jsonl")
    app = ui.start(create_app(KioskOptions(engine=SETTINGS, **opts), [demo_service()], speaker=speaker))
    return app, speaker


def test_elderly_mode_speaks_slower_waits_longer_and_repeats_on_request(kivy_ui, tmp_path):
    app, speaker = start(kivy_ui, tmp_path, elderly=True)
    kivy_ui.tap("home.service.demo")
    kivy_ui.wait_screen("consent")
    assert app.current_view.timeout_s == 120  # the engine's 60 s × 2
    said = speaker.lines()
    assert said and all(line["rate_wpm"] == ELDERLY_RATE_WPM < RATE_WPM for line in said)
    prompt = said[-1]["text"]
    kivy_ui.tap("chrome.repeat")  # the header's Repeat: on every screen
    assert speaker.lines()[-1]["text"] == prompt and len(speaker.lines()) == len(said) + 1
    kivy_ui.tap("chrome.elderly")  # large text off: normal speed again
    kivy_ui.tap("chrome.repeat")
    assert speaker.lines()[-1]["rate_wpm"] == RATE_WPM


def test_keypad_guide_volume_pause_back_and_the_visible_focus(kivy_ui, tmp_path):
    app, speaker = start(kivy_ui, tmp_path)
    guide = app.guide
    key(kivy_ui, Command.NEXT)  # the first key switches the guide on and reads the screen
    assert guide.on and speaker.lines()[-1]["text"].startswith(app.tr("ui.guide.on"))
    key(kivy_ui, Command.NEXT)
    assert guide.focus_id and guide.ring.widget is guide.focused()  # the ring is drawn on the focused button
    assert speaker.lines()[-1]["text"] == guide.describe(guide.focused())
    for _ in range(3):
        key(kivy_ui, Command.VOLUME_UP)
    assert speaker.volume == round(DEFAULT_VOLUME + 0.3, 2) and speaker.lines()[-1]["volume"] == speaker.volume
    key(kivy_ui, Command.BACK)  # nothing to go back to on home: said so
    assert speaker.lines()[-1]["text"] == app.tr("ui.guide.no_back")
    while guide.focus_id != "home.service.demo":
        key(kivy_ui, Command.NEXT, frames=0)
    key(kivy_ui, Command.SELECT)
    kivy_ui.wait_screen("consent")
    kivy_ui.frames(3)
    reading = speaker.lines()[-1]["text"]
    for k in ("ui.consent.agree", "ui.consent.decline"):
        assert app.tr(k) in reading
    key(kivy_ui, Command.NEXT)
    key(kivy_ui, Command.SELECT)  # agree to the first item: the guide says it is chosen
    assert speaker.lines()[-1]["text"].startswith(app.tr("ui.guide.chosen"))
    key(kivy_ui, Command.HELP)
    kivy_ui.wait_screen("help")
    app.end_session()
    kivy_ui.frames(2)
    assert not guide.on and speaker.volume == DEFAULT_VOLUME  # reset for the next citizen (508 402.3.2)


def test_high_contrast_and_the_text_size_step_are_switched_on_any_screen_and_last_for_the_session(kivy_ui, tmp_path,
                                                                                                   artifacts):
    from kiosk import theme

    app, _ = start(kivy_ui, tmp_path)
    body = app.sizes.body
    kivy_ui.tap("chrome.access")  # on home
    kivy_ui.tap("access.size.larger")
    assert app.text_size == "larger" and body < app.sizes.body < body * 1.25 and not app.elderly
    kivy_ui.tap("access.contrast.high")
    assert app.high_contrast and theme.BACKGROUND == theme.HIGH_CONTRAST.BACKGROUND
    assert "✓" in kivy_ui.find("access.contrast.high").text  # the panel stays, the choice ticked
    kivy_ui.tap("access.close")
    kivy_ui.tap("home.service.demo")
    kivy_ui.wait_screen("consent")
    from kivy.core.window import Window

    assert app.sizes.body > body and list(Window.clearcolor) == list(theme.HIGH_CONTRAST.BACKGROUND)
    app.screens["consent"].export_to_png(str(artifacts / "consent-high-contrast-larger.png"))
    kivy_ui.tap("chrome.access")  # on a flow screen too
    kivy_ui.tap("access.size.elderly")
    assert app.elderly and app.current_view is not None
    kivy_ui.tap("access.close")
    app.end_session()
    kivy_ui.frames(2)
    assert app.text_size == "normal" and not app.high_contrast and theme.palette is theme.NORMAL
    assert app.sizes.body == body


def test_the_contrast_check_finds_text_too_faint_for_its_background(kivy_ui, tmp_path):
    from kiosk import theme
    from kiosk.widgets.base import Text

    from .contrast_check import check_contrast

    app, _ = start(kivy_ui, tmp_path, high_contrast=True)
    home = app.screens["home"]
    assert check_contrast(home) == []
    home.root_box.add_widget(Text(text="faint", color=theme.PROGRESS_TRACK))  # grey on black
    kivy_ui.frames(2)
    assert any("faint" in p for p in check_contrast(home))


def test_the_key_table_covers_every_command_and_the_keypad_digits():
    from kiosk.keys import KeyPress, key_press

    assert {key_press(code).command for code in CODE_FOR.values()} == set(CODE_FOR)
    assert key_press(261) == KeyPress(Command.TYPE, "5")  # keypad 5 (the tactile one, 508 407.3.3)
    assert key_press(ord("7")) == KeyPress(Command.TYPE, "7") and key_press(ord("j")) == KeyPress(Command.TYPE, "j")
    assert key_press(271).command is Command.SELECT and key_press(1073741824) is None
