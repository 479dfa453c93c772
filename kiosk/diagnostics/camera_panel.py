"""The camera and face tab: a live preview with the face box and its landmarks, the flows'
quality-gate verdict, and the liveness demo (face_panel.py). Never sent to the fleet: a face.
"""

from __future__ import annotations

from kiosk import theme
from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.camera_preview import CameraPreview
from kiosk.diagnostics.widgets import BAD_MARK, OK_MARK, Card, button, line


class CameraPanel:
    """A tab of `DiagnosticsScreen` (a mixin: it uses the screen's diag, tr, s and render)."""

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
            column.add_widget(line(tr("diag.camera.landmarks"), s.small, muted=True))
            column.add_widget(button("diag.camera.stop", tr("diag.camera.stop"), self.stop_camera,
                                     size=s.button_text, height=s.target))
            self.preview.start(device, self._face_checked)
            self._build_liveness_demo(column, device)
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
        self.cancel_demo()
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
