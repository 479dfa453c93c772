"""Staged rollouts, the pure part: stage sizes, thresholds and the next step (no I/O).

A rollout sends one signed artifact to a fixed list of kiosks in stages, e.g. 1 canary →
10 % → 50 % → 100 % (hawkBit's rollout groups; shared/reference/fleet.md). This module
decides, from a snapshot of the rollout and of what each kiosk reported, what happens
next: which kiosks to target, which stage succeeded, whether to wait for an operator,
whether to abort. `fleet.server.rollout_engine` loads the snapshot from the database,
applies the `Decision` and publishes; keeping the rules here makes them testable
without a broker or a database.

Rules (docs/fleet-server.md, "Rollouts"):

- **Stage sizes** are cumulative: ``3`` or ``"10%"`` is how many kiosks of the whole
  target have been asked once that stage starts. Every stage adds at least one kiosk; the
  last stage always takes the rest.
- A stage **succeeds** when at least ``success_percent`` of its own kiosks committed
  (hawkBit's success condition; the next stage may start while a straggler is still
  deferred). If every kiosk of the stage finished and too few committed, the rollout
  aborts.
- A stage with ``requires_approval`` starts only once an operator approved it; the
  rollout waits in ``waiting_approval``.
- **Abort** (AWS IoT Jobs' abortConfig, hawkBit's error threshold): when the failures
  of all kiosks asked so far reach ``max_failures``, or reach ``max_failure_percent`` of
  the kiosks that finished (once at least ``min_finished`` finished). Failures are
  ``rolled_back``, ``failed``, ``refused`` and ``timed_out``. Abort is hawkBit's
  "emergency shutdown": kiosks not yet asked are never asked (``skipped``); kiosks
  asked but not started have their retained desired cleared (``withdrawn``); kiosks
  already installing finish or roll back by themselves and are still recorded.
- A kiosk with no final state when its stage's ``deadline_s`` has passed (counted from
  the stage's start) is ``timed_out``: a failure. A late final report still replaces it.
- **Paused**: nothing new is targeted and no stage advances; deadlines and the abort
  rule still apply, so a bad release is stopped even while paused.
- **Following the fleet** (`fleet.server.rollout_members`): kiosks that join the target
  while it runs go into the last stage and are targeted as soon as it runs (at once if
  it already does); kiosks that leave before starting are ``removed`` (not counted).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator, model_validator


class RolloutStatus(StrEnum):
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (RolloutStatus.RUNNING, RolloutStatus.WAITING_APPROVAL, RolloutStatus.PAUSED)


class StageStatus(StrEnum):
    PENDING = "pending"
    WAITING_APPROVAL = "waiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the rollout aborted during it
    CANCELLED = "cancelled"  # the operator cancelled during it
    SKIPPED = "skipped"  # never started (abort or cancel before it)


class KioskState(StrEnum):
    """A kiosk's place in one rollout: the protocol's UpdateState values plus the server's own."""

    WAITING = "waiting"  # in a stage not started yet: nothing published to it
    PENDING = "pending"  # desired published, nothing reported yet
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    INSTALLING = "installing"
    RESTARTING = "restarting"
    PENDING_COMMIT = "pending_commit"
    ROLLING_BACK = "rolling_back"
    DEFERRED = "deferred"
    IDLE = "idle"  # an interrupted install was undone; the kiosk retries by itself
    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    REFUSED = "refused"
    TIMED_OUT = "timed_out"  # no final report before the stage deadline (a failure)
    WITHDRAWN = "withdrawn"  # abort/cancel cleared its desired before it started
    SKIPPED = "skipped"  # abort/cancel came before its stage: never asked
    REMOVED = "removed"  # left the target (label change, operator) before it started: not counted


SUCCESS = frozenset({KioskState.COMMITTED})
FAILURE = frozenset({KioskState.ROLLED_BACK, KioskState.FAILED, KioskState.REFUSED, KioskState.TIMED_OUT})
FINISHED = SUCCESS | FAILURE
KIOSK_FINAL = frozenset({KioskState.COMMITTED, KioskState.ROLLED_BACK, KioskState.FAILED, KioskState.REFUSED})
NOT_STARTED = frozenset({KioskState.PENDING, KioskState.DEFERRED, KioskState.IDLE})
UNTARGETED = frozenset({KioskState.WAITING, KioskState.SKIPPED})

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


# ------------------------------------------------------------------ policy (what the operator asks)


