"""The kiosk app as a systemd service: ready, alive, and stopped in order.

- READY=1 once the first frame is drawn (kiosk.service is Type=notify);
- WATCHDOG=1 from the UI loop itself (a Kivy Clock interval): when the loop hangs, the
  pings stop and systemd restarts the app; a helper thread would ping for a frozen screen;
- SIGTERM / SIGINT ask the UI loop to stop (`App.stop()`, so `on_stop` closes the session,
  the devices and the journal); STOPPING=1 tells systemd the silence that follows is on
  purpose. SDL would otherwise turn SIGTERM into a window-close request, which the kiosk
  refuses (a citizen must not close it), so nothing stopped it;
- a nearly full state disk takes the kiosk out of service until space returns
  (kiosk/disk_guard.py).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kivy.clock import Clock

from kiosk.disk_guard import REASON as DISK_FULL
from kiosk.disk_guard import DiskGuard
from lifecycle.notify import SystemdNotifier, WatchdogPinger
from lifecycle.signals import StopRequest, on_stop_signals

log = logging.getLogger(__name__)

WATCHDOG_TICK_S = 1.0


class ServiceLoop:
    """Attach to a KioskApp once its window exists (`KioskApp.build`)."""

    def __init__(self, notifier: SystemdNotifier | None = None, *, stop_app: bool = True,
                 disk_guard: DiskGuard | None = None, handle_signals: bool = True) -> None:
        self.handle_signals = handle_signals  # False in tests that run the app inside pytest
        self.notifier = notifier or SystemdNotifier()
        self.disk_guard = disk_guard
        self._disk = None
        self.stop_app = stop_app  # False when something else pumps the frames (the autopilot polls stop_requested)
        self.pinger = WatchdogPinger(self.notifier)
        self.stop_request: StopRequest | None = None
        self._tick = None
        self._ready = False
        self._stopping = False

    def attach(self, app: Any) -> None:
        self.app = app
        if self.handle_signals and threading.current_thread() is threading.main_thread():  # handlers live there only
            self.stop_request = on_stop_signals(self._on_signal)
        Clock.schedule_once(self._first_frame, 0)
        if self.pinger.enabled:
            self._tick = Clock.schedule_interval(self._watchdog_tick, WATCHDOG_TICK_S)
        if self.disk_guard is not None:
            self.check_disk()
            self._disk = Clock.schedule_interval(self._disk_tick, self.disk_guard.interval_s)

    def check_disk(self) -> None:
        """UI thread: out of service while the disk is full (never under a running session), back after."""
        full = self.disk_guard.check()
        reason = self.app.out_of_service_reason
        if full and reason is None and not self.app.session.active:
            self._set_out_of_service(True)
        elif not full and reason == DISK_FULL:
            self._set_out_of_service(False)

    def _set_out_of_service(self, enabled: bool) -> None:
        diagnostics = getattr(self.app, "diagnostics", None)
        if diagnostics is not None:  # the staff switch's path: an event for the fleet, the agent's health
            diagnostics.handler.apply_out_of_service(enabled, DISK_FULL)
        else:
            self.app.set_out_of_service(DISK_FULL if enabled else None)

    def _first_frame(self, _dt) -> None:
        if not self._ready:
            self._ready = True
            self.notifier.ready("first screen up")
            self.pinger.tick()

    def _on_signal(self, name: str) -> None:
        """In the signal handler: only ask. The stop runs on the next turn of the UI loop."""
        if self.stop_app:
            Clock.schedule_once(self._stop_app, 0)

    # Clock callbacks return None: an interval whose callback returns False is cancelled by
    # Kivy, and WatchdogPinger.tick() returns False whenever no ping was due.
    def _stop_app(self, _dt) -> None:
        self.app.stop()

    def _watchdog_tick(self, _dt) -> None:
        self.pinger.tick()

    def _disk_tick(self, _dt) -> None:
        self.check_disk()

    def stopping(self) -> None:
        """From `on_stop`: before the devices and the journal are closed."""
        if self._stopping:
            return
        self._stopping = True
        for event in (self._tick, self._disk):
            if event is not None:
                event.cancel()
        self.notifier.stopping("closing the session, the devices and the journal")

    @property
    def stop_requested(self) -> bool:
        return self.stop_request is not None and self.stop_request.requested
