"""The Kivy app's control-socket handler: `BasicControlHandler` tied to the running UI.

What it adds to the basic handler:
- the device supervisor may appear after the app starts (the virtual kiosk opens its
  simulators on the flow loop): it is looked up through a callable each time;
- ``session_active`` is the UI's own session state;
- out-of-service — from the agent (a fleet command) or from the staff switch on the
  diagnostics screen — goes through one method, `apply_out_of_service`, which records the
  event and shows the out-of-service screen on the UI thread (unless staff are on the
  diagnostics screen: the attract screen shows it once they leave);
- the time of the agent's last call, for the diagnostics' network panel;
- screenshots are refused while the camera preview is on screen (a face, DESIGN.md Privacy).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from fleet.protocol.control import AppEvents, AppStatus, Screenshot
from kiosk.control import BasicControlHandler, ControlRefused

MAINTENANCE_REASON = "maintenance"


class AppControlHandler(BasicControlHandler):
    def __init__(self, supervisor_source: Callable[[], Any], *, on_out_of_service: Callable[[bool, str], None] | None = None,
                 session_active: Callable[[], bool] | None = None, **kw) -> None:
        self._supervisor_source = supervisor_source
        self._subscribed: set[int] = set()
        self._lock = threading.Lock()
        self._session_probe = session_active
        self.on_out_of_service = on_out_of_service
        self.last_agent_contact: float | None = None
        self.screenshot_blocked: Callable[[], str | None] = lambda: None  # a reason to refuse, or None
        super().__init__(None, **kw)

    # -- the supervisor, found late -------------------------------------------------------
    @property  # type: ignore[override]
    def supervisor(self):
        sup = self._supervisor_source()
        if sup is not None and id(sup) not in self._subscribed:
            with self._lock:
                if id(sup) not in self._subscribed:
                    self._subscribed.add(id(sup))
                    sup.subscribe(self._device_changed)
        return sup

    @supervisor.setter
    def supervisor(self, _value) -> None:
        pass  # BasicControlHandler assigns it; ours always comes from the source

    # -- session flag from the UI -------------------------------------------------------------
    @property  # type: ignore[override]
    def session_active(self) -> bool:
        return bool(self._session_probe()) if self._session_probe is not None else self._session_flag

    @session_active.setter
    def session_active(self, value: bool) -> None:
        self._session_flag = value

    # -- out of service -------------------------------------------------------------------------
    def apply_out_of_service(self, enabled: bool, reason: str = MAINTENANCE_REASON) -> None:
        """Thread-safe: from the control loop (agent) or the UI thread (staff switch)."""
        with self._lock:
            if enabled != self.out_of_service:
                from fleet.protocol.messages import EventKind

                self.event_buffer.record(EventKind.OUT_OF_SERVICE_CHANGED, state=None, reason=reason, count=int(enabled))
            self.out_of_service = enabled
            self.out_of_service_reason = (reason or MAINTENANCE_REASON) if enabled else ""
        if self.on_out_of_service is not None:
            self.on_out_of_service(enabled, self.out_of_service_reason)

    async def set_out_of_service(self, enabled: bool, reason: str) -> AppStatus:
        self.calls["set_out_of_service"] += 1
        self.apply_out_of_service(enabled, reason)
        return await self.status()

    # -- the agent's visits ----------------------------------------------------------------------
    async def status(self) -> AppStatus:
        self.last_agent_contact = time.time()
        return await super().status()

    async def events(self, instance: str, after: int, limit: int) -> AppEvents:
        self.last_agent_contact = time.time()
        return await super().events(instance, after, limit)

    async def screenshot(self) -> Screenshot:
        why = self.screenshot_blocked()
        if why:
            raise ControlRefused(why)
        return await super().screenshot()
