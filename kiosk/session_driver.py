"""Citizen sessions back to back in one live kiosk app, through the app's own session machinery.

For the soak (bench/soak.py) and the leak test: what must stay flat over a thousand
sessions is everything a session touches, so a session here is a whole one — the home
tile's `app.start_service`, the flow engine on the flow loop, the journal (written after
every step, wiped at the end), the shared simulated devices and the back office over
HTTP, every view rendered on its real screen and drawn (one frame per view: widgets,
label textures, canvas), and the end of session (`session.end()`, what "Done" and the
final linger call: wipe, gc, home screen). Unlike the autopilot it does not tap: an
answer is sent with `app.act` — what a screen's button sends — so no frames are spent
on touch down/up and a renewal takes a fraction of the autopilot's time.

Twists mixed into sessions: `cancel` (the citizen cancels at the third question),
`idle` (walks away: the idle warning runs out), `unplug` (the blood-pressure monitor
is unplugged mid-measurement; the citizen skips the advisory measurement; renewal only;
after the session staff plug it back in, and the driver waits until the supervisor has
it READY again — `replugs` counts how often it came back, `replug_failures` how often not),
`backoffice_timeout` (every back-office request of the session takes longer than the
client's timeout).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flows.views import Action, ViewBase, ViewKind
from kiosk.runflow import IDLE, AnswerBook, AnswersFile, NoAnswer

log = logging.getLogger(__name__)

TWISTS = ("none", "cancel", "idle", "unplug", "backoffice_timeout")
CANCEL_AT = 3  # the n-th asked view of a `cancel` session is answered with Cancel


def draw_frame() -> None:
    """One whole frame: clock, input, layout, draw (and glFinish when offscreen)."""
    from kivy.base import EventLoop

    EventLoop.idle()


def tick() -> None:
    """The clock without drawing: posted views are applied, layouts run (while waiting for the flow)."""
    from kivy.clock import Clock

    Clock.tick()
    Clock.tick_draw()


@dataclass
class SessionResult:
    flow: str
    twist: str
    status: str  # completed / aborted / failed / stuck
    reason: str | None
    views: int
    seconds: float
    fallbacks: list[str] = field(default_factory=list)  # views the answers file had no answer for (cancelled)


class SessionDriver:
    """Runs sessions on `app` (a started KioskApp on the UI thread) with the virtual kiosk's devices."""

    def __init__(self, app: Any, virtual: Any, clock: Any, specs: dict[str, AnswersFile], *,
                 frame: Callable[[], None] = draw_frame, idle_tick: Callable[[], None] = tick,
                 limit_s: float = 120.0):
        self.app = app
        self.virtual = virtual
        self.clock = clock  # kiosk.runflow.SkippableClock shared with the app's flows
        self.specs = specs
        self.frame = frame
        self.idle_tick = idle_tick
        self.limit_s = limit_s
        self.views_drawn = 0
        self.replugs = 0
        self.replug_failures = 0

    # -- one session -------------------------------------------------------------------------
    def run(self, flow: str, twist: str = "none") -> SessionResult:
        if twist not in TWISTS:
            raise ValueError(f"unknown twist {twist!r}; known: {', '.join(TWISTS)}")
        app = self.app
        spec = self.specs[flow]
        answers = dict(spec.answers)
        if twist == "unplug":
            answers.setdefault("bp.error", "skip")
        book = AnswerBook(answers, audio=self.virtual.audio)
        start = time.monotonic()
        ended_before = app.session.sessions_ended
        asked = 0
        answered: set[int] = set()
        fallbacks: list[str] = []
        if twist == "backoffice_timeout":
            self._backoffice_latency(True)
        try:
            app.start_service(flow)
            drawn: ViewBase | None = None
            while time.monotonic() - start < self.limit_s:
                self.idle_tick()
                if app.session.sessions_ended > ended_before:
                    self.frame()  # the home screen
                    break
                view: ViewBase | None = app.current_view
                if view is not drawn:  # each view (and each progress update) is drawn once
                    self.frame()
                    drawn = view
                if view is None:
                    if not app.session.active and app.session.last_status is not None:
                        app.session.end()  # ended without a final view (a broken deps factory)
                    time.sleep(0.001)
                    continue
                if view.view_id in answered:
                    time.sleep(0.001)
                    continue
                if view.final:
                    if app.session.last_status is None:  # the engine is still closing the flow
                        time.sleep(0.001)
                        continue
                    answered.add(view.view_id)
                    self.views_drawn += 1
                    app.session.end()  # "Done"
                    continue
                if not view.awaits_answer:
                    time.sleep(0.001)  # a device or the back office is working: leave the GIL to the flow thread
                    continue
                answered.add(view.view_id)
                self.views_drawn += 1
                asked += 1
                self._answer(view, book, twist, asked, fallbacks)
            else:
                log.error("session %s/%s did not end within %.0f s", flow, twist, self.limit_s)
                app.session.end()
                return SessionResult(flow, twist, "stuck", None, len(answered), time.monotonic() - start, fallbacks)
        finally:
            if twist == "backoffice_timeout":
                self._backoffice_latency(False)
            if twist == "unplug":
                self._replug_bp()
        status = app.session.last_status or "failed"
        return SessionResult(flow, twist, status, app.session.last_reason, len(answered), time.monotonic() - start,
                             fallbacks)

    def _answer(self, view: ViewBase, book: AnswerBook, twist: str, asked: int, fallbacks: list[str]) -> None:
        app = self.app
        if twist == "cancel" and asked == CANCEL_AT:
            app.act(Action.cancel().model_copy(update={"view_id": view.view_id}))
            return
        if twist == "idle" and asked >= CANCEL_AT:
            app.host.call_soon(self.clock.advance, (view.timeout_s or 0.0) + 1.0)  # nobody touches anything
            return
        if twist == "unplug" and view.step == "bp" and view.kind is ViewKind.CHOICE:
            sims = getattr(self.virtual.deps, "sims", {}) or {}
            if "bp" in sims:
                sims["bp"].faults.inject("unplug")  # the monitor vanishes in the middle of its reply
        try:
            action = book.action_for(view)
        except NoAnswer:
            fallbacks.append(f"{view.step}.{view.kind.value}")
            action = Action.cancel().model_copy(update={"view_id": view.view_id})  # a citizen who does not know what to do leaves
        if action is IDLE:
            app.host.call_soon(self.clock.advance, (view.timeout_s or 0.0) + 1.0)
        else:
            app.act(action)

    # -- the monitor plugged back in --------------------------------------------------------------
    def _replug_bp(self, timeout_s: float = 40.0) -> bool:
        """Staff plug the monitor back in; True once the supervisor has reconnected it on its own."""
        from peripherals.device_model import DeviceKind, DeviceState

        deps = self.virtual.deps
        sim = (getattr(deps, "sims", {}) or {}).get("bp")
        if sim is None:
            return False
        sim.plugged = True  # the port can be opened again (sim:// refuses to open an unplugged device)
        supervisor = deps.devices.supervisor
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if supervisor[DeviceKind.BP].state is DeviceState.READY:
                self.replugs += 1
                return True
            self.idle_tick()
            time.sleep(0.02)
        log.error("the blood-pressure monitor did not come back within %.0f s of its replug", timeout_s)
        self.replug_failures += 1
        return False

    # -- the back office misbehaving -----------------------------------------------------------
    def _backoffice_latency(self, on: bool) -> None:
        """Every back-office request answers after 3 s (longer than the soak's 0.5 s client timeout)."""
        import httpx

        url = f"{self.virtual.backoffice_url}/v1/_faults"
        if on:
            httpx.post(url, json={"rules": [{"prefix": "/v1/", "latency_ms": 3000}]}, timeout=5).raise_for_status()
        else:
            httpx.delete(url, timeout=5).raise_for_status()
