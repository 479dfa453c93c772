"""`kiosk run-flow NAME --answers FILE --devices sim --state-dir DIR [--backoffice URL]`: a flow, headless.

Every view is printed on stdout as one JSON line (`view.model_dump_json()`); the citizen's
answers come from the answers file; the last line is the outcome
(`{"kind": "outcome", "status": "completed"|"aborted", "outcome": {...}, ...}`).
Exit status: 0 completed, 3 aborted, 2 the answers file has no answer for a view (the
session stays journaled) or a usage error, 1 the kiosk could not start (devices, back office).

An unfinished session of the same flow found in DIR is resumed (ResumePolicy.ALWAYS).
Without --backoffice the reference back office is started as a child process
(`python -m backoffice.cli`) on a free loopback port with its SQLite file in DIR, and
stopped at exit (it also dies with the runner: PR_SET_PDEATHSIG).

Answers file (YAML or JSON)::

    flow: licence-renewal        # optional; must match NAME
    sim:                         # optional: simulator options per device kind (the simulated citizen)
      bp: {sys: 128, dia: 82}
      eye: {acuity_left: 5.0, acuity_right: 5.1}
    settings: {payment_poll_s: 0.2}   # optional: flows.deps.FlowSettings fields
    engine: {ask_timeout_s: 60}       # optional: flows.engine.EngineSettings fields
    answers:                     # for each asked view, the first key present is used:
      consent: {biometrics: true, health: true}   #   "<step>.<view kind>", "<step>", "*.<view kind>"
      colour: ["@normal", "@normal", "nothing"]    # a list is consumed in order, one item per view
      hearing: "@heard"                           # anything else answers every view of that key

Answer values are the view's answer (a choice key, a dict of form values or consents, null)
or one of: "@continue" (null), "@cancel", "@help", "@back", "@more_time", "@idle" (do
nothing: time moves past the view's timeout), "@heard" / "@missed" (the hearing test:
the side the simulated speaker played, or the other one), "@normal" / "@protan" /
"@deutan" (a colour plate: what that observer reads, judged from the plate's pixels
through the Machado 2009 simulation — flows.colour.index.simulated_reading). "@@x" is the literal "@x".
Without an entry, prompts, help and results are continued, the idle warning gets
"@more_time"; any other view ends the run with status 2.

Crash testing: KIOSK_CRASH_AT=<step>:<n> makes the runner SIGKILL itself right after the
n-th journal write that records <step> as the step to run next (n from 1, counted in
this process). The initial write of a fresh session records the first step.
KIOSK_CRASH_AT=call.<method>:<n> kills it right after the n-th back-office call of that
name returned (e.g. call.renew_licence:1): the back office has accepted, the journal does
not know yet — the case idempotency keys exist for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows import registry
from flows.deps import DeviceAccess, FlowDeps, FlowSettings, SimAudio, configured_audio, sim_deps
from flows.engine import EngineSettings, FlowRunner, OutcomeStatus, ResumePolicy
from flows.face_verifiers import IdentityServiceVerifier
from flows.journal import Journal
from flows.outbox import running_outbox
from flows.views import Action, ViewBase, ViewKind
from kiosk.diagnostics.identity_check import StaffIdentityCheck
from kiosk.diagnostics.staff_auth import StaffAuth
from lifecycle.children import child_options

log = logging.getLogger(__name__)

EXIT_COMPLETED, EXIT_FAILED, EXIT_USAGE, EXIT_ABORTED = 0, 1, 2, 3
CRASH_ENV = "KIOSK_CRASH_AT"


# --- the answers file ----------------------------------------------------------------------


class AnswersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow: str | None = None
    sim: dict[str, dict[str, Any]] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    engine: dict[str, Any] = Field(default_factory=dict)
    answers: dict[str, Any] = Field(default_factory=dict)


class NoAnswer(LookupError):
    """The answers file has no answer for a view that needs one."""


class _Idle:
    def __repr__(self) -> str:
        return "IDLE"


IDLE = _Idle()

_DEFAULTS = {ViewKind.PROMPT: "@continue", ViewKind.HELP: "@continue", ViewKind.RESULT: "@continue",
             ViewKind.IDLE_WARNING: "@more_time"}
_SPECIAL = {"@continue": Action.answer(None), "@cancel": Action.cancel(), "@help": Action.help(),
            "@back": Action.back(), "@more_time": Action.more_time()}
_OBSERVERS = {"@normal": None, "@protan": "protan", "@deutan": "deutan"}  # colour plates


def _jsonable(value: Any) -> Any:
    """YAML gives dates and times as objects; answers travel as JSON values."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class AnswerBook:
    """Answers keyed by step / view kind; lists are consumed in order (one cursor per key)."""

    def __init__(self, answers: dict[str, Any], audio: Any = None, plates_dir: Any = None):
        self.answers = {str(k): _jsonable(v) for k, v in answers.items()}
        self.audio = audio
        self.plates_dir = plates_dir
        self._cursor: dict[str, int] = {}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AnswersFile:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError("the answers file must hold a mapping")
        return AnswersFile.model_validate(data)

    def raw_for(self, view: ViewBase) -> Any:
        for key in (f"{view.step}.{view.kind.value}", view.step, f"*.{view.kind.value}"):
            if key in self.answers:
                value = self.answers[key]
                if isinstance(value, list):
                    i = self._cursor.get(key, 0)
                    if i >= len(value):
                        raise NoAnswer(f"all {len(value)} answers for {key!r} are used up")
                    self._cursor[key] = i + 1
                    return value[i]
                if view.errors:  # the view refused this very answer; sending it again would loop
                    raise NoAnswer(f"the answer for {key!r} was refused: {view.errors}")
                return value
        if view.kind in _DEFAULTS:
            return _DEFAULTS[view.kind]
        raise NoAnswer(f"no answer for the {view.kind.value} view at step {view.step!r}")

    def action_for(self, view: ViewBase) -> Action | _Idle:
        value = self.raw_for(view)
        if isinstance(value, str) and value.startswith("@"):
            if value.startswith("@@"):
                value = value[1:]
            elif value == "@idle":
                return IDLE
            elif value in ("@heard", "@missed"):
                side = getattr(self.audio, "last_played", None)
                if side is None:
                    raise NoAnswer(f"{value} needs the simulated audio output to have played a sound")
                answer = side.value if value == "@heard" else ("left" if side.value == "right" else "right")
                return Action.answer(answer, view_id=view.view_id)
            elif value in _OBSERVERS:
                return Action.answer(self._plate_reading(view, _OBSERVERS[value]), view_id=view.view_id)
            elif value in _SPECIAL:
                return _SPECIAL[value].model_copy(update={"view_id": view.view_id})
            else:
                raise NoAnswer(f"unknown special answer {value!r}")
        return Action.answer(value, view_id=view.view_id)

    def _plate_reading(self, view: ViewBase, deficiency: str | None) -> str:
        """What the simulated citizen reads on the colour plate the view shows (flows.colour.index)."""
        from flows.colour.index import load_pool, simulated_reading

        key = getattr(view, "image", None)
        pool = load_pool(self.plates_dir)
        entry = pool.by_key(key) if key else None
        if entry is None:
            raise NoAnswer(f"the view at step {view.step!r} shows no generated colour plate")
        return simulated_reading(pool, entry, deficiency)


