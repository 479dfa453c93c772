"""`Diagnostics`: everything the maintenance screens use, built once per app.

It holds the staff PIN check, the control-socket handler (and optionally serves it), the
app's event and log buffers, the staff-action recorder, the calibration history and a
small thread pool. The screens never wait: device work is submitted to the device's own
supervisor worker (`DeviceSupervisor.submit`), blocking waits (scrypt, a TCP probe, a
supervisor future) run on the pool, and results come back to the UI thread through
`Clock.schedule_once` (thread-safe, kivy.md §4 A).

`kiosk.diagnostics.install.install_diagnostics(diag, app)` adds the PIN and diagnostics
screens to the app, the hidden corner to its attract and out-of-service screens; this object
then mirrors out-of-service into the UI.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from kiosk.control import ControlServerThread, EventBuffer, RecentLogBuffer
from kiosk.ports import SessionEnd
from kiosk.diagnostics.actions import StaffAction, StaffActions
from kiosk.diagnostics.calibration import CALIBRATION_POINTS_MMHG, TOLERANCE_MMHG, CalibrationRecords
from kiosk.diagnostics.control import MAINTENANCE_REASON, AppControlHandler
from kiosk.diagnostics.staff_auth import StaffAuth

log = logging.getLogger(__name__)

LOGIN_SCREEN = "staff_login"
DIAGNOSTICS_SCREEN = "diagnostics"
SCREENS = (LOGIN_SCREEN, DIAGNOSTICS_SCREEN)


class DiagnosticsSettings(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    state_dir: Path  # PIN hash, lockout state, calibration history (the app's state dir)
    hold_s: float = Field(default=3.0, gt=0)  # long press in the corner
    corner_px: float = Field(default=160, gt=40)
    idle_logout_s: float = Field(default=180.0, gt=0)  # back to the attract screen without a touch
    max_failures: int = 5
    lockout_s: float = 300.0
    broker_address: str = ""  # host:port for the network panel's reachability probe ("" = unknown)
    calibration_points: tuple[int, ...] = CALIBRATION_POINTS_MMHG
    calibration_tolerance_mmhg: float = TOLERANCE_MMHG
    eye_answer_timeout_s: float = Field(default=30.0, gt=0)
    camera_interval_s: float = Field(default=0.2, gt=0)
    liveness_time_s: float = Field(default=6.0, gt=0)  # the liveness demo's time per challenge (as the flows')
    app_version: str = ""
    fleet_config_path: Path | None = None  # the agent's apply_config file (/etc/kiosk/fleet-config.json)
    audio_output: str | None = None  # the hearing test's output URL; None: kiosk.toml [audio].output


class Diagnostics:
    def __init__(self, settings: DiagnosticsSettings, supervisor_source: Callable[[], Any], *,
                 clock: Callable[[], float] = time.time, auth: StaffAuth | None = None,
                 events: EventBuffer | None = None, log_buffer: RecentLogBuffer | None = None) -> None:
        self.settings = settings
        self.supervisor_source = supervisor_source
        self.clock = clock
        self.auth = auth or StaffAuth(settings.state_dir, clock=clock, max_failures=settings.max_failures,
                                      lockout_s=settings.lockout_s)
        self.events = events or EventBuffer()
        self.log_buffer = log_buffer or RecentLogBuffer()
        self.actions = StaffActions(self.events)
        self.calibrations = CalibrationRecords(settings.state_dir)
        self.handler = AppControlHandler(supervisor_source, on_out_of_service=self._out_of_service_changed,
                                         session_active=self._session_active, app_version=settings.app_version,
                                         log_buffer=self.log_buffer, events=self.events,
                                         config_path=settings.fleet_config_path)
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="diagnostics")
        self.app: Any = None  # the KioskApp, set by install_diagnostics
        self.server: ControlServerThread | None = None
        self.corners: list = []  # the hidden corners install_diagnostics put on the attract screens
        self.logged_in = False

    # -- wiring -----------------------------------------------------------------------------
    def supervisor(self):
        return self.supervisor_source()

    def load_fleet_config(self) -> None:
        """At start, the settings the agent last wrote (the agent asks for a reload only on changes)."""
        from fleet.protocol.control import read_config_file

        path = self.handler.config_path
        if path is None or not path.exists():
            return
        try:
            config = read_config_file(path)
        except (OSError, ValueError):
            log.warning("diagnostics: the fleet config file cannot be read; starting with every service")
            return
        if self.app is not None and self.app.check_fleet_settings(config.settings) is None:
            self.handler.settings, self.handler.config_version = config.settings, config.version
            self.app.apply_fleet_settings(config.settings)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self.log_buffer)
        for corner in self.corners:
            corner.stop()

    def serve(self, socket_path: Path | str) -> ControlServerThread:
        """Serve the control socket for the agent (its own thread and event loop)."""
        self.server = ControlServerThread(socket_path, self.handler).start()
        return self.server

    def close(self) -> None:
        self.uninstall()
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- screenshots for the fleet ---------------------------------------------------------------
    def screenshot_refusal(self) -> str | None:
        screen = self.app.screens.get(DIAGNOSTICS_SCREEN) if self.app is not None else None
        if screen is not None and getattr(screen, "preview_running", False):
            return "the camera preview is on screen"  # a face (DESIGN.md, Privacy)
        return None

    def grab_screen(self):
        """The window's pixels as PNG, read on the UI thread (called from the control socket's thread)."""
        import io

        from kivy.clock import Clock

        from fleet.protocol.control import Screenshot

        result: concurrent.futures.Future = concurrent.futures.Future()

        def grab(_dt) -> None:
            try:
                from kiosk.autopilot import grab_window

                image = grab_window()
                buffer = io.BytesIO()
                image.save(buffer, "PNG")
                result.set_result(Screenshot(png=buffer.getvalue(), width=image.width, height=image.height))
            except Exception as exc:
                result.set_exception(exc)

        Clock.schedule_once(grab, 0)
        return result.result(timeout=10)

    # -- navigation (UI thread) ---------------------------------------------------------------
    def open_login(self) -> None:
        app = self.app
        if app is None or app.session.active:
            return  # never over a citizen's session
        log.info("diagnostics: staff login requested")
        self._show(LOGIN_SCREEN)

    def login_succeeded(self) -> None:
        self.logged_in = True
        self._show(DIAGNOSTICS_SCREEN)

    def leave(self, *, logout_reason: str = "exit") -> None:
        """Back to the attract (or out-of-service) screen; a logged-in staff member is logged out."""
        if self.logged_in:
            self.logged_in = False
            self.actions.record(StaffAction.LOGOUT, outcome=logout_reason)
        if self.app is not None:
            for name in SCREENS:
                self.app.screens[name].wipe()
            self.app.show_home()

    def _show(self, name: str) -> None:
        app = self.app
        assert app is not None
        screen = app.screens[name]
        screen.render(None)
        app.sm.current = name

    # -- off the UI thread ---------------------------------------------------------------------
    def run(self, work: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> concurrent.futures.Future:
        """`work()` on the pool; `done(result, error)` later on the UI thread."""
        from kivy.clock import Clock

        def finished(future: concurrent.futures.Future) -> None:
            if future.cancelled():
                return
            error = future.exception()
            result = None if error is not None else future.result()
            Clock.schedule_once(lambda _dt: done(result, error), 0)

        future = self.pool.submit(work)
        future.add_done_callback(finished)
        return future

    @property
    def audio_calibration_file(self) -> Path:
        return self.settings.state_dir / "audio-calibration.json"

    def audio_player(self):
        """The speakers' TonePlayer (made on first use), with the stored level calibration."""
        from peripherals.audio import calibration
        from peripherals.audio.outputs import open_output
        from peripherals.audio.player import TonePlayer

        if getattr(self, "_audio_player", None) is None:
            url = self.settings.audio_output
            if url is None:
                from peripherals.config import DeviceSettings

                url = DeviceSettings().audio.output
            self._audio_player = TonePlayer(open_output(url), calibration.load(self.audio_calibration_file))
        return self._audio_player

    def device(self, kind: str):
        """The `DeviceSupervisor` of `kind`, or None when the kiosk has none (or not yet)."""
        sup = self.supervisor()
        if sup is None:
            return None
        try:
            return sup[kind]
        except (KeyError, ValueError):
            return None

    # -- out of service -----------------------------------------------------------------------
    def set_out_of_service(self, enabled: bool) -> None:
        """The staff switch (UI thread): the same path as the agent's command."""
        self.handler.apply_out_of_service(enabled, MAINTENANCE_REASON)
        self.actions.record(StaffAction.OUT_OF_SERVICE_ON if enabled else StaffAction.OUT_OF_SERVICE_OFF)

    def _out_of_service_changed(self, enabled: bool, reason: str) -> None:
        from kivy.clock import Clock

        def apply(_dt) -> None:
            app = self.app
            if app is None:
                return
            value = (reason or MAINTENANCE_REASON) if enabled else None
            if app.sm.current in SCREENS:
                app.out_of_service_reason = value  # shown when staff leave
                screen = app.screens.get(DIAGNOSTICS_SCREEN)
                if screen is not None and app.sm.current == DIAGNOSTICS_SCREEN:
                    screen.refresh_service_panel()
            else:
                app.set_out_of_service(value)

        Clock.schedule_once(apply, 0)

    def count_flow(self, flow: str, completed: bool | None, end: SessionEnd | None = None) -> None:
        """Flow counters for the fleet's health message, and flow_* events with the step,
        reason and duration for its service statistics; no personal data."""
        if completed is None:
            self.handler.begin_session(flow)
        elif end is None:
            self.handler.end_session(flow, completed)
        else:
            self.handler.end_session(flow, completed, step=end.step, step_no=end.step_no, reason=end.reason,
                                     duration_s=end.duration_s)

    def _session_active(self) -> bool:
        return bool(self.app is not None and self.app.session.active)
