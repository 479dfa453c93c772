"""Answers-driven drivers: run a flow from a script of actions (tests, the headless runner).

`drive()` is synchronous (it runs its own event loop); `drive_async()` runs inside one.
A script item is an `Action`, `IDLE` (the citizen does nothing: the driver moves the
injected `ManualClock` past the view's timeout), or a callable `view -> Action | Idle`.
Only views that await an answer consume an item; progress and busy views are recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Callable, Iterable, Union

from flows.clock import Clock, ManualClock
from flows.engine import EngineSettings, Flow, FlowOutcome, FlowRunner, ResumePolicy
from flows.journal import Journal
from flows.views import Action, ViewBase


class Idle:
    """Script item: no action; let the view's timeout pass."""

    def __repr__(self) -> str:
        return "IDLE"


IDLE = Idle()

ScriptItem = Union[Action, Idle, Callable[[ViewBase], Union[Action, Idle]]]


class ScriptExhausted(AssertionError):
    """The flow asked for an answer the script does not have."""


@dataclass
class DriveResult:
    views: list[ViewBase]
    outcome: FlowOutcome
    runner: FlowRunner = field(repr=False)

    def steps(self) -> list[str]:
        """Step names in order of first appearance (a quick check of sequencing)."""
        seen: list[str] = []
        for v in self.views:
            if v.step and (not seen or seen[-1] != v.step) and not v.final:
                seen.append(v.step)
        return seen

    def asked(self) -> list[ViewBase]:
        return [v for v in self.views if v.awaits_answer]


async def drive_async(runner: FlowRunner, script: Iterable[ScriptItem]) -> DriveResult:
    items = iter(script)
    views: list[ViewBase] = []
    async for view in runner.views():
        views.append(view)
        if view.final or not view.awaits_answer:
            continue
        try:
            item = next(items)
        except StopIteration:
            await runner.aclose()
            raise ScriptExhausted(f"no answer left for a {view.kind.value} view at step {view.step!r}") from None
        if callable(item) and not isinstance(item, (Action, Idle)):
            item = item(view)
        if isinstance(item, Idle):
            if not isinstance(runner.clock, ManualClock):
                raise TypeError("IDLE needs the runner to use a ManualClock")
            runner.clock.advance(view.timeout_s or 0.0)
        else:
            await runner.act(item if item.view_id is not None else item.model_copy(update={"view_id": view.view_id}))
    return DriveResult(views=views, outcome=await runner.wait(), runner=runner)


def drive(
    flow: Flow,
    script: Iterable[ScriptItem],
    *,
    journal: Journal | None = None,
    deps: object = None,
    settings: EngineSettings | None = None,
    clock: Clock | None = None,
    resume: ResumePolicy = ResumePolicy.ASK,
    elderly: bool = False,
) -> DriveResult:
    """Run `flow` to its end from `script` on a fresh event loop (a ManualClock by default)."""

    async def main() -> DriveResult:
        runner = FlowRunner(flow, journal, deps, settings=settings, clock=clock or ManualClock(),
                            resume=resume, elderly=elderly)
        return await drive_async(runner, script)

    return asyncio.run(main())