# --- time that can be skipped -------------------------------------------------------------


class SkippableClock:
    """Real monotonic time that the runner can move forward (the "@idle" answer).

    `sleep()` takes its deadline when called, not when first awaited, so advancing the
    clock right after a view was published never races the engine's timer.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._waiters: list[asyncio.Future[None]] = []

    def now(self) -> float:
        return time.monotonic() + self._offset

    def sleep(self, seconds: float) -> Any:
        return self._until(self.now() + max(0.0, seconds))

    async def _until(self, deadline: float) -> None:
        while (remaining := deadline - self.now()) > 0:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait({fut}, timeout=remaining)
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def advance(self, seconds: float) -> None:
        self._offset += max(0.0, seconds)
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


# --- crash hook ----------------------------------------------------------------------------


def parse_crash_at(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    step, _, n = spec.partition(":")
    if not step:
        raise ValueError(f"{CRASH_ENV} must look like <step>:<n>")
    count = int(n) if n else 1
    if count < 1:
        raise ValueError(f"{CRASH_ENV}: n counts from 1")
    return step, count


class CrashingJournal(Journal):
    """A Journal that SIGKILLs its own process right after a chosen write (crash tests)."""

    def __init__(self, *args: Any, crash_at: tuple[str, int] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.crash_at = crash_at
        self._hits = 0

    def save(self, session_id: str, flow: str, flow_version: int, step: str, history: Any, state: BaseModel,
             meta: dict[str, Any] | None = None) -> int:
        seq = super().save(session_id, flow, flow_version, step, history, state, meta)
        if self.crash_at is not None and step == self.crash_at[0]:
            self._hits += 1
            if self._hits == self.crash_at[1]:
                sys.stdout.flush()
                print(f"{CRASH_ENV}={step}:{self._hits}: killing the runner after the journal write", file=sys.stderr,
                      flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        return seq


class CrashAfterCall:
    """Back-office proxy that SIGKILLs the process after the n-th call of `method` returned."""

    def __init__(self, inner: Any, method: str, n: int):
        self._inner, self._method, self._n, self._calls = inner, method, n, 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        async def call(*args: Any, **kw: Any) -> Any:
            result = await attr(*args, **kw)
            self._calls += 1
            if self._calls == self._n:
                sys.stdout.flush()
                print(f"{CRASH_ENV}=call.{name}:{self._n}: killing the runner after the call returned", file=sys.stderr,
                      flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return call


# --- the reference back office as a child process ------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ManagedBackOffice:
    """`python -m backoffice.cli --port N --db FILE` on a free loopback port, until stop()."""

    def __init__(self, db: Path, *, pay_after: float = 0.5, start_timeout: float = 20.0):
        self.db, self.pay_after, self.start_timeout = db, pay_after, start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> "ManagedBackOffice":
        import httpx

        for _attempt in range(3):
            port = _free_port()
            cmd = [sys.executable, "-m", "backoffice.cli", "--port", str(port), "--db", str(self.db),
                   "--pay-after", str(self.pay_after), "--no-access-log", "--log-level", "warning"]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         **child_options())
            self.url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(self.url + "/v1/health", timeout=0.5).status_code == 200:
                        log.info("reference back office started at %s (pid %d)", self.url, self.proc.pid)
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            self.stop()  # exited (port taken?) or never answered: try another port
        raise RuntimeError("the reference back office did not start")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --- devices -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def config_deps(backoffice_url: str, settings: FlowSettings) -> AsyncIterator[FlowDeps]:
    """The devices of the kiosk's configuration (kiosk.toml), its [audio] output, the back office's
    identity service as the face verifier (flows.face_verifiers)."""
    from flows.services import HttpBackOffice
    from peripherals.config import DeviceSettings
    from peripherals.supervisor import Supervisor

    supervisor = Supervisor(DeviceSettings().devices)
    await asyncio.to_thread(supervisor.start, 20.0)
    backoffice = HttpBackOffice(backoffice_url)
    try:
        yield FlowDeps.from_backoffice(DeviceAccess(supervisor), backoffice, settings=settings,
                                       audio=configured_audio(), face_verifier=IdentityServiceVerifier(backoffice))
    finally:
        await backoffice.aclose()
        await asyncio.to_thread(supervisor.stop)


def parse_sim_overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """`bp.sys=150` → {"bp": {"sys": "150"}}."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        kind, dot, option = key.partition(".")
        if not (sep and dot and kind and option):
            raise ValueError(f"--sim expects KIND.OPTION=VALUE, not {item!r}")
        out.setdefault(kind, {})[option] = value
    return out


