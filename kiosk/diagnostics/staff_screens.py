"""The staff screens' common frame (header with language and Exit) and the PIN screen.

Staff screens are `KioskScreen`s of the citizen app (same theme and translator) but keep
the normal sizes in large-text mode. Nothing here waits: the PIN check (scrypt) runs on the
diagnostics pool and its result comes back on the UI thread.
"""

from __future__ import annotations

from datetime import datetime

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.service import Diagnostics
from kiosk.diagnostics.staff_auth import MIN_PIN_DIGITS, AuthResult
from kiosk.diagnostics.widgets import button, line
from kiosk.screens.base import KioskScreen
from kiosk.widgets.base import Panel
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.keypad import EntryBox, NumericKeypad


class StaffScreen(KioskScreen):
    """Base of the maintenance screens: the staff header and the service object."""

    def __init__(self, app, diag: "Diagnostics", **kw):
        super().__init__(app, **kw)
        self.diag = diag

    @property
    def s(self):
        return self.app.base_sizes  # staff screens ignore the citizen's large-text mode

    def staff_header(self, title: str) -> Panel:
        s = self.s
        bar = Panel(bg=list(theme.HEADER), radius=0, size_hint_y=None, height=s.px(150),
                    padding=(s.px(36), s.px(20)), spacing=s.px(16))
        label = Label(text=title, font_size=s.px(46), color=theme.TEXT_ON_DARK, bold=True, halign="left",
                      valign="middle", shorten=True, shorten_from="right")
        label.bind(size=lambda w, sz: setattr(w, "text_size", sz))
        bar.add_widget(label)
        for kid, text, handler, width in (("diag.language", self.tr("ui.language"), self.switch_language, 190),
                                          ("diag.exit", self.tr("diag.exit"), self.exit, 250)):
            b = BigButton(text=text, kiosk_id=kid, style="header", font_size=s.px(34), size_hint_x=None,
                          width=s.px(width))
            b.bind(on_release=lambda _b, h=handler: h())
            bar.add_widget(b)
        return bar

    def switch_language(self) -> None:
        self.app.toggle_language()
        self.render(None)

    def exit(self) -> None:
        self.diag.leave()

    def body_box(self) -> BoxLayout:
        s = self.s
        return BoxLayout(orientation="vertical", padding=(s.margin, s.px(32), s.margin, s.px(32)), spacing=s.gap)


# =============================================================================== PIN


class StaffLoginScreen(StaffScreen):
    kind = "staff_login"

    def build(self) -> None:
        tr, s = self.tr, self.s
        self.pin = ""
        self.root_box.add_widget(self.staff_header(tr("diag.login.title")))
        body = self.body_box()
        body.add_widget(line(tr("diag.login.prompt"), s.heading, bold=True))
        self.entry = EntryBox(tr("diag.login.hint"), s.body)
        body.add_widget(self.entry)
        self.message = line("", s.body, kid="diag.login.message")
        body.add_widget(self.message)
        self.keypad = NumericKeypad(labels={"delete": tr("ui.keypad.delete"), "clear": tr("ui.keypad.clear")},
                                    on_change=self._typed, max_length=12, key_height=s.px(120), font_size=s.px(52))
        body.add_widget(self.keypad)
        body.add_widget(BoxLayout())
        self.submit = button("diag.login.submit", tr("diag.login.submit"), self.try_login, size=s.button_text,
                             height=s.primary_target, style="primary", primary=True)
        body.add_widget(self.submit)
        body.add_widget(button("diag.login.back", tr("diag.login.back"), self.exit, size=s.button_text,
                               height=s.primary_target))
        self.root_box.add_widget(body)
        self._show_lock_state()

    def _typed(self, value: str) -> None:
        self.pin = value
        self.entry.value_text = "●" * len(value)

    def _show_lock_state(self) -> bool:
        until = self.diag.auth.locked_until()
        if until is None:
            self.submit.disabled = False
            return False
        self._locked_message(until)
        return True

    def _locked_message(self, until: float) -> None:
        minutes = max(1, round((until - self.diag.clock()) / 60 + 0.49))
        self.message.text = self.tr("diag.login.locked", minutes=minutes,
                                    until=datetime.fromtimestamp(until).strftime("%H:%M"))
        self.message.color = theme.DANGER
        self.submit.disabled = True

    def try_login(self) -> None:
        pin, self.pin = self.pin, ""
        self.keypad.wipe()
        self.entry.value_text = ""
        if self._show_lock_state():
            self.diag.actions.record(StaffAction.LOGIN_REFUSED_LOCKED)
            return
        if len(pin) < MIN_PIN_DIGITS:
            self.message.text = self.tr("diag.login.too_short")
            self.message.color = theme.DANGER
            return
        self.submit.disabled = True
        self.message.text = self.tr("diag.login.checking")
        self.message.color = theme.TEXT_MUTED
        self.diag.run(lambda: self.diag.auth.check(pin), self._checked)

    def _checked(self, outcome, error) -> None:
        actions = self.diag.actions
        if error is not None or outcome is None:
            actions.record(StaffAction.LOGIN_FAILED, outcome="error")
            self.submit.disabled = False
            return
        if outcome.result is AuthResult.OK:
            actions.record(StaffAction.LOGIN)
            self.diag.login_succeeded()
            return
        self.submit.disabled = False
        self.message.color = theme.DANGER
        if outcome.result is AuthResult.WRONG:
            actions.record(StaffAction.LOGIN_FAILED, outcome="wrong_pin",
                           count=self.diag.settings.max_failures - outcome.failures_left)
            self.message.text = self.tr("diag.login.wrong", left=outcome.failures_left)
        elif outcome.result is AuthResult.LOCKED:
            if outcome.just_locked:
                actions.record(StaffAction.LOGIN_FAILED, outcome="wrong_pin", count=self.diag.settings.max_failures)
                actions.record(StaffAction.LOCKOUT, count=round(self.diag.settings.lockout_s))
            else:
                actions.record(StaffAction.LOGIN_REFUSED_LOCKED)
            self._locked_message(outcome.locked_until or self.diag.clock())
        else:
            actions.record(StaffAction.LOGIN_FAILED, outcome="no_pin")
            self.message.text = self.tr("diag.login.no_pin")

    def wipe(self) -> None:
        self.pin = ""
        super().wipe()


# =============================================================================== diagnostics
