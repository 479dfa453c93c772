"""The terminal's staff screen renders the status and turns a tap into a hold resolution."""

from __future__ import annotations

import wave

from flows.terminal.status import Alarm, HoldView, TerminalStatus
from flows.views import msg
from kiosk.i18n import Translator


def status_with_a_hold() -> TerminalStatus:
    return TerminalStatus(
        terminal_id="t-1", state="held", pending_total=12, current="TA20261207000003", stage="printing_invoice",
        done=5, invoices=4, requisitions=1, per_hour=5, paper_left=495, roll="050002610001:00000006",
        holds=[HoldView(hold_id=3, cause="mismatch", detail={}, actions=("recheck", "realign", "void_form", "reload"),
                        opened_at=0.0)],
        alarms=[Alarm(at=1.0, level="alarm", code="mismatch", hold_id=3, sound=True,
                      text=msg("terminal.alarm.mismatch", core="C:00000006", system="C:00000007", paper="C:00000006"))])


def walk(widget):
    yield widget
    for child in widget.children:
        yield from walk(child)


def by_id(root, kid):
    return next((w for w in walk(root) if getattr(w, "kiosk_id", "") == kid), None)


def test_staff_screen_shows_the_status_and_resolves_with_staff_and_pin():
    from kivy.uix.label import Label

    from kiosk.terminal.screen import TerminalView

    calls = []
    view = TerminalView(Translator("en"), lambda *a: calls.append(a))
    view.render(status_with_a_hold())
    assert "12" in by_id(view, "terminal.queue").text
    assert "TA20261207000003" in by_id(view, "terminal.progress").text
    assert "495" in by_id(view, "terminal.paper").text and "last hour 5" in by_id(view, "terminal.counts").text
    texts = [w.text for w in walk(view.alarms) if isinstance(w, Label)]
    assert any("tax core C:00000006, invoice system C:00000007" in t for t in texts)
    by_id(view, "terminal.field.staff").text = "staff-0042"
    by_id(view, "terminal.field.pin").text = "246810"
    by_id(view, "terminal.field.next_number").text = "00000008"
    by_id(view, "terminal.hold.3.realign").dispatch("on_release")
    assert calls == [(3, "realign", {"next_number": "00000008"}, "staff-0042", "246810")]
    assert by_id(view, "terminal.field.pin").text == ""  # the PIN does not stay on screen
    view.render(status_with_a_hold().model_copy(update={"holds": []}))
    assert by_id(view, "terminal.hold.3.realign") is None


def test_alarm_tone_is_a_short_wav(tmp_path):
    from kiosk.terminal.screen import alarm_tone

    with wave.open(str(alarm_tone(tmp_path / "a.wav")), "rb") as w:
        assert w.getnchannels() == 1 and 0.5 < w.getnframes() / w.getframerate() < 1.0


def test_load_roll_outside_a_hold_takes_code_and_range():
    from kiosk.terminal.screen import TerminalView

    calls = []
    view = TerminalView(Translator("zh"), lambda *a: calls.append(a))
    view.render(status_with_a_hold().model_copy(update={"holds": []}))
    for name, value in (("staff", "staff-7"), ("pin", "246810"), ("invoice_code", "050002610002"),
                        ("first_number", "00000001"), ("last_number", "00000500")):
        by_id(view, f"terminal.field.{name}").text = value
    by_id(view, "terminal.load_roll").dispatch("on_release")
    assert calls == [(0, "load_roll", {"invoice_code": "050002610002", "first_number": "00000001",
                                       "last_number": "00000500"}, "staff-7", "246810")]