# --- in-process (tests, tools): the same answers through flows.driver ----------------------


@dataclasses.dataclass
class InProcessRun:
    result: Any  # flows.driver.DriveResult
    deps: FlowDeps  # closed; its `sims` (printed receipts, fault queues ...) stay readable

    @property
    def outcome(self) -> Any:
        return self.result.outcome


def book_script(book: AnswerBook, intercept: Callable[[ViewBase], Any] | None = None) -> Iterator[Any]:
    """An endless `flows.driver` script answering from `book`; `intercept(view)` may answer first."""
    from flows.driver import IDLE as DRIVER_IDLE

    def respond(view: ViewBase) -> Any:
        action = intercept(view) if intercept is not None else None
        if action is None:
            action = book.action_for(view)
        return DRIVER_IDLE if isinstance(action, _Idle) else action

    return itertools.repeat(respond)


async def run_in_process(
    flow_name: str,
    spec: AnswersFile | dict[str, Any],
    backoffice_url: str,
    state_dir: str | os.PathLike[str],
    *,
    clock: Any = None,
    client_options: dict[str, Any] | None = None,
    face_score: float | None = 0.93,
    real_face: bool = False,
    staff_pin: Callable[[str], Any] | None = None,
    intercept: Callable[[ViewBase, FlowDeps], Any] | None = None,
    kiosk_id: str = "test-kiosk",
    use_outbox: bool = True,
) -> InProcessRun:
    """Run a flow on fresh simulators with `flows.driver` (a ManualClock by default: "@idle" is instant)."""
    from flows.clock import ManualClock
    from flows.driver import drive_async

    spec = spec if isinstance(spec, AnswersFile) else AnswersFile.model_validate(spec)
    async with sim_deps(backoffice_url, sim_options=spec.sim, settings=FlowSettings(**spec.settings),
                        client_options=client_options, face_score=face_score, real_face=real_face) as deps:
        deps.staff_pin = staff_pin
        with Journal(state_dir) as journal:
            async with running_outbox(state_dir, deps.traffic, kiosk_id=kiosk_id, keystore=journal.keystore) as outbox:
                deps.outbox = outbox if use_outbox else None
                runner = FlowRunner(registry.create(flow_name), journal, deps, settings=EngineSettings(**spec.engine),
                                    clock=clock or ManualClock(), resume=ResumePolicy.ALWAYS)
                book = AnswerBook(spec.answers, audio=deps.audio)
                hook = (lambda view: intercept(view, deps)) if intercept is not None else None
                result = await drive_async(runner, book_script(book, hook))
    return InProcessRun(result=result, deps=deps)