class StageSpec(BaseModel):
    """One stage as asked: ``size`` is a count (``5``) or a percentage (``"10%"``) of the
    whole target, cumulative."""

    size: int | str
    approval: bool = False  # wait for an operator's approval before this stage starts
    success_percent: float | None = Field(default=None, ge=0, le=100)  # default: the rollout's
    deadline_s: float | None = Field(default=None, gt=0)  # default: the rollout's

    @field_validator("size")
    @classmethod
    def _size(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("a stage size must be at least 1 kiosk")
            return value
        text = str(value).strip()
        if text.isdigit():
            return cls._size(int(text))
        match = _PERCENT.match(text)
        if not match or not 0 < float(match.group(1)) <= 100:
            raise ValueError(f"stage size {value!r}: want a count (5) or a percentage (10%) above 0 and at most 100")
        return f"{float(match.group(1)):g}%"

    @classmethod
    def parse(cls, value: StageSpec | int | str | dict) -> StageSpec:
        if isinstance(value, StageSpec):
            return value
        if isinstance(value, dict):
            return cls.model_validate(value)
        return cls(size=value)

    def wanted(self, total: int) -> int:
        if isinstance(self.size, int):
            return self.size
        percent = float(self.size.rstrip("%"))
        return math.ceil(percent * total / 100 - 1e-9)


class AbortPolicy(BaseModel):
    """When a rollout stops by itself (counted over every kiosk asked so far)."""

    max_failures: int | None = Field(default=None, ge=1)  # abort at this many failed kiosks
    max_failure_percent: float | None = Field(default=10.0, ge=0, le=100)  # ... or this % of those finished
    min_finished: int = Field(default=1, ge=1)  # the percentage applies once this many finished

    @model_validator(mode="after")
    def _some_rule(self) -> AbortPolicy:
        if self.max_failures is None and self.max_failure_percent is None:
            raise ValueError("give max_failures or max_failure_percent: a rollout must be able to stop by itself")
        return self

    def reason(self, failures: int, finished: int) -> str | None:
        """Why the rollout must abort now, or None."""
        if failures <= 0:
            return None
        if self.max_failures is not None and failures >= self.max_failures:
            return f"{failures} kiosk(s) failed; the rollout aborts at {self.max_failures}"
        if self.max_failure_percent is not None and finished >= self.min_finished:
            percent = 100.0 * failures / finished
            if percent >= self.max_failure_percent:
                return (f"{failures} of {finished} finished kiosks failed ({percent:.0f} %); "
                        f"the rollout aborts at {self.max_failure_percent:g} %")
        return None


# ------------------------------------------------------------------ planning


@dataclass(frozen=True)
class PlannedStage:
    index: int
    spec: str  # as asked, for display
    size: int  # kiosks this stage adds
    cumulative: int
    requires_approval: bool
    success_percent: float
    deadline_s: float | None


def plan_stages(total: int, specs: list[StageSpec], *, success_percent: float = 95.0,
                deadline_s: float | None = None) -> list[PlannedStage]:
    """Stage sizes for `total` kiosks: cumulative, each stage at least one new kiosk,
    stages that would add nothing dropped, the last one extended to take the rest."""
    if total < 1:
        raise ValueError("a rollout needs at least one kiosk")
    if not specs:
        specs = [StageSpec(size="100%")]
    planned: list[PlannedStage] = []
    done = 0
    for spec in specs:
        if done >= total:
            break
        cumulative = min(total, max(spec.wanted(total), done + 1))
        planned.append(PlannedStage(
            index=len(planned), spec=str(spec.size), size=cumulative - done, cumulative=cumulative,
            requires_approval=spec.approval,
            success_percent=spec.success_percent if spec.success_percent is not None else success_percent,
            deadline_s=spec.deadline_s if spec.deadline_s is not None else deadline_s))
        done = cumulative
    if done < total:
        last = planned[-1]
        planned[-1] = PlannedStage(last.index, last.spec, last.size + total - done, total, last.requires_approval,
                                   last.success_percent, last.deadline_s)
    return planned


def required_successes(size: int, success_percent: float) -> int:
    """Committed kiosks a stage of `size` needs (95 % of 1 is 1, of 20 is 19)."""
    return min(size, math.ceil(success_percent * size / 100 - 1e-9))


# ------------------------------------------------------------------ deciding


@dataclass
class StageView:
    index: int
    size: int
    requires_approval: bool
    approved: bool
    success_percent: float
    deadline_s: float | None
    status: StageStatus
    started_at: dt.datetime | None = None


@dataclass
class KioskView:
    kiosk_id: str
    stage: int
    state: KioskState


@dataclass
class RolloutView:
    status: RolloutStatus
    stages: list[StageView]
    kiosks: list[KioskView]  # in rollout order (canary first)
    abort: AbortPolicy


@dataclass
class Decision:
    """What to change; empty when nothing happens."""

    status: RolloutStatus | None = None  # the rollout's new status
    reason: str = ""
    stage_status: dict[int, StageStatus] = field(default_factory=dict)
    started: list[int] = field(default_factory=list)  # stages started now
    target: list[str] = field(default_factory=list)  # publish desired to these
    timed_out: list[str] = field(default_factory=list)
    withdraw: list[str] = field(default_factory=list)  # clear their retained desired
    skip: list[str] = field(default_factory=list)  # never asked

    def __bool__(self) -> bool:
        return bool(self.status or self.stage_status or self.target or self.timed_out or self.withdraw or self.skip)


def counts(states: list[KioskState]) -> tuple[int, int, int]:
    """(committed, failed, finished) of these kiosk states."""
    ok = sum(1 for s in states if s in SUCCESS)
    bad = sum(1 for s in states if s in FAILURE)
    return ok, bad, ok + bad


def decide(rollout: RolloutView, now: dt.datetime) -> Decision:
    """The next step of `rollout` at `now` (see the module docstring for the rules)."""
    decision = Decision()
    if not rollout.status.active:
        return decision
    states = {k.kiosk_id: k.state for k in rollout.kiosks}
    by_stage: dict[int, list[str]] = {}
    for kiosk in rollout.kiosks:
        by_stage.setdefault(kiosk.stage, []).append(kiosk.kiosk_id)

    # 1. Deadlines: a stage's kiosks without a final state by then count as failed.
    for stage in rollout.stages:
        if stage.status in (StageStatus.RUNNING, StageStatus.SUCCEEDED) and stage.deadline_s and stage.started_at:
            if now >= stage.started_at + dt.timedelta(seconds=stage.deadline_s):
                for kiosk_id in by_stage.get(stage.index, []):
                    if states[kiosk_id] not in FINISHED and states[kiosk_id] not in UNTARGETED:
                        states[kiosk_id] = KioskState.TIMED_OUT
                        decision.timed_out.append(kiosk_id)

    # 2. Abort threshold, over every kiosk asked so far.
    _, failures, finished = counts(list(states.values()))
    why = rollout.abort.reason(failures, finished)
    if why:
        return _stop(decision, rollout, states, RolloutStatus.ABORTED, why)
    if rollout.status is RolloutStatus.PAUSED:
        return decision

    # 3. Stages in order: skip the succeeded, judge the running one, start the next.
    status = RolloutStatus.RUNNING
    for stage in rollout.stages:
        current = decision.stage_status.get(stage.index, stage.status)
        if current is StageStatus.SUCCEEDED:
            continue
        if current in (StageStatus.PENDING, StageStatus.WAITING_APPROVAL):
            if stage.requires_approval and not stage.approved:
                if current is not StageStatus.WAITING_APPROVAL:
                    decision.stage_status[stage.index] = StageStatus.WAITING_APPROVAL
                status = RolloutStatus.WAITING_APPROVAL
                break
            decision.stage_status[stage.index] = StageStatus.RUNNING
            decision.started.append(stage.index)
            for kiosk_id in by_stage.get(stage.index, []):
                if states[kiosk_id] is KioskState.WAITING:
                    states[kiosk_id] = KioskState.PENDING
                    decision.target.append(kiosk_id)
            current = StageStatus.RUNNING
        if current is StageStatus.RUNNING:
            for kiosk_id in by_stage.get(stage.index, []):  # joined the target while it runs
                if states[kiosk_id] is KioskState.WAITING and kiosk_id not in decision.target:
                    states[kiosk_id] = KioskState.PENDING
                    decision.target.append(kiosk_id)
            members = [states[k] for k in by_stage.get(stage.index, [])]
            ok, _, done = counts(members)
            need = required_successes(stage.size, stage.success_percent)
            if ok >= need:
                decision.stage_status[stage.index] = StageStatus.SUCCEEDED
                continue
            if done >= len(members):
                return _stop(decision, rollout, states, RolloutStatus.ABORTED,
                             f"stage {stage.index + 1}: {ok} of {len(members)} kiosks committed, {need} needed")
            break
    else:
        status = RolloutStatus.COMPLETED
    if status is not rollout.status:
        decision.status = status
        if status is RolloutStatus.COMPLETED:
            decision.reason = "every stage reached its success threshold"
    return decision


def stop(rollout: RolloutView, status: RolloutStatus, reason: str) -> Decision:
    """Abort or cancel now (the operator's cancel uses this too)."""
    return _stop(Decision(), rollout, {k.kiosk_id: k.state for k in rollout.kiosks}, status, reason)


def _stop(decision: Decision, rollout: RolloutView, states: dict[str, KioskState], status: RolloutStatus,
          reason: str) -> Decision:
    decision.status, decision.reason = status, reason
    during = StageStatus.FAILED if status is RolloutStatus.ABORTED else StageStatus.CANCELLED
    for stage in rollout.stages:
        current = decision.stage_status.get(stage.index, stage.status)
        if current is StageStatus.RUNNING:
            decision.stage_status[stage.index] = during
        elif current in (StageStatus.PENDING, StageStatus.WAITING_APPROVAL):
            decision.stage_status[stage.index] = StageStatus.SKIPPED
    newly_targeted = set(decision.target)
    for kiosk_id, state in states.items():
        if kiosk_id in newly_targeted:  # targeted in this very decision: never publish it
            decision.skip.append(kiosk_id)
        elif state is KioskState.WAITING:
            decision.skip.append(kiosk_id)
        elif state not in KIOSK_FINAL and state not in UNTARGETED and state is not KioskState.WITHDRAWN:
            decision.withdraw.append(kiosk_id)  # incl. timed out: it may not have started yet
    decision.target, decision.started = [], []
    return decision
