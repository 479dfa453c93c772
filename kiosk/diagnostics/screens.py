"""The diagnostics screen: a header, one tab per job, the idle logout and device-state polling.

Each tab is a mixin in its own module (devices_panel, calibration_panel, camera_panel with
face_panel, eye_panel, system_panels); this module is the frame that joins them. Every text comes
from the catalogs (``diag.*``). Nothing here waits: device work runs on the device's
supervisor worker and other blocking work on the diagnostics pool (`Diagnostics.run`);
results come back on the UI thread. Staff are logged out after `idle_logout_s` without a
touch.
"""

from __future__ import annotations

from typing import Any, Callable

from kivy.clock import Clock
from kivy.uix.gridlayout import GridLayout

from kiosk.diagnostics.actions import StaffAction
from kiosk.diagnostics.audio_panel import AudioPanel
from kiosk.diagnostics.calibration import CalibrationCheck
from kiosk.diagnostics.calibration_panel import CalibrationPanel
from kiosk.diagnostics.camera_panel import CameraPanel
from kiosk.diagnostics.camera_preview import CameraPreview
from kiosk.diagnostics.devices_panel import DevicesPanel
from kiosk.diagnostics.eye_panel import EyeCheckPanel
from kiosk.diagnostics.face_panel import FacePanel
from kiosk.diagnostics.outbox_panel import OutboxPanel
from kiosk.diagnostics.staff_screens import StaffScreen
from kiosk.diagnostics.system_panels import SystemPanels
from kiosk.diagnostics.widgets import line
from kiosk.widgets.buttons import BigButton

TABS = ("devices", "calibration", "camera", "eye", "audio", "logs", "network", "service")


class DiagnosticsScreen(DevicesPanel, CalibrationPanel, CameraPanel, FacePanel, EyeCheckPanel, AudioPanel,
                        SystemPanels, OutboxPanel, StaffScreen):
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