# --- the run -------------------------------------------------------------------------------


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def drive(runner: FlowRunner, book: AnswerBook, clock: SkippableClock) -> int:
    try:
        async for view in runner.views():
            emit(view.model_dump_json())
            if view.final or not view.awaits_answer:
                continue
            action = book.action_for(view)
            if isinstance(action, _Idle):
                clock.advance(view.timeout_s or 0.0)
            else:
                await runner.act(action)
    except NoAnswer as e:
        await runner.aclose()  # the journal keeps the session: fix the answers and run again to resume
        print(f"kiosk run-flow: {e}", file=sys.stderr)
        return EXIT_USAGE
    outcome = await runner.wait()
    emit(json.dumps({"kind": "outcome", **outcome.model_dump(mode="json", exclude={"final_view"})},
                    ensure_ascii=False, separators=(",", ":")))
    return EXIT_COMPLETED if outcome.status is OutcomeStatus.COMPLETED else EXIT_ABORTED


async def run(args: argparse.Namespace) -> int:
    try:
        spec = AnswerBook.load(args.answers)
        flow = registry.create(args.flow)
        if spec.flow is not None and spec.flow != args.flow:
            raise ValueError(f"the answers file is for {spec.flow!r}, not {args.flow!r}")
        settings = FlowSettings(**spec.settings)
        engine = EngineSettings(**spec.engine)
        sim_options = {k: dict(v) for k, v in spec.sim.items()}
        for kind, opts in parse_sim_overrides(args.sim or []).items():
            sim_options.setdefault(kind, {}).update(opts)
        crash_at = parse_crash_at(os.environ.get(CRASH_ENV))
    except (OSError, ValueError, KeyError, ValidationError, yaml.YAMLError) as e:
        print(f"kiosk run-flow: {e}", file=sys.stderr)
        return EXIT_USAGE

    state_dir = Path(args.state_dir)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    managed: ManagedBackOffice | None = None
    try:
        if args.backoffice:
            url = args.backoffice
        else:
            managed = await asyncio.to_thread(ManagedBackOffice(state_dir / "backoffice.sqlite3",
                                                                pay_after=args.pay_after).start)
            url = managed.url
        if args.devices == "sim":
            deps_cm = sim_deps(url, sim_options=sim_options, settings=settings)
        else:
            deps_cm = config_deps(url, settings)
        async with deps_cm as deps:
            deps.staff_pin = StaffIdentityCheck(StaffAuth(state_dir))  # the state dir's staff PIN (set-pin)
            if crash_at is not None and crash_at[0].startswith("call."):
                proxy = CrashAfterCall(deps.traffic, crash_at[0].removeprefix("call."), crash_at[1])
                deps.traffic = deps.tax = deps.post = deps.payment = proxy
                crash_at = None
            journal = CrashingJournal(state_dir, max_age_s=args.max_age, crash_at=crash_at)
            try:
                async with running_outbox(state_dir, deps.traffic, kiosk_id=args.kiosk_id,
                                          keystore=journal.keystore) as outbox:
                    deps.outbox = outbox
                    clock = SkippableClock()
                    runner = FlowRunner(flow, journal, deps, settings=engine, clock=clock,
                                        resume=ResumePolicy.ALWAYS, elderly=args.elderly)
                    book = AnswerBook(spec.answers, audio=deps.audio if isinstance(deps.audio, SimAudio) else None)
                    return await drive(runner, book, clock)
            finally:
                journal.close()
    except RuntimeError as e:
        print(f"kiosk run-flow: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if managed is not None:
            await asyncio.to_thread(managed.stop)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run-flow", help="run a citizen flow headless from an answers file (one JSON line per view)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("flow", metavar="NAME", help=f"one of: {', '.join(registry.FLOWS)}")
    p.add_argument("--answers", required=True, metavar="FILE", help="YAML or JSON answers file")
    p.add_argument("--devices", choices=["sim", "config"], default="sim",
                   help="sim: every device on its simulator; config: the devices in kiosk.toml")
    p.add_argument("--state-dir", required=True, metavar="DIR", help="journal (and auto back-office DB) directory")
    p.add_argument("--backoffice", metavar="URL", help="back office base URL (default: start the reference one)")
    p.add_argument("--sim", action="append", metavar="KIND.OPTION=VALUE", help="simulator option override (repeatable)")
    p.add_argument("--pay-after", type=float, default=0.5, metavar="S",
                   help="the started back office marks payments paid after S seconds (default 0.5)")
    p.add_argument("--max-age", type=float, default=600.0, metavar="S", help="resume sessions younger than S (600)")
    p.add_argument("--elderly", action="store_true", help="elderly mode: longer time limits")
    p.add_argument("--kiosk-id", default=os.environ.get("KIOSK_ID", "kiosk"), metavar="ID",
                   help="this kiosk's fleet id, the first part of provisional references (default $KIOSK_ID or 'kiosk')")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(args))
