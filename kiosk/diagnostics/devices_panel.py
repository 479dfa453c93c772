"""The devices tab: each device's state, model/serial/firmware, last errors, self-test, test page.
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, Card, button, line

DEVICE_ORDER = ("idcard", "bp", "eye", "height", "printer", "camera")


class DevicesPanel:
    """A tab of `DiagnosticsScreen` (a mixin: it uses the screen's diag, tr, s and render)."""

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
