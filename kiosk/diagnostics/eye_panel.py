"""The eye-tester tab: its self-test, then a known E on the display answered on the pad.
"""

from __future__ import annotations

import secrets

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, button, line

EYE_CHECK_LEVEL = 4.0  # the largest row of the chart: any working display shows it clearly


class EyeCheckPanel:
    """A tab of `DiagnosticsScreen` (a mixin: it uses the screen's diag, tr, s and render)."""

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
