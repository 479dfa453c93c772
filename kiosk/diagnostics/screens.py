"""The staff PIN screen and the diagnostics screen (one tab per job).

Both are `KioskScreen`s of the citizen app (same frame, theme, translator), with their own
header: title, language switch, Exit. Every text comes from the catalogs (``diag.*``).
Nothing here waits: device work runs on the device's supervisor worker and other blocking
work on the diagnostics pool (`Diagnostics.run`); results come back on the UI thread.

Tabs: devices (state, model/serial/firmware, last errors, self-test, test page), BP
calibration (calibration.py), camera (live preview with the face box), eye tester
(self-test + a known E answered on the pad), logs (redacted), network, service
(out-of-service switch). The diagnostics screen logs staff out after `idle_logout_s`
without a touch.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.calibration import CalibrationCheck
from kiosk.diagnostics.camera_preview import CameraPreview
from kiosk.diagnostics.log_viewer import recent_lines
from kiosk.diagnostics.network import network_status
from kiosk.diagnostics.staff_auth import MIN_PIN_DIGITS, AuthResult
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, Card, button, button_row, line
from kiosk.screens.base import KioskScreen
from kiosk.widgets.base import Panel
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.keypad import EntryBox, NumericKeypad

if TYPE_CHECKING:
    from kiosk.diagnostics.service import Diagnostics

TABS = ("devices", "calibration", "camera", "eye", "logs", "network", "service")
DEVICE_ORDER = ("idcard", "bp", "eye", "printer", "camera")
EYE_CHECK_LEVEL = 4.0  # the largest row of the chart: any working display shows it clearly


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


class DiagnosticsScreen(StaffScreen):
    kind = "diagnostics"

    def __init__(self, app, diag, **kw):
        super().__init__(app, diag, **kw)
        self.tab = "devices"
        self.self_tests: dict[str, Any] = {}  # kind -> SelfTestResult | "running"
        self.notes: dict[str, tuple[Callable[[], str], bool]] = {}  # kind -> (text, bad), e.g. the test page
        self.calibration: CalibrationCheck | None = None
        self.cal_message: tuple[Callable[[], str], bool] | None = None  # texts are made at render: language
        self.cal_supported: bool | None = None
        self.eye_state: tuple[Callable[[], str], bool | None] | None = None  # bad None: running
        self.network = None
        self.preview: CameraPreview | None = None
        self._idle = None
        self._poll = None
        self._seen_statuses = None

    # -- frame ------------------------------------------------------------------------------
    def build(self) -> None:
        tr, s = self.tr, self.s
        self.stop_preview()
        self.root_box.add_widget(self.staff_header(tr("diag.title")))
        tabs = GridLayout(cols=4, size_hint_y=None, spacing=s.px(12), padding=(s.margin, s.px(20), s.margin, 0))
        for name in TABS:
            b = BigButton(text=tr(f"diag.tab.{name}"), kiosk_id=f"diag.tab.{name}",
                          style="selected" if name == self.tab else "secondary", font_size=s.px(36),
                          size_hint_y=None, height=s.px(104))
            b.bind(on_release=lambda _b, n=name: self.show_tab(n))
            tabs.add_widget(b)
        tabs.height = 2 * s.px(104) + s.px(12) + s.px(20)
        self.root_box.add_widget(tabs)
        outer, column = self.body_area()
        self.column = column
        getattr(self, f"_build_{self.tab}")(column)
        self.root_box.add_widget(outer)
        self._start_timers()

    def show_tab(self, name: str) -> None:
        if name != "camera":
            self._preview_wanted = False
        if name == "logs":
            self.diag.actions.record(StaffAction.VIEW_LOGS)
        self.tab = name
        self.render(None)

    def refresh(self) -> None:
        if self.app.sm.current == self.kind:
            self.render(None)

    def refresh_service_panel(self) -> None:
        if self.tab == "service":
            self.refresh()

    def heading_line(self, text: str):
        return line(text, self.s.px(48), bold=True)

    # -- timers: idle logout, device-state polling ---------------------------------------------
    def _start_timers(self) -> None:
        self._reset_idle()
        if self._poll is None:
            self._poll = Clock.schedule_interval(self._poll_states, 1.0)
        self._seen_statuses = self._statuses_key()

    def _reset_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = Clock.schedule_once(self._idle_logout, self.diag.settings.idle_logout_s)

    def _idle_logout(self, _dt) -> None:
        self._idle = None
        if self.app.sm.current == self.kind:
            self.diag.leave(logout_reason="idle")

    def on_touch_down(self, touch):
        self._reset_idle()
        return super().on_touch_down(touch)

    def _statuses_key(self):
        sup = self.diag.supervisor()
        if sup is None:
            return None
        return tuple((str(k), str(v.state), v.reason, tuple(v.last_errors), tuple(sorted(v.consumables.items())))
                     for k, v in sup.statuses().items())

    def _poll_states(self, _dt) -> None:
        key = self._statuses_key()
        if key != self._seen_statuses:
            self._seen_statuses = key
            if self.tab == "devices" and self.app.sm.current == self.kind:
                self.render(None)

    def stop_timers(self) -> None:
        for ev in (self._idle, self._poll):
            if ev is not None:
                ev.cancel()
        self._idle = self._poll = None
        self.stop_preview()

    def wipe(self) -> None:
        self.stop_timers()
        self.tab = "devices"
        self.self_tests.clear()
        self.notes.clear()
        self.calibration = None
        self.cal_message = None
        self.eye_state = None
        self.network = None
        self._preview_wanted = False
        super().wipe()

    # =========================================================================== devices
    def _build_devices(self, column) -> None:
        tr, s = self.tr, self.s
        sup = self.diag.supervisor()
        if sup is None:
            column.add_widget(line(tr("diag.device.none"), s.body))
            return
        column.add_widget(button("diag.selftest.all", tr("diag.selftest.all"), self.self_test_all,
                                 size=s.button_text, height=s.target, style="primary"))
        statuses = sup.statuses()
        for kind in sorted(statuses, key=lambda k: DEVICE_ORDER.index(str(k)) if str(k) in DEVICE_ORDER else 99):
            column.add_widget(self._device_card(str(kind), statuses[kind]))

    def _device_card(self, kind: str, status) -> Card:
        tr, s = self.tr, self.s
        from fleet.protocol.privacy import redact

        card = Card(padding=(s.px(28), s.px(20)), spacing=s.px(8))
        state = str(status.state)
        good = state in ("ready", "busy")
        result = self.self_tests.get(kind)
        title = line(f"{OK_MARK if good else BAD_MARK} " + tr("diag.device.heading", device=tr(f"value.{kind}"),
                                                                state=tr(f"diag.state.{state}")),
                     s.px(44), bold=True, colour=theme.TEXT if good else theme.DANGER, kid=f"diag.state.{kind}")
        buttons = [button(f"diag.selftest.{kind}", tr("diag.selftest.run"), lambda k=kind: self.self_test(k),
                          size=s.px(38), height=s.target, disabled=result == "running", size_hint_x=None,
                          width=s.px(200))]
        if kind == "printer":
            buttons.insert(0, button("diag.testpage", tr("diag.testpage.print"), self.print_test_page, size=s.px(38),
                                     height=s.target, size_hint_x=None, width=s.px(280)))
        row = BoxLayout(size_hint_y=None, height=s.target, spacing=s.gap)
        holder = BoxLayout()  # centres the title vertically in the row
        holder.add_widget(title)
        title.pos_hint = {"center_y": 0.5}
        row.add_widget(holder)
        for b in buttons:
            row.add_widget(b)
        card.add_widget(row)
        info = status.info
        if info is not None:
            card.add_widget(line(tr("diag.device.info", model=info.model or "-", serial=info.serial or "-",
                                    firmware=info.firmware or "-"), s.small, muted=True))
        else:
            card.add_widget(line(tr("diag.device.no_info"), s.small, muted=True))
        if status.reason and not good:
            reason = tr(f"code.{status.reason}") if tr.has(f"code.{status.reason}") else status.reason
            card.add_widget(line(tr("diag.device.reason", reason=reason), s.small))
        if status.consumables:
            items = ", ".join(f"{self._say('diag.consumable', k)} {self._say('diag.level', v)}"
                              for k, v in status.consumables.items())
            card.add_widget(line(tr("diag.device.consumables", items=items), s.small, muted=True))
        if status.last_errors:
            errors = "\n".join(redact(e) for e in status.last_errors[-3:])
            card.add_widget(line(tr("diag.device.errors") + "\n" + errors, s.small, muted=True,
                                 kid=f"diag.errors.{kind}"))
        else:
            card.add_widget(line(tr("diag.device.no_errors"), s.small, muted=True, kid=f"diag.errors.{kind}"))
        if result == "running":
            card.add_widget(line(tr("diag.selftest.running"), s.small, bold=True, kid=f"diag.selftest.result.{kind}"))
        elif result is not None:
            card.add_widget(line(self._self_test_text(result), s.small, bold=True,
                                 colour=theme.ACCENT_OK if result.passed else theme.DANGER,
                                 kid=f"diag.selftest.result.{kind}"))
        note = self.notes.get(kind)
        if note:
            card.add_widget(line(note[0](), s.small, bold=True, colour=theme.DANGER if note[1] else theme.TEXT,
                                 kid=f"diag.note.{kind}"))
        return card

    def _say(self, prefix: str, value: str) -> str:
        """A device's code word in the language (the code itself when the catalog has none)."""
        key = f"{prefix}.{value}"
        return self.tr(key) if self.tr.has(key) else value

    def _self_test_text(self, result) -> str:
        from fleet.protocol.privacy import redact

        tr = self.tr
        key = "diag.selftest.passed" if result.passed else "diag.selftest.failed"
        text = f"{OK_MARK if result.passed else BAD_MARK} " + tr(key, seconds=f"{result.duration_s:.1f}",
                                                                detail=redact(result.detail))
        if result.checks:
            checks = ", ".join(f"{name} {tr('diag.check.ok') if ok else tr('diag.check.bad')}"
                               for name, ok in result.checks.items())
            text += "\n" + tr("diag.selftest.checks", checks=checks)
        return text

    def self_test_all(self) -> None:
        sup = self.diag.supervisor()
        for kind in (sup.statuses() if sup else {}):
            self.self_test(str(kind), render=False)
        self.refresh()

    def self_test(self, kind: str, render: bool = True) -> None:
        device = self.diag.device(kind)
        if device is None or self.self_tests.get(kind) == "running":
            return
        self.self_tests[kind] = "running"

        def done(result, error) -> None:
            if error is not None:
                from peripherals.base import SelfTestResult

                result = SelfTestResult(kind=kind, passed=False, detail=f"{type(error).__name__}")
            self.self_tests[kind] = result
            self.diag.actions.record(StaffAction.SELF_TEST, device=kind, outcome="passed" if result.passed else "failed",
                                     detail=result.detail)
            if self.tab == "devices":
                self.refresh()

        self.diag.run(device.self_test, done)  # DeviceSupervisor.self_test: on the device's worker, waited on the pool
        if render:
            self.refresh()

    def print_test_page(self) -> None:
        device = self.diag.device("printer")
        if device is None:
            return
        self.notes["printer"] = (lambda: self.tr("diag.testpage.printing"), False)

        def done(_result, error) -> None:
            if error is None:
                self.notes["printer"] = (lambda: self.tr("diag.testpage.done"), False)
                outcome = "printed"
            else:
                code = getattr(error, "code", type(error).__name__)
                self.notes["printer"] = (lambda: self.tr("diag.testpage.failed", detail=code), True)
                outcome = f"failed:{code}"
            self.diag.actions.record(StaffAction.TEST_PAGE, device="printer", outcome=outcome)
            if self.tab == "devices":
                self.refresh()

        self.diag.run(lambda: device.submit(lambda d: d.print_test_page()).result(), done)
        self.refresh()

    # =========================================================================== calibration
    def _build_calibration(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.tab.calibration")))
        if self.calibration is None:  # the history, before a new check begins
            last = self.diag.calibrations.last()
            if last is not None:
                when = last.at.astimezone().strftime("%Y-%m-%d %H:%M")
                verdict = tr("diag.cal.verdict_ok" if last.passed else "diag.cal.verdict_bad")
                text = tr("diag.cal.last", when=when, verdict=verdict, max=f"{last.max_abs_deviation_mmhg:.1f}")
            else:
                text = tr("diag.cal.never")
            column.add_widget(line(text, s.small, muted=True, kid="diag.cal.last"))
        if self.diag.device("bp") is None:
            column.add_widget(line(tr("diag.device.missing", device=tr("value.bp")), s.body))
            return
        if self.cal_supported is False:
            column.add_widget(line(tr("diag.cal.unsupported"), s.body, kid="diag.cal.message"))
            return
        check = self.calibration
        if check is None:
            column.add_widget(line(tr("diag.cal.intro"), s.body))
            column.add_widget(line(tr("diag.cal.rule", tolerance=f"{self.diag.settings.calibration_tolerance_mmhg:g}"),
                                   s.body, bold=True))
            column.add_widget(button("diag.cal.start", tr("diag.cal.start"), self.start_calibration,
                                     size=s.button_text, height=s.primary_target, style="primary", primary=True))
            return
        if check.points:
            column.add_widget(self._calibration_table(check))
        if self.cal_message is not None:
            make, bad = self.cal_message
            text = make()
            column.add_widget(line(text, s.body, bold=True, colour=theme.DANGER if bad else theme.ACCENT_OK,
                                   kid="diag.cal.message"))
        if check.done:
            column.add_widget(button("diag.cal.restart", tr("diag.cal.restart"), self.start_calibration,
                                     size=s.button_text, height=s.target))
            return
        key = "diag.cal.point_zero" if check.target == 0 else "diag.cal.point"
        column.add_widget(line(tr(key, index=check.index + 1, total=len(check.targets), target=check.target),
                               s.px(46), bold=True, kid="diag.cal.step"))
        self.cal_entry = EntryBox(tr("diag.cal.reference_hint"), s.body)
        column.add_widget(self.cal_entry)
        self.cal_keypad = NumericKeypad(labels={"delete": tr("ui.keypad.delete")}, decimal=True, max_length=5,
                                        on_change=lambda v: setattr(self.cal_entry, "value_text", v),
                                        key_height=s.px(104), font_size=s.px(48))
        column.add_widget(self.cal_keypad)
        column.add_widget(button("diag.cal.read", tr("diag.cal.read"), self.read_calibration_point,
                                 size=s.button_text, height=s.primary_target, style="primary", primary=True))

    def _calibration_table(self, check: CalibrationCheck) -> Card:
        tr, s = self.tr, self.s
        card = Card(padding=(s.px(24), s.px(16)), spacing=s.px(4))
        grid = GridLayout(cols=5, size_hint_y=None, row_default_height=s.px(64), row_force_default=True)
        header = [tr("diag.cal.col_target"), tr("diag.cal.col_reference"), tr("diag.cal.col_kiosk"),
                  tr("diag.cal.col_deviation"), tr("diag.cal.col_verdict")]
        rows = [(header, theme.TEXT_MUTED, "")]
        for p in check.points:
            verdict = f"{OK_MARK} " + tr("diag.cal.point_ok") if p.passed else f"{BAD_MARK} " + tr("diag.cal.point_bad")
            cells = [str(p.target_mmhg), f"{p.reference_mmhg:.1f}", f"{p.kiosk_mmhg:.1f}", f"{p.deviation_mmhg:+.1f}",
                     verdict]
            rows.append((cells, theme.TEXT if p.passed else theme.DANGER, f"diag.cal.row.{p.target_mmhg}"))
        for cells, colour, kid in rows:
            for i, text in enumerate(cells):
                cell = Label(text=text, font_size=s.px(36), color=colour, bold=not kid, halign="left",
                             valign="middle")
                cell.bind(size=lambda w, sz: setattr(w, "text_size", sz))
                if kid and i == 0:
                    cell.kiosk_id = kid  # type: ignore[attr-defined]
                    cell.row_text = tr("diag.cal.row", target=cells[0], reference=cells[1], kiosk=cells[2],  # type: ignore[attr-defined]
                                       deviation=cells[3], verdict=cells[4])
                grid.add_widget(cell)
        grid.height = len(rows) * s.px(64)
        card.add_widget(line(tr("diag.cal.table_unit"), s.small, muted=True))
        card.add_widget(grid)
        return card

    def start_calibration(self) -> None:
        device = self.diag.device("bp")
        if device is None:
            return
        settings = self.diag.settings

        def supported(result, error) -> None:
            self.cal_supported = bool(result) and error is None
            if self.cal_supported:
                self.calibration = CalibrationCheck(settings.calibration_points, settings.calibration_tolerance_mmhg)
                self.cal_message = None
            else:
                self.diag.actions.record(StaffAction.CALIBRATION, device="bp", outcome="unsupported")
            self.refresh()

        probe = lambda: device.submit(lambda d: callable(getattr(d, "read_static_pressure", None))).result()  # noqa: E731
        self.diag.run(probe, supported)

    def read_calibration_point(self) -> None:
        check, device = self.calibration, self.diag.device("bp")
        if check is None or device is None or check.done:
            return
        try:
            reference = float(self.cal_keypad.value)
            if not 0 <= reference <= 400:
                raise ValueError
        except ValueError:
            self.cal_message = (lambda: self.tr("diag.cal.bad_reference"), True)
            self.refresh()
            return
        self.cal_message = (lambda: self.tr("diag.cal.reading"), False)

        def done(kiosk_mmhg, error) -> None:
            if error is not None:
                code = getattr(error, "code", type(error).__name__)
                self.cal_message = (lambda: self.tr("diag.cal.read_failed", detail=code), True)
            else:
                check.record(kiosk_mmhg, reference)
                self.cal_message = None
                if check.done:
                    self._calibration_finished(check)
            self.refresh()

        self.diag.run(lambda: device.submit(lambda d: d.read_static_pressure()).result(), done)
        self.refresh()

    def _calibration_finished(self, check: CalibrationCheck) -> None:
        sup = self.diag.supervisor()
        info = sup["bp"].status.info if sup is not None else None
        result = check.result(model=info.model if info else "", serial=info.serial if info else "",
                              firmware=info.firmware if info else "")
        self.diag.calibrations.append(result)
        worst = f"{result.max_abs_deviation_mmhg:.1f}"
        self.diag.actions.record(StaffAction.CALIBRATION, device="bp", outcome="passed" if result.passed else "failed",
                                 count=len(result.points), detail=f"max_deviation_mmhg={worst}")
        key = "diag.cal.passed" if result.passed else "diag.cal.failed"
        self.cal_message = (lambda: f"{OK_MARK if result.passed else BAD_MARK} " + self.tr(key, max=worst), not result.passed)

    # =========================================================================== camera
    def _build_camera(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.tab.camera")))
        device = self.diag.device("camera")
        if device is None:
            column.add_widget(line(tr("diag.device.missing", device=tr("value.camera")), s.body))
            return
        column.add_widget(line(tr("diag.camera.note"), s.small, muted=True))
        self.preview = CameraPreview(interval_s=self.diag.settings.camera_interval_s, size_hint_y=None, height=s.px(740))
        frame = Card(padding=s.px(8))
        frame.add_widget(self.preview)
        column.add_widget(frame)
        self.camera_status = line(tr("diag.camera.waiting") if self._preview_wanted else "", s.body, bold=True,
                                  kid="diag.camera.status")
        column.add_widget(self.camera_status)
        if self._preview_wanted:
            column.add_widget(button("diag.camera.stop", tr("diag.camera.stop"), self.stop_camera,
                                     size=s.button_text, height=s.target))
            self.preview.start(device, self._face_checked)
        else:
            column.add_widget(button("diag.camera.start", tr("diag.camera.start"), self.start_camera,
                                     size=s.button_text, height=s.primary_target, style="primary", primary=True))

    _preview_wanted = False

    def start_camera(self) -> None:
        self._preview_wanted = True
        self.diag.actions.record(StaffAction.CAMERA_PREVIEW, device="camera", outcome="started")
        self.refresh()

    def stop_camera(self) -> None:
        self._preview_wanted = False
        self.refresh()

    def stop_preview(self) -> None:
        if self.preview is not None:
            self.preview.stop()
            self.preview = None

    def _face_checked(self, check, error) -> None:
        tr = self.tr
        if error is not None:
            self.camera_status.text = tr("diag.camera.failed", detail=getattr(error, "code", type(error).__name__))
            self.camera_status.color = theme.DANGER
        elif check is not None:
            issue = check.reasons[0].value if check.reasons else "no_face"
            verdict = tr("diag.camera.gate_ok") if check.passed else tr(f"face.issue.{issue}")
            self.camera_status.text = f"{OK_MARK if check.passed else BAD_MARK} " + tr(
                "diag.camera.faces", count=check.faces_found, verdict=verdict)
            self.camera_status.color = theme.ACCENT_OK if check.passed else theme.TEXT

    @property
    def preview_running(self) -> bool:
        return self.preview is not None and self.preview.running

    # =========================================================================== eye tester
    def _build_eye(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.tab.eye")))
        if self.diag.device("eye") is None:
            column.add_widget(line(tr("diag.device.missing", device=tr("value.eye")), s.body))
            return
        column.add_widget(line(tr("diag.eye.intro"), s.body))
        if self.eye_state is not None:
            make, bad = self.eye_state
            text = make()
            column.add_widget(line(text, s.body, bold=True, colour=theme.DANGER if bad else theme.TEXT,
                                   kid="diag.eye.result"))
        running = self.eye_state is not None and self.eye_state[1] is None
        column.add_widget(button("diag.eye.run", tr("diag.eye.run"), self.run_eye_check, size=s.button_text,
                                 height=s.primary_target, style="primary", primary=True, disabled=running))

    def run_eye_check(self) -> None:
        from peripherals.eye.models import Eye, Optotype, Orientation

        device = self.diag.device("eye")
        if device is None:
            return
        timeout = self.diag.settings.eye_answer_timeout_s
        shown = secrets.choice(list(Orientation))
        self.eye_state = (lambda: self.tr("diag.eye.waiting", seconds=round(timeout)), None)

        def on_device(d):
            test = d.self_test()
            if not test.passed:
                return test, None
            d.show(Optotype(level=EYE_CHECK_LEVEL, orientation=shown, eye=Eye.BOTH))
            try:
                return test, d.wait_answer(timeout)
            finally:
                d.blank()

        def done(result, error) -> None:
            name = lambda o: self.tr(f"value.{o.value}") if o is not None else self.tr("diag.eye.cannot_see")  # noqa: E731
            if error is not None:
                code = getattr(error, "code", type(error).__name__)
                if code == "timeout":
                    self.eye_state = (lambda: f"{BAD_MARK} " + self.tr("diag.eye.no_answer"), True)
                else:
                    self.eye_state = (lambda: f"{BAD_MARK} " + self.tr("diag.eye.error", detail=code), True)
                outcome = f"failed:{code}"
            else:
                test, answer = result
                if answer is None:
                    self.eye_state = (lambda: f"{BAD_MARK} " + self.tr("diag.selftest.failed", seconds=f"{test.duration_s:.1f}",
                                                          detail=test.detail), True)
                    outcome = "failed:self_test"
                else:
                    ok = answer.orientation == shown
                    key = "diag.eye.passed" if ok else "diag.eye.failed"
                    self.eye_state = (lambda: f"{OK_MARK if ok else BAD_MARK} " + self.tr(
                        key, shown=name(shown), answered=name(answer.orientation)) + "\n" + self._self_test_text(test),
                        not ok)
                    outcome = "passed" if ok else "failed:wrong_key"
            self.diag.actions.record(StaffAction.EYE_CHECK, device="eye", outcome=outcome)
            if self.tab == "eye":
                self.refresh()

        self.diag.run(lambda: device.submit(on_device).result(), done)
        self.refresh()

    # =========================================================================== logs
    def _build_logs(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.logs.heading")))
        column.add_widget(button("diag.logs.refresh", tr("diag.logs.refresh"), self.refresh, size=s.px(40),
                                 height=s.target))
        lines = recent_lines(self.diag.log_buffer, 30)
        card = Card(padding=s.px(24), spacing=s.px(6))
        for text in lines or [tr("diag.logs.empty")]:
            card.add_widget(line(text, s.px(32), muted=False))
        column.add_widget(card)
        self.log_lines = lines

    # =========================================================================== network
    def _build_network(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.net.heading")))
        net = self.network
        card = Card(padding=s.px(28), spacing=s.px(10))
        if net is None:
            card.add_widget(line(tr("diag.net.checking"), s.body))
            self._check_network()
        else:
            reach = lambda r: tr(f"diag.reach.{r.value}")  # noqa: E731
            route = reach(net.default_route) + (f" ({net.interface})" if net.interface else "")
            card.add_widget(line(tr("diag.net.route", value=route), s.body, kid="diag.net.route"))
            ago = (tr("diag.net.agent_ago", seconds=f"{net.agent_last_contact_s:.0f}")
                   if net.agent_last_contact_s is not None else tr("diag.net.agent_never"))
            card.add_widget(line(tr("diag.net.agent", value=ago), s.body, kid="diag.net.agent"))
            if net.broker_address:
                card.add_widget(line(tr("diag.net.broker", address=net.broker_address, value=reach(net.broker)), s.body,
                                     kid="diag.net.broker"))
            else:
                card.add_widget(line(tr("diag.net.broker_unconfigured"), s.body, kid="diag.net.broker"))
            card.add_widget(line(tr("diag.net.agent_link"), s.small, muted=True))
            server = self.diag.server
            card.add_widget(line(tr("diag.net.socket", value=str(server.server.path) if server else tr("diag.net.socket_off")),
                                 s.small, muted=True))
        column.add_widget(card)
        column.add_widget(button("diag.net.refresh", tr("diag.net.refresh"), self._recheck_network, size=s.px(40),
                                 height=s.target))

    def _recheck_network(self) -> None:
        self.network = None
        self.refresh()

    def _check_network(self) -> None:
        settings, handler = self.diag.settings, self.diag.handler

        def done(status, error) -> None:
            if error is None:
                self.network = status
                if self.tab == "network":
                    self.refresh()

        self.diag.run(lambda: network_status(settings.broker_address, handler.last_agent_contact), done)

    # =========================================================================== service
    def _build_service(self, column) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.tab.service")))
        out = self.diag.handler.out_of_service
        card = Card(padding=s.px(32), spacing=s.px(12), bg=list(theme.SURFACE),
                    border=list(theme.DANGER if out else theme.ACCENT_OK))
        card.add_widget(line(f"{BAD_MARK if out else OK_MARK} " + tr("diag.service.out" if out else "diag.service.in"),
                             s.px(50), bold=True, colour=theme.DANGER if out else theme.ACCENT_OK, kid="diag.service.state"))
        card.add_widget(line(tr("diag.service.note"), s.small, muted=True))
        column.add_widget(card)
        if out:
            column.add_widget(button("diag.service.put_back", tr("diag.service.put_back"),
                                     lambda: self._set_out_of_service(False), size=s.button_text,
                                     height=s.primary_target, style="primary", primary=True))
        else:
            column.add_widget(button("diag.service.take_out", tr("diag.service.take_out"),
                                     lambda: self._set_out_of_service(True), size=s.button_text,
                                     height=s.primary_target, style="danger", primary=True))

    def _set_out_of_service(self, enabled: bool) -> None:
        self.diag.set_out_of_service(enabled)
        self.refresh()
