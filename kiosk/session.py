"""One citizen session at a time: start a flow, show its views, end it, forget the citizen.

The flow engine owns the idle timeout of asked views (WCAG 2.2.1: an `IdleWarning` with
a countdown, "I need more time" granting ≥ 20 s, ≥ 10 times; silence ends the flow).
This module owns what happens around it:

- the final view (result or error) stays for `final_linger_s` (× 2 in elderly mode),
  then — or when the citizen taps "Done" — the session ends;
- ending a session stops the flow, overwrites the personal fields of the flow state in
  memory, blanks every text and image in every flow screen (labels, buttons, entry
  boxes, keypads, pictures), drops the screens' references to views, collects garbage
  and shows the home screen. After that no widget text contains anything the citizen
  entered or a device read (tests/ui/test_session.py checks it).
"""

from __future__ import annotations

import gc
import inspect
import logging
import time
from typing import Any, Callable

from kivy.clock import Clock

from flows.engine import FlowOutcome
from flows.views import ViewBase
from kiosk.flowhost import FlowSession, SessionSpec
from kiosk.ports import ServiceEntry, SessionEnd, SessionHost

log = logging.getLogger(__name__)


class SessionLifecycle:
    def __init__(self, app: SessionHost):
        self.app = app
        self.current: FlowSession | None = None
        self.service: ServiceEntry | None = None
        self.last_status: str | None = None  # "completed" / "aborted" of the last session (no personal data)
        self.last_reason: str | None = None
        self.sessions_ended = 0
        self._linger = None
        # (flow name, completed: None when it starts, True/False when it ends, SessionEnd at
        # the end); the control handler counts flows here for the fleet's health message and
        # service statistics (counts, steps, reasons and durations only, no data)
        self.listeners: list[Callable[[str, bool | None, SessionEnd | None], None]] = []
        self._started_at = 0.0

    @property
    def active(self) -> bool:
        return self.current is not None

    def start(self, service: ServiceEntry) -> None:
        if self.current is not None:
            return
        opts = self.app.options
        spec = SessionSpec(flow=service.make_flow(), deps_factory=self._with_outbox(service.deps_factory),
                           journal=self.app.journal,  # a factory: opened on the flow loop
                           settings=opts.engine, clock=self.app.flow_clock, resume=opts.resume,
                           elderly=self.app.elderly)
        self.service = service
        self.last_status = self.last_reason = None
        log.info("session: %s started", service.name)
        self._started_at = time.monotonic()
        self.current = self.app.host.start(spec, self._on_view, self._on_end)
        self._tell(service.name, None, None)

    def _with_outbox(self, factory: Callable[[], Any] | None) -> Callable[[], Any] | None:
        """The service's deps with its back-office writes going through the app's outbox."""
        outbox = getattr(self.app, "outbox", None)
        if factory is None or outbox is None:
            return factory

        async def make() -> Any:
            deps = factory()
            if inspect.isawaitable(deps):
                deps = await deps
            return outbox.attach(deps)

        return make

    def _on_view(self, view: ViewBase) -> None:
        self.app.show_view(view)
        if view.final:
            self._schedule_linger()

    def _on_end(self, outcome: FlowOutcome | None) -> None:
        if outcome is None:
            self.last_status, self.last_reason = "failed", "internal_error"
        else:
            self.last_status = outcome.status.value
            self.last_reason = outcome.reason.value if outcome.reason else None
        log.info("session: %s ended %s %s", self.service.name if self.service else "?", self.last_status,
                 self.last_reason or "")
        if self.service is not None:
            completed = self.last_status == "completed"
            end = SessionEnd(completed=completed, step=outcome.last_step if outcome else "",
                             step_no=outcome.last_step_no if outcome else 0,
                             reason="" if completed else (self.last_reason or ""),
                             duration_s=round(time.monotonic() - self._started_at, 1))
            self._tell(self.service.name, completed, end)
        if self.current is not None and self.app.current_view is None:
            self._schedule_linger()  # no final view arrived (a broken deps factory): still go home

    def _tell(self, flow: str, completed: bool | None, end: SessionEnd | None) -> None:
        for listener in list(self.listeners):
            try:
                listener(flow, completed, end)
            except Exception:
                log.exception("session listener failed")

    def _schedule_linger(self) -> None:
        self._cancel_linger()
        linger = self.app.options.final_linger_s * (2 if self.app.elderly else 1)
        self._linger = Clock.schedule_once(lambda _dt: self.end(), linger)

    def _cancel_linger(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None

    def act(self, action: Any) -> None:
        if self.current is not None:
            self.current.act(action)

    def set_elderly(self, on: bool) -> None:
        if self.current is not None:
            self.current.set_elderly(on)

    def end(self) -> None:
        """Stop the flow (if running), wipe everything personal, go home."""
        self._cancel_linger()
        session, self.current = self.current, None
        if session is not None:
            session.close()
        self.service = None
        self.app.wipe_screens()
        gc.collect()
        self.sessions_ended += 1
        self.app.show_home()
