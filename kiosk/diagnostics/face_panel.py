"""The camera tab's face self-test: a liveness demo under the preview.

Staff tap "run a liveness demo": the citizens' challenge–response check runs on the kiosk's
camera (kiosk/diagnostics/liveness_demo.py) while the preview shows its frames with the
landmarks; the screen shows each prompt with its pictogram and then the verdict and its
reason. Staff follow the prompts to see a pass, or hold up a photo or a phone to see it
refused. Each demo is a `liveness_demo` staff action (the verdict only, never a frame).
"""

from __future__ import annotations

import threading

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, button, line
from kiosk.widgets.illustration import Illustration


class FacePanel:
    """Part of the camera tab of `DiagnosticsScreen` (a mixin: it uses the screen's diag, tr, s, preview)."""

    _demo_cancel: threading.Event | None = None
    demo_result = None  # the last LivenessResult (reason and actions only)

    def _build_liveness_demo(self, column, device) -> None:
        tr, s = self.tr, self.s
        column.add_widget(self.heading_line(tr("diag.face.demo_title")))
        column.add_widget(line(tr("diag.face.demo_note"), s.small, muted=True))
        row = BoxLayout(size_hint_y=None, height=s.px(200), spacing=s.gap)
        self.face_picture = Illustration(key="", size_hint_x=None, width=s.px(200))
        row.add_widget(self.face_picture)
        self.face_prompt = line("", s.body, bold=True, kid="diag.face.prompt")
        row.add_widget(self.face_prompt)
        column.add_widget(row)
        self.face_result = line(self._demo_verdict(), s.body, bold=True, kid="diag.face.result")
        column.add_widget(self.face_result)
        self.face_button = button("diag.face.demo", tr("diag.face.demo_start"), lambda: self.start_demo(device),
                                  size=s.button_text, height=s.target)
        self.face_button.disabled = self.demo_running
        column.add_widget(self.face_button)

    @property
    def demo_running(self) -> bool:
        return self._demo_cancel is not None

    def start_demo(self, device) -> None:
        from kiosk.diagnostics.liveness_demo import run_demo

        if self.demo_running or self.preview is None:
            return
        cancel = self._demo_cancel = threading.Event()
        self.demo_result = None
        self.face_result.text = ""
        self.face_button.disabled = True
        self.preview.pause()
        preview = self.preview
        settings = self.diag.settings

        def prompt(challenge, index, total) -> None:
            action = challenge.value if challenge is not None else None
            Clock.schedule_once(lambda _dt: self._show_prompt(cancel, action, index, total), 0)

        self.diag.run(lambda: run_demo(device, challenges=2, time_limit_s=settings.liveness_time_s,
                                       on_prompt=prompt, on_frame=preview.push, cancelled=cancel),
                      lambda result, error: self._demo_done(cancel, result, error))

    def _show_prompt(self, cancel, action: str | None, index: int, total: int) -> None:
        if cancel is not self._demo_cancel:
            return
        if action is None:  # the random hold before the next prompt
            self.face_picture.key = "camera"
            self.face_prompt.text = self.tr("face.hold_still")
            return
        self.face_picture.key = f"face.{action}"
        self.face_prompt.text = self.tr("diag.face.prompt", step=self.tr("face.challenge.step", index=index, total=total),
                                        prompt=self.tr(f"face.challenge.{action}"))

    def _demo_done(self, cancel, result, error) -> None:
        if cancel is not self._demo_cancel:
            return  # left the tab meanwhile
        self._demo_cancel = None
        if self.preview is not None:
            self.preview.resume()
        self.face_picture.key = ""
        self.face_prompt.text = ""
        self.face_button.disabled = False
        if error is not None:
            code = getattr(error, "code", type(error).__name__)
            self.diag.actions.record(StaffAction.LIVENESS_DEMO, device="camera", outcome=f"failed:{code}")
            self.face_result.text = self.tr("diag.face.failed", detail=code)
            self.face_result.color = theme.DANGER
            return
        self.demo_result = result
        self.diag.actions.record(StaffAction.LIVENESS_DEMO, device="camera",
                                 outcome="live" if result.live else f"not_live:{result.reason.value}")
        self.face_result.text = self._demo_verdict()
        self.face_result.color = theme.ACCENT_OK if result.live else theme.DANGER

    def _demo_verdict(self) -> str:
        result = self.demo_result
        if result is None:
            return ""
        tr = self.tr
        if result.live:
            actions = tr("diag.face.sep").join(tr(f"diag.face.action.{c.value}") for c in result.passed)
            return f"{OK_MARK} " + tr("diag.face.live", actions=actions)
        return f"{BAD_MARK} " + tr("diag.face.not_live", reason=tr(f"diag.face.reason.{result.reason.value}"))

    def cancel_demo(self) -> None:
        if self._demo_cancel is not None:
            self._demo_cancel.set()
            self._demo_cancel = None
