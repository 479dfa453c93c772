"""The flow engine: small async steps, driven by views and actions, journaled after each step.

A flow (the shape of Home Assistant's config flows) is a class with a `Step` enum, a
pydantic `State` model and one `async def step_<name>(self, ctx)` per step. A step asks
the citizen through `await ctx.ask(view)`, awaits devices and services through
`ctx.call(...)` / `ctx.submit(...)` (interfaces injected as `ctx.deps`), mutates
`ctx.state`, and returns `Next(Step.X)`, `Done(...)` or `Abort(...)`.

`FlowRunner` runs one session: it offers to resume an unfinished journaled session, runs
the steps, writes the state to the journal after every step (before the next step can do
anything irreversible), enforces timeouts with a WCAG 2.2.1 idle warning that can be
extended, keeps Cancel and Help available everywhere, and wipes the journal at the end.
Front ends pull views (`await runner.next_view()`) and push actions (`await runner.act(a)`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from enum import StrEnum
from typing import Any, AsyncIterator, Awaitable, Callable, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from flows.clock import TIMED_OUT, Clock, MonotonicClock, wait_for
from flows.errors import AnswerInvalid, FlowFinished, JournalError, OperationTimeout, ServiceError, UnknownStep
from flows.flow import RESUME_STEP, Flow
from flows.journal import Journal, JournalCorrupt, idempotency_key
from flows.outcomes import (Abort, AbortReason, Done, EngineSettings, FlowOutcome, Next, OutcomeStatus, ResumePolicy,
                            _Cancelled, _GoBack, _IdleTimeout, _JournalFailed, _Signal)
from flows.views import Action, ActionKind, Choice, ChoiceOption, Error, Help, IdleWarning, Msg, Result, ViewBase, msg
from peripherals.errors import DeviceError

# the engine's public surface: flows and front ends import these names from here
__all__ = ["Abort", "AbortReason", "Done", "EngineSettings", "Flow", "FlowContext", "FlowOutcome", "FlowRunner", "Next",
           "OutcomeStatus", "ResumePolicy"]

log = logging.getLogger(__name__)

S = TypeVar("S", bound=BaseModel)
D = TypeVar("D")
T = TypeVar("T")


class FlowContext(Generic[S, D]):
    """What a step gets: the state, the injected devices/services, and ways to talk to the citizen."""

    def __init__(self, runner: "FlowRunner[S, D]", state: S, deps: D):
        self._runner = runner
        self.state: S = state
        self.deps: D = deps

    @property
    def session_id(self) -> str:
        return self._runner.session_id

    @property
    def step(self) -> str:
        return self._runner._step_name

    @property
    def settings(self) -> EngineSettings:
        return self._runner.settings

    @property
    def clock(self) -> Clock:
        return self._runner.clock

    @property
    def resumed(self) -> bool:
        return self._runner.resumed

    @property
    def elderly(self) -> bool:
        """Longer timeouts (× settings.elderly_factor); journaled with the session."""
        return self._runner._elderly

    @elderly.setter
    def elderly(self, on: bool) -> None:
        self._runner._elderly = bool(on)

    async def ask(self, view: ViewBase, *, timeout: float | None = None) -> Any:
        """Show `view`, wait for the citizen's answer, return it parsed by the view.

        Cancel raises out (the flow aborts), Help shows help and comes back here, Back
        returns to the previous step, idleness leads to the warning and then an abort.
        """
        return await self._runner._ask(view, timeout)

    async def show(self, view: ViewBase) -> None:
        """Show a view that needs no answer (Measuring progress, Busy) and go on."""
        self._runner._publish(view, awaits=False)
        await asyncio.sleep(0)

    def show_threadsafe(self, view: ViewBase) -> None:
        """`show` from a device worker thread (e.g. a blood-pressure progress callback)."""
        self._runner._loop.call_soon_threadsafe(lambda: self._runner._publish(view, awaits=False))

    async def call(
        self,
        op: Awaitable[T] | Callable[[], Awaitable[T]],
        *,
        timeout: float | None = None,
        view: ViewBase | None = None,
    ) -> T:
        """Await a device/service operation with a deadline, showing `view` meanwhile.

        Cancel stops it (the operation task is cancelled); Help shows help over it.
        Raises OperationTimeout after `timeout` (default settings.call_timeout_s).
        """
        return await self._runner._call(op, timeout, view)

    async def run_blocking(
        self, fn: Callable[..., T], *args: Any, timeout: float | None = None, view: ViewBase | None = None
    ) -> T:
        """`call` for a blocking driver method, run in a worker thread."""
        return await self.call(lambda: asyncio.to_thread(fn, *args), timeout=timeout, view=view)

    def idempotency_key(self, purpose: str = "") -> str:
        """Stable for (session, this step, purpose) across retries, crashes and resumes."""
        return self._runner.idempotency_key(self.step, purpose)

    async def submit(
        self,
        op: Callable[..., Awaitable[T]],
        *args: Any,
        purpose: str = "",
        timeout: float | None = None,
        view: ViewBase | None = None,
        **kwargs: Any,
    ) -> T:
        """Call a back-office submission with `idempotency_key=` set, so a re-run never doubles it."""
        key = self.idempotency_key(purpose)
        return await self.call(lambda: op(*args, idempotency_key=key, **kwargs), timeout=timeout, view=view)

    async def checkpoint(self) -> None:
        """Journal the state now (mid-step), e.g. right before an irreversible act in the same step."""
        self._runner._save(self._runner._step)


class FlowRunner(Generic[S, D]):
    """Runs one session of `flow`. Create it in the event loop that will drive it."""

    def __init__(
        self,
        flow: Flow[S, D],
        journal: Journal | None = None,
        deps: D = None,  # type: ignore[assignment]
        *,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        resume: ResumePolicy = ResumePolicy.ASK,
        elderly: bool = False,
    ):
        self.flow = flow
        self.journal = journal
        self.deps = deps
        self.settings = settings or EngineSettings()
        self.clock: Clock = clock or MonotonicClock()
        self.resume_policy = resume
        self.session_id = secrets.token_hex(16)
        self.resumed = False
        self._journal_error = ""  # the code of the journal write that failed (e.g. disk_full)
        self._elderly = elderly
        self._views: asyncio.Queue[ViewBase] = asyncio.Queue()
        self._inbox: asyncio.Queue[Action] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop
        self._view_seq = 0
        self._current: ViewBase | None = None
        self._final_delivered = False
        self._outcome: FlowOutcome | None = None
        self._history: list[str] = []
        self._step: StrEnum = flow.first  # type: ignore[assignment]
        self._step_name: str = str(flow.first)
        self._ctx: FlowContext[S, D] | None = None
        self._local_idem_key = secrets.token_bytes(32)
        self.steps_run = 0

    # -- the front end's side ----------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._main(), name=f"flow:{self.flow.name}")

    async def next_view(self) -> ViewBase:
        """The next view to render; the last one has `final=True`. FlowFinished after that."""
        self.start()
        if self._final_delivered:
            raise FlowFinished("the flow has ended")
        view = await self._views.get()
        if view.final:
            self._final_delivered = True
        return view

    async def act(self, action: Action) -> None:
        """The citizen did something on the current view."""
        if self._outcome is None:
            self._inbox.put_nowait(action)

    async def views(self) -> AsyncIterator[ViewBase]:
        while not self._final_delivered:
            yield await self.next_view()

    async def wait(self) -> FlowOutcome:
        self.start()
        assert self._task is not None
        await asyncio.shield(self._task)
        assert self._outcome is not None
        return self._outcome

    async def run(self, respond: Callable[[ViewBase], Awaitable[Action | None]]) -> FlowOutcome:
        """Drive to the end: `respond(view)` is awaited for every view that awaits an answer."""
        async for view in self.views():
            if view.awaits_answer:
                action = await respond(view)
                if action is not None:
                    await self.act(action)
        return await self.wait()

    async def aclose(self) -> None:
        """Stop the flow task (app shutdown). The journal is kept: the session may be resumed."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    @property
    def outcome(self) -> FlowOutcome | None:
        return self._outcome

    @property
    def current_view(self) -> ViewBase | None:
        return self._current

    @property
    def state(self) -> S | None:
        return self._ctx.state if self._ctx else None

    def idempotency_key(self, step: str, purpose: str = "") -> str:
        if self.journal is not None:
            return self.journal.idempotency_key(self.session_id, step, purpose)
        return idempotency_key(self._local_idem_key, self.session_id, step, purpose)

    # -- the session -------------------------------------------------------------------------

    async def _main(self) -> None:
        try:
            outcome = await self._run()
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # a bug in the engine itself: still end cleanly and wipe
            log.error("flow %s: engine failure %s", self.flow.name, type(e).__name__)
            outcome = self._finish(Abort(reason=AbortReason.INTERNAL_ERROR))
        final = self._publish(outcome.final_view, awaits=False, final=True)
        self._outcome = outcome.model_copy(update={"final_view": final})

    async def _run(self) -> FlowOutcome:
        try:
            state = await self._open_session()
        except _Cancelled:
            return self._finish(Abort(reason=AbortReason.CANCELLED))
        except _IdleTimeout:
            return self._finish(Abort(reason=AbortReason.IDLE_TIMEOUT))
        except _JournalFailed:
            return self._finish(self._journal_abort())
        self._ctx = FlowContext(self, state, self.deps)
        while True:
            self._step_name = str(self._step)
            method = getattr(self.flow, f"step_{self._step.value}")
            self.steps_run += 1
            log.info("flow %s [%s]: step %s", self.flow.name, self.session_id[:8], self._step_name)
            try:
                result = await method(self._ctx)
            except _GoBack:
                if self._history:
                    self._step = self.flow.step_for(self._history.pop())
                    if not self._save_or_abort():
                        return self._finish(self._journal_abort())
                continue
            except _Cancelled:
                return self._finish(Abort(reason=AbortReason.CANCELLED))
            except _IdleTimeout:
                return self._finish(Abort(reason=AbortReason.IDLE_TIMEOUT))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                return self._finish(self._abort_for(e))
            if isinstance(result, Next):
                try:
                    nxt = self.flow.step_for(str(result.step))
                except UnknownStep as e:
                    return self._finish(self._abort_for(e))
                if result.allow_back:
                    self._history.append(self._step_name)
                else:
                    self._history.clear()
                self._step = nxt
                if not self._save_or_abort():  # durable BEFORE the next step runs
                    return self._finish(self._journal_abort())
            elif isinstance(result, (Done, Abort)):
                return self._finish(result)
            else:
                log.error("flow %s: step %s returned %s", self.flow.name, self._step_name, type(result).__name__)
                return self._finish(Abort(reason=AbortReason.INTERNAL_ERROR))

    async def _open_session(self) -> S:
        """Resume an unfinished journaled session (offered per policy) or start a fresh one."""
        record = None
        if self.journal is not None:
            record = self.journal.find_resumable(self.flow.name, self.flow.version)
            if record is not None and self.resume_policy is ResumePolicy.NEVER:
                self.journal.wipe(record.session_id)
                record = None
            if record is not None and self.resume_policy is ResumePolicy.ASK:
                self._step_name = RESUME_STEP
                offer = Choice(
                    message=msg("resume.offer"),
                    options=(
                        ChoiceOption(key="resume", label=msg("resume.continue")),
                        ChoiceOption(key="restart", label=msg("resume.start_over")),
                    ),
                    can_back=False,
                )
                try:
                    answer = await self._ask(offer, None)
                except _Signal:
                    self.journal.wipe(record.session_id)
                    raise
                if answer != "resume":
                    self.journal.wipe(record.session_id)
                    record = None
            if record is not None:
                try:
                    state = record.state(self.flow.State)
                    step = self.flow.step_for(record.step)
                    history = [str(self.flow.step_for(h)) for h in record.history]
                except (ValidationError, UnknownStep, JournalCorrupt):
                    log.warning("flow %s: journaled session does not fit this flow; wiped", self.flow.name)
                    self.journal.wipe(record.session_id)
                    record = None
                else:
                    self.session_id = record.session_id
                    self._step, self._history = step, history
                    self._elderly = bool(record.meta.get("elderly", self._elderly))
                    self.resumed = True
                    log.info("flow %s [%s]: resumed at %s", self.flow.name, self.session_id[:8], record.step)
                    return state  # type: ignore[return-value]
        self._step = self.flow.first  # type: ignore[assignment]
        state = self.flow.initial_state()
        self._ctx = FlowContext(self, state, self.deps)
        if not self._save_or_abort():
            raise _JournalFailed()
        return state

    def _finish(self, result: Done | Abort) -> FlowOutcome:
        """Wipe the journal, then build the outcome and its final view."""
        if self.journal is not None:
            try:
                self.journal.wipe(self.session_id)
            except JournalError:
                log.error("flow %s: journal wipe failed", self.flow.name)
        where = {"last_step": self._step_name, "last_step_no": self._step_no()}
        if isinstance(result, Done):
            view: Result | Error = Result(message=result.message, details=result.details)
            outcome = FlowOutcome(
                status=OutcomeStatus.COMPLETED, flow=self.flow.name, session_id=self.session_id,
                outcome=result.outcome.model_dump(mode="json") if result.outcome is not None else None,
                steps_run=self.steps_run, resumed=self.resumed, final_view=view, **where,
            )
        else:
            if result.error is not None:
                view = result.error
            elif result.reason is AbortReason.CANCELLED:
                view = Result(message=msg("result.cancelled"))
            else:
                code = result.code or result.reason.value
                view = Error(code=code, what=msg(f"error.{result.reason.value}.what", code=code),
                             next=msg(f"error.{result.reason.value}.next"))
            outcome = FlowOutcome(
                status=OutcomeStatus.ABORTED, flow=self.flow.name, session_id=self.session_id,
                reason=result.reason, code=result.code, steps_run=self.steps_run, resumed=self.resumed,
                final_view=view, **where,
            )
        log.info("flow %s [%s]: %s %s", self.flow.name, self.session_id[:8], outcome.status.value,
                 outcome.reason.value if outcome.reason else "")
        return outcome

    def _step_no(self) -> int:
        """The current step's place in the flow (1 = first), 0 before any step ran."""
        try:
            return self.flow.progress(self.flow.step_for(self._step_name)).index
        except UnknownStep:
            return 0

    def _abort_for(self, e: Exception) -> Abort:
        """Map an exception a step did not handle to an abort; only type names and codes are logged."""
        code = str(getattr(e, "code", "") or "")
        log.warning("flow %s: step %s raised %s (%s)", self.flow.name, self._step_name, type(e).__name__, code)
        if isinstance(e, DeviceError):
            return Abort(reason=AbortReason.DEVICE_FAULT, code=code)
        if isinstance(e, OperationTimeout):
            return Abort(reason=AbortReason.STEP_TIMEOUT, code=code)
        if isinstance(e, ServiceError):
            return Abort(reason=AbortReason.SERVICE_FAILED, code=code)
        if isinstance(e, JournalError):
            return Abort(reason=AbortReason.JOURNAL_FAILED, code=code)
        return Abort(reason=AbortReason.INTERNAL_ERROR)

    def _save(self, step: StrEnum) -> None:
        if self.journal is None or self._ctx is None:
            return
        self.journal.save(
            self.session_id, self.flow.name, self.flow.version, str(step), self._history,
            self._ctx.state, meta={"elderly": self._elderly},
        )

    def _save_or_abort(self) -> bool:
        try:
            self._save(self._step)
            return True
        except JournalError as e:
            self._journal_error = e.code
            log.error("flow %s: journal write failed (%s); stopping before the next step", self.flow.name, e.code)
            return False

    def _journal_abort(self) -> Abort:
        """The session cannot be kept safely (e.g. code disk_full): stop, before anything irreversible."""
        return Abort(reason=AbortReason.JOURNAL_FAILED, code=self._journal_error or "journal_error")

    # -- views and actions -------------------------------------------------------------------

    def _publish(self, view: ViewBase, *, awaits: bool, timeout_s: float | None = None, final: bool = False) -> ViewBase:
        self._view_seq += 1
        resume = self._step_name == RESUME_STEP
        can_back = not final and not resume and view.can_back is not False and bool(self._history)
        progress = None if (final or resume) else self.flow.progress(self._step)
        stamped = view.model_copy(update={
            "view_id": self._view_seq, "flow": self.flow.name, "step": self._step_name, "progress": progress,
            "awaits_answer": awaits, "timeout_s": timeout_s, "can_back": can_back, "final": final,
            "help_key": view.help_key or self.flow.help_key(self._step_name),
        })
        self._current = stamped
        self._views.put_nowait(stamped)
        return stamped

    def _ask_timeout(self, timeout: float | None) -> float:
        if timeout is None:
            timeout = self.flow.ask_timeouts.get(self._step_name, self.settings.ask_timeout_s)
        base = timeout
        return base * (self.settings.elderly_factor if self._elderly else 1.0)

    async def _receive(self, view_id: int, timeout: float) -> Action | None:
        """The next action meant for `view_id` (stale ones dropped), or None when time ran out."""
        deadline = self.clock.now() + timeout
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return None
            action = await wait_for(self.clock, self._inbox.get(), remaining)
            if action is TIMED_OUT:
                return None
            if action.view_id is not None and action.view_id != view_id:
                continue
            return action

    async def _ask(self, view: ViewBase, timeout: float | None) -> Any:
        """Every action gets a fresh view back (even an ignored one), so front ends stay in step."""
        base = self._ask_timeout(timeout)
        wait_s = base
        extensions = 0
        deadline = self.clock.now() + wait_s
        shown = self._publish(view, awaits=True, timeout_s=wait_s)
        while True:
            action = await self._receive(shown.view_id, deadline - self.clock.now())
            if action is None:
                action = await self._idle_warning(extensions)
            kind = action.kind
            if kind is ActionKind.CANCEL:
                raise _Cancelled()
            if kind is ActionKind.BACK and shown.can_back:
                raise _GoBack()
            if kind is ActionKind.MORE_TIME and extensions < self.settings.max_extensions:
                extensions += 1
                wait_s = max(base, self.settings.extension_s)
                deadline = self.clock.now() + wait_s
            elif kind is ActionKind.HELP:
                await self._help(view, base)
                deadline = self.clock.now() + wait_s
            elif kind is ActionKind.ANSWER:
                try:
                    return view.parse_answer(action.value)
                except AnswerInvalid as e:
                    view = view.model_copy(update={"errors": e.errors})
                    deadline = self.clock.now() + wait_s
            # MORE_TIME past the limit and Back with nowhere to go keep the deadline
            shown = self._publish(view, awaits=True, timeout_s=max(0.0, deadline - self.clock.now()))

    async def _idle_warning(self, extensions_used: int) -> Action:
        """Show the warning; MORE_TIME (or any answer) extends, silence or Cancel ends the flow."""
        left = self.settings.max_extensions - extensions_used
        warning = IdleWarning(seconds=self.settings.warning_s, extensions_left=max(0, left), can_extend=left > 0,
                              can_back=False)
        deadline = self.clock.now() + self.settings.warning_s
        shown = self._publish(warning, awaits=True, timeout_s=self.settings.warning_s)
        while True:
            action = await self._receive(shown.view_id, deadline - self.clock.now())
            if action is None:
                log.info("flow %s [%s]: idle timeout", self.flow.name, self.session_id[:8])
                raise _IdleTimeout()
            if action.kind is ActionKind.CANCEL:
                raise _Cancelled()
            if left > 0 and action.kind in (ActionKind.MORE_TIME, ActionKind.ANSWER):
                return Action.more_time()
            shown = self._publish(warning, awaits=True, timeout_s=max(0.0, deadline - self.clock.now()))

    async def _help(self, view: ViewBase, timeout: float) -> None:
        """Show help for the current view; any answer (or Back, or time running out) returns."""
        key = view.help_key or self.flow.help_key(self._step_name)
        shown = self._publish(Help(topic=Msg(key=key), can_back=False), awaits=True, timeout_s=timeout)
        action = await self._receive(shown.view_id, timeout)
        if action is not None and action.kind is ActionKind.CANCEL:
            raise _Cancelled()

    async def _call(self, op: Awaitable[T] | Callable[[], Awaitable[T]], timeout: float | None, view: ViewBase | None) -> T:
        timeout = timeout if timeout is not None else self.settings.call_timeout_s
        working = self._publish(view, awaits=False) if view is not None else None
        helping: ViewBase | None = None
        op_task = asyncio.ensure_future(op() if callable(op) else op)
        deadline = self.clock.now() + timeout
        try:
            while True:
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    raise OperationTimeout(f"{self.flow.name}.{self._step_name}: operation took longer than {timeout} s")
                inbox = asyncio.ensure_future(self._inbox.get())
                sleeper = asyncio.ensure_future(self.clock.sleep(remaining))
                try:
                    done, _ = await asyncio.wait({op_task, inbox, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    if not inbox.done():
                        inbox.cancel()
                action = inbox.result() if inbox.done() and not inbox.cancelled() else None
                if op_task.done():
                    if action is not None:
                        self._inbox.put_nowait(action)  # for the next ask
                    return op_task.result()
                if action is not None:
                    if action.kind is ActionKind.CANCEL:
                        raise _Cancelled()
                    if action.kind is ActionKind.HELP and working is not None and helping is None:
                        helping = self._publish(Help(topic=Msg(key=working.help_key or self.flow.help_key(self._step_name)),
                                                     can_back=False), awaits=True, timeout_s=None)
                    elif helping is not None and action.kind in (ActionKind.ANSWER, ActionKind.BACK):
                        helping = None
                        assert view is not None
                        working = self._publish(view, awaits=False)
                if sleeper in done and self.clock.now() >= deadline:
                    raise OperationTimeout(f"{self.flow.name}.{self._step_name}: operation took longer than {timeout} s")
        finally:
            if not op_task.done():
                op_task.cancel()
