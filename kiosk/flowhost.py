"""Runs flows on an asyncio loop in a background thread, so the UI thread never waits.

Why a thread and not Kivy's `async_run`: flows await devices and the back office, and a
driver call or an HTTP retry that misbehaves must never stall a frame. With the loop on
its own thread, the UI thread only ever (a) posts an action with
`loop.call_soon_threadsafe` and (b) receives views through `post` — in the app that is
`Clock.schedule_once`, so every view is rendered on the UI thread (kivy.md §4 A).
Nothing here imports Kivy, so it is tested without a window.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from flows.engine import EngineSettings, Flow, FlowOutcome, FlowRunner, ResumePolicy
from flows.journal import Journal, personal_fields
from flows.views import Action, ViewBase

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]  # run a callable on the UI thread


class FlowHost:
    """One event loop on a daemon thread for the whole app."""

    def __init__(self, post: Post):
        self._post = post
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="flow-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def start(self, spec: "SessionSpec", on_view: Callable[[ViewBase], None],
              on_end: Callable[[FlowOutcome | None], None]) -> "FlowSession":
        session = FlowSession(self, spec, on_view, on_end)
        session.future = self.submit(session._main())
        return session

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel whatever still runs on the loop (a flow keeps its journal for resume), then stop it."""
        if self.loop.is_closed():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.submit(cancel_all()).result(timeout)
        except Exception:
            log.warning("flow loop: tasks did not stop in time")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()

    def post(self, fn: Callable[[], None]) -> None:
        self._post(fn)


@dataclass
class SessionSpec:
    """What one citizen session runs: the flow, how to build its deps (inside the loop), policy."""

    flow: Flow
    deps_factory: Callable[[], Any] | None = None  # may be async; called on the flow loop
    journal: Journal | Callable[[], Journal | None] | None = None  # a factory is called on the flow loop
    settings: EngineSettings | None = None
    clock: Any = None
    resume: ResumePolicy = ResumePolicy.ASK
    elderly: bool = False


class FlowSession:
    """The UI's handle on one running flow: post actions, learn about views and the end."""

    def __init__(self, host: FlowHost, spec: SessionSpec, on_view: Callable[[ViewBase], None],
                 on_end: Callable[[FlowOutcome | None], None]):
        self.host = host
        self.spec = spec
        self.runner: FlowRunner | None = None
        self.future: concurrent.futures.Future | None = None
        self._on_view = on_view
        self._on_end = on_end
        self._closed = False

    async def _main(self) -> None:
        outcome: FlowOutcome | None = None
        try:
            deps = self.spec.deps_factory() if self.spec.deps_factory else None
            if inspect.isawaitable(deps):
                deps = await deps
            journal = self.spec.journal() if callable(self.spec.journal) else self.spec.journal
            self.runner = FlowRunner(self.spec.flow, journal, deps, settings=self.spec.settings,
                                     clock=self.spec.clock, resume=self.spec.resume, elderly=self.spec.elderly)
            async for view in self.runner.views():
                if self._closed:
                    break
                self.host.post(lambda v=view: self._deliver(v))
            if not self._closed:
                outcome = await self.runner.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken deps factory or engine bug: the UI still ends the session
            log.error("flow session failed: %s", type(exc).__name__)
        finally:
            closer = getattr(locals().get("deps"), "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:
                    log.warning("closing flow deps failed")
        self.host.post(lambda: self._end(outcome))

    def _deliver(self, view: ViewBase) -> None:
        if not self._closed:
            self._on_view(view)

    def _end(self, outcome: FlowOutcome | None) -> None:
        self._on_end(outcome)

    # -- UI thread -------------------------------------------------------------------------
    def act(self, action: Action) -> None:
        """Post the citizen's action to the flow (returns at once)."""
        if self.runner is not None and not self._closed:
            self.host.submit(self.runner.act(action))

    def set_elderly(self, on: bool) -> None:
        """Longer timeouts from the next asked view on (FlowRunner has no public setter yet)."""
        if self.runner is not None:
            self.host.call_soon(setattr, self.runner, "_elderly", bool(on))

    def close(self) -> None:
        """Stop the flow (if still running) and forget its personal state."""
        self._closed = True
        runner = self.runner
        if runner is None:
            return

        async def shut() -> None:
            await runner.aclose()
            wipe_state(runner.state)

        self.host.submit(shut())
        self.runner = None


def wipe_state(state: Any) -> None:
    """Overwrite the personal fields of a flow state in memory (the journal row is already wiped)."""
    if state is None:
        return
    for name in personal_fields(type(state)):
        try:
            object.__setattr__(state, name, None)
        except Exception:
            pass
