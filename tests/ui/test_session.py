"""Time limits and forgetting: the idle warning, "I need more time" (≥ 20 s, ≥ 10 times), the
timeout ending the session, and nothing personal left in any widget afterwards.

The flow runs on the engine's ManualClock (advanced on the flow loop), so the minutes of
the time limits pass in a few frames.
"""

from __future__ import annotations

from flows.clock import ManualClock
from flows.engine import EngineSettings
from kiosk.app import KioskOptions, create_app
from kiosk.autopilot import walk
from kiosk.tts import RecordingSpeaker

from .demo_support import ID_NUMBER, NAME, PHONE, demo_service

SETTINGS = EngineSettings(ask_timeout_s=60, warning_s=30, extension_s=60, max_extensions=10)


def advance(app, ui, seconds: float) -> None:
    app.host.call_soon(app.flow_clock.advance, seconds)
    ui.frames(3)


def all_texts(app) -> list[str]:
    out = []
    for screen in app.screens.values():
        for w in walk(screen):
            text = getattr(w, "text", None)
            if isinstance(text, str) and text:
                out.append(text)
    return out


def to_contact_form(ui, app) -> None:
    ui.tap("home.service.demo")
    ui.wait_screen("consent")
    ui.tap("consent.identity.yes")
    ui.tap("consent.contact.yes")
    ui.tap("consent.confirm")
    ui.wait_screen("form")
    for digit in PHONE[:7]:  # typed, not sent: personal data on the screen
        ui.tap(f"keypad.{digit}")
    assert "138 0013" in ui.app.screens["form"].entry.label.text


def test_idle_warning_more_time_ten_times_then_timeout_wipes_everything(kivy_ui):
    speaker = RecordingSpeaker()
    app = kivy_ui.start(create_app(KioskOptions(engine=SETTINGS, final_linger_s=0.05), [demo_service()],
                                   speaker=speaker, flow_clock=ManualClock()))
    to_contact_form(kivy_ui, app)
    assert NAME not in " ".join(all_texts(app))  # the card holder's name is never shown by the demo
    for n in range(10):
        advance(app, kivy_ui, 60)  # the form's time limit passes
        kivy_ui.wait_screen("idle_warning")
        screen = app.screens["idle_warning"]
        seconds = int("".join(c for c in screen.countdown.text if c.isdigit()))
        assert 20 <= seconds <= 30  # counts down from the warning time (real seconds tick on screen)
        assert str(10 - n) in " ".join(all_texts(app))  # "you can ask for more time N more times"
        advance(app, kivy_ui, 19)  # most of the warning passes: still time to answer
        kivy_ui.tap("idle.more_time")
        kivy_ui.wait_screen("form")
        assert "138 0013" in app.screens["form"].entry.label.text  # what was typed is still there
        assert app.current_view.timeout_s >= 20  # WCAG 2.2.1: at least 20 s more
        if n == 0:
            advance(app, kivy_ui, 20)
            assert app.sm.current == "form"  # 20 s after "more time" the citizen is still undisturbed
    advance(app, kivy_ui, 60)
    kivy_ui.wait_screen("idle_warning")
    assert kivy_ui.find("idle.more_time") is None  # extensions used up: only "end now" is left
    advance(app, kivy_ui, 30)  # silence: the session ends
    kivy_ui.wait_for(lambda: app.session.last_status == "aborted", what="the flow to end")
    assert app.session.last_reason == "idle_timeout"
    kivy_ui.wait_screen("home")
    texts = " ".join(all_texts(app))
    for secret in (PHONE[:7], "138 0013", ID_NUMBER, NAME):
        assert secret not in texts, f"{secret!r} still in a widget after the timeout"
    assert app.session.current is None and app.current_view is None
    assert app.screens["form"].values == {}
    spoken = " ".join(t for _, t in speaker.spoken)
    assert "13800" not in spoken


def test_cancel_asks_first_then_ends_and_wipes(kivy_ui):
    app = kivy_ui.start(create_app(KioskOptions(engine=SETTINGS, final_linger_s=30), [demo_service()],
                                   flow_clock=ManualClock()))
    to_contact_form(kivy_ui, app)
    kivy_ui.tap("nav.cancel")
    assert kivy_ui.find("cancel.no") is not None  # "really cancel?" — a slip of the finger loses nothing
    kivy_ui.tap("cancel.no")
    assert app.sm.current == "form" and "138 0013" in app.screens["form"].entry.label.text
    kivy_ui.tap("nav.cancel")
    kivy_ui.tap("cancel.yes")
    kivy_ui.wait_screen("result")
    kivy_ui.tap("result.done")
    kivy_ui.wait_screen("home")
    assert "138 0013" not in " ".join(all_texts(app))


def test_language_voice_and_large_text_switch_on_any_screen(kivy_ui):
    speaker = RecordingSpeaker()
    app = kivy_ui.start(create_app(KioskOptions(engine=SETTINGS), [demo_service()], speaker=speaker,
                                   flow_clock=ManualClock()))
    to_contact_form(kivy_ui, app)
    heading_zh = app.screens["form"].root_box.children  # rebuilt on switch
    kivy_ui.tap("chrome.language")
    assert app.lang == "en" and "Enter your mobile number" in " ".join(all_texts(app))
    assert "138 0013" in app.screens["form"].entry.label.text  # switching language keeps the typing
    assert speaker.spoken[-1][0] == "en"
    body_before = app.sizes.body
    kivy_ui.tap("chrome.elderly")
    assert app.elderly and app.sizes.body > body_before
    kivy_ui.tap("chrome.voice")
    n = len(speaker.spoken)
    kivy_ui.tap("chrome.language")
    assert speaker.muted and len(speaker.spoken) == n  # muted: nothing more is said
    assert heading_zh is not None


def test_escape_and_window_close_do_not_end_the_kiosk(kivy_ui):
    from kivy.base import EventLoop
    from kivy.config import Config
    from kivy.core.window import Window

    app = kivy_ui.start(create_app(KioskOptions(), [demo_service()]))
    assert Config.get("kivy", "exit_on_escape") == "0"
    assert Config.get("graphics", "show_cursor") == "0" and Config.get("graphics", "allow_screensaver") == "0"
    assert "disable_on_activity" in Config.get("input", "mouse")  # one touch, not two, on a touch screen seen as a mouse
    Window.dispatch("on_keyboard", 27, 0, "", [])
    assert Window.dispatch("on_request_close") is True  # vetoed
    kivy_ui.frames(2)
    assert not EventLoop.quit and app.sm.current == "home"
