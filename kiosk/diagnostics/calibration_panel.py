"""The blood-pressure calibration tab: static pressure against a reference gauge (calibration.py).
"""

from __future__ import annotations

from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.calibration import CalibrationCheck
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, Card, button, line
from kiosk.widgets.keypad import EntryBox, NumericKeypad


class CalibrationPanel:
    """A tab of `DiagnosticsScreen` (a mixin: it uses the screen's diag, tr, s and render)."""

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
