"""Staged rollouts, the driving part: database rows in, `rollouts.decide` for the rules,
retained ``update/desired`` messages out.

One engine per server. Everything that changes a rollout — the periodic tick and every
operator action — runs under one lock and publishes its messages before releasing it,
so an abort's "clear the retained desired" can never overtake a "target this kiosk"
decided just before it. Rows are also locked (``FOR UPDATE``) for a PostgreSQL shared by
several processes.

What kiosks report arrives through ingest, which stores every ``update/reported`` as an
event (`fleet.server.ingest`). The engine reads those events after a cursor kept in
``server_state``, so a report that arrived while the engine was busy, or while the
server restarted, is still applied exactly once, in order. A report changes the
kiosk's row of the rollout named by its ``rollout_id`` (if the version matches); a
final state (committed, rolled_back, failed, refused) is not replaced by a later
progress message (the agent's outbox delivers at least once).

Publishing happens after the commit that decided it. On start, the engine publishes
again what the database says should be retained (desired for kiosks of active rollouts
still working on it; cleared for withdrawn ones), which covers a crash between commit
and publish; the agent answers a (rollout, version, bundle) only once, so a repeat is
harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet.protocol import Channel, Outgoing, UpdateDesired, kiosk_topic, outgoing
from fleet.server import audit
from fleet.server.artifacts import ArtifactStore
from fleet.server.db import Database
from fleet.server.models import (
    Artifact,
    Event,
    Kiosk,
    Rollout,
    RolloutKiosk,
    RolloutStage,
    ServerState,
    utcnow,
)
from fleet.server import rollout_members
from fleet.server.rollout_members import RolloutTarget, resolve_targets
from fleet.server.rollouts import (
    FAILURE,
    KIOSK_FINAL,
    NOT_STARTED,
    SUCCESS,
    UNTARGETED,
    AbortPolicy,
    Decision,
    KioskState,
    KioskView,
    RolloutStatus,
    RolloutView,
    StageSpec,
    StageStatus,
    StageView,
    decide,
    plan_stages,
    required_successes,
    stop,
)

log = logging.getLogger(__name__)
CURSOR_KEY = "rollout_report_cursor"
ENGINE = "rollout-engine"  # the audit log's operator for what the engine does by itself
DEFAULT_STAGES: list[Any] = [1, "10%", "50%", "100%"]


class RolloutNotFound(LookupError):
    pass


class RolloutConflict(Exception):
    """The action does not fit the rollout's state (or the kiosks are in another rollout)."""


# ------------------------------------------------------------------ requests and views


class RolloutCreate(BaseModel):
    artifact_id: str
    name: str = Field(default="", max_length=200)
    target: RolloutTarget
    stages: list[StageSpec] = Field(default_factory=lambda: [StageSpec.parse(s) for s in DEFAULT_STAGES])
    success_percent: float = Field(default=95.0, ge=0, le=100)  # per stage, unless the stage says
    deadline_s: float | None = Field(default=None, gt=0)  # per stage, unless the stage says; None: none
    abort: AbortPolicy = Field(default_factory=AbortPolicy)
    allow_downgrade: bool = False

    @field_validator("stages", mode="before")
    @classmethod
    def _stages(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v if isinstance(v, (dict, StageSpec)) else {"size": v} for v in value]
        return value


class StageInfo(BaseModel):
    index: int
    spec: str
    size: int
    needed: int  # committed kiosks for success
    requires_approval: bool
    approved_by: str | None
    approved_at: dt.datetime | None
    success_percent: float
    deadline_s: float | None
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    committed: int
    failed: int
    states: dict[str, int]


class RolloutKioskInfo(BaseModel):
    kiosk_id: str
    stage: int
    position: int
    state: str
    reason: str
    detail: str
    progress: float | None
    current_version: str | None
    from_version: str | None
    targeted_at: dt.datetime | None
    reported_at: dt.datetime | None
    finished_at: dt.datetime | None


class RolloutSummary(BaseModel):
    rollout_id: str
    name: str
    artifact_id: str
    version: str
    status: str
    status_reason: str
    allow_downgrade: bool
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    total: int
    committed: int
    failed: int
    in_progress: int  # asked, no final state yet
    not_asked: int  # waiting, skipped
    current_stage: int | None  # index of the latest started stage
    stage_count: int


class RolloutDetail(RolloutSummary):
    target: dict[str, Any]
    policy: dict[str, Any]
    stages: list[StageInfo]
    kiosks: list[RolloutKioskInfo]


def _summary_fields(rollout: Rollout, stages: list[RolloutStage], kiosks: list[RolloutKiosk]) -> dict[str, Any]:
    kiosks = [k for k in kiosks if k.state != KioskState.REMOVED.value]
    states = [KioskState(k.state) for k in kiosks]
    started = [s.index for s in stages if s.started_at is not None]
    return dict(
        rollout_id=rollout.rollout_id, name=rollout.name, artifact_id=rollout.artifact_id, version=rollout.version,
        status=rollout.status, status_reason=rollout.status_reason, allow_downgrade=rollout.allow_downgrade,
        created_by=rollout.created_by, created_at=rollout.created_at, updated_at=rollout.updated_at,
        finished_at=rollout.finished_at, total=len(kiosks),
        committed=sum(1 for s in states if s in SUCCESS), failed=sum(1 for s in states if s in FAILURE),
        in_progress=sum(1 for s in states if s not in SUCCESS | FAILURE | UNTARGETED | {KioskState.WITHDRAWN}),
        not_asked=sum(1 for s in states if s in UNTARGETED),
        current_stage=max(started) if started else None, stage_count=len(stages))


def _load(session: Session, rollout_id: str, *, lock: bool = False) -> tuple[Rollout, list[RolloutStage], list[RolloutKiosk]]:
    rollout = session.get(Rollout, rollout_id, with_for_update=lock)
    if rollout is None:
        raise RolloutNotFound(rollout_id)
    stages = list(session.scalars(select(RolloutStage).where(RolloutStage.rollout_id == rollout_id)
                                  .order_by(RolloutStage.index)))
    kiosks = list(session.scalars(select(RolloutKiosk).where(RolloutKiosk.rollout_id == rollout_id)
                                  .order_by(RolloutKiosk.position)))
    return rollout, stages, kiosks


def rollout_list(session: Session, limit: int = 100) -> list[RolloutSummary]:
    rollouts = list(session.scalars(select(Rollout).order_by(Rollout.created_at.desc()).limit(limit)))
    ids = [r.rollout_id for r in rollouts]
    stages: dict[str, list[RolloutStage]] = {i: [] for i in ids}
    kiosks: dict[str, list[RolloutKiosk]] = {i: [] for i in ids}
    for stage in session.scalars(select(RolloutStage).where(RolloutStage.rollout_id.in_(ids))):
        stages[stage.rollout_id].append(stage)
    for kiosk in session.scalars(select(RolloutKiosk).where(RolloutKiosk.rollout_id.in_(ids))):
        kiosks[kiosk.rollout_id].append(kiosk)
    return [RolloutSummary(**_summary_fields(r, stages[r.rollout_id], kiosks[r.rollout_id])) for r in rollouts]


def rollout_detail(session: Session, rollout_id: str) -> RolloutDetail:
    rollout, stages, kiosks = _load(session, rollout_id)
    stage_infos = []
    for stage in stages:
        members = [KioskState(k.state) for k in kiosks if k.stage == stage.index]
        tally: dict[str, int] = {}
        for state in members:
            tally[state.value] = tally.get(state.value, 0) + 1
        stage_infos.append(StageInfo(
            index=stage.index, spec=stage.spec, size=stage.size,
            needed=required_successes(stage.size, stage.success_percent), requires_approval=stage.requires_approval,
            approved_by=stage.approved_by, approved_at=stage.approved_at, success_percent=stage.success_percent,
            deadline_s=stage.deadline_s, status=stage.status, started_at=stage.started_at,
            finished_at=stage.finished_at, committed=sum(1 for s in members if s in SUCCESS),
            failed=sum(1 for s in members if s in FAILURE), states=tally))
    return RolloutDetail(
        **_summary_fields(rollout, stages, kiosks), target=rollout.target, policy=rollout.policy, stages=stage_infos,
        kiosks=[RolloutKioskInfo.model_validate(k, from_attributes=True) for k in kiosks])


# ------------------------------------------------------------------ the engine


class RolloutEngine:
    def __init__(self, db: Database, publish: Callable[[Outgoing], Any], artifacts: ArtifactStore, *,
                 base_url: Callable[[], str | None] = lambda: None, tick_s: float = 1.0,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self._publish = publish
        self.artifacts = artifacts
        self._base_url = base_url
        self.tick_s = tick_s
        self._clock = clock
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.republish()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="fleet-rollouts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.tick()
            except Exception:
                log.exception("rollout tick failed")

    # ------------------------------------------------------------ the tick
    def tick(self) -> None:
        """Apply new reports, then take the next step of every active rollout."""
        with self._lock:
            with self.db.session() as session:
                self._consume_reports(session)
                active = [r for r in session.scalars(select(Rollout.rollout_id).where(
                    Rollout.status.in_([s.value for s in RolloutStatus if s.active])))]
            for rollout_id in active:
                with self.db.session() as session:
                    out = self._step(session, rollout_id)
                self._send(out)

    def _consume_reports(self, session: Session) -> None:
        state = session.get(ServerState, CURSOR_KEY)
        if state is None:
            state = ServerState(key=CURSOR_KEY, value={"last_event_id": 0})
            session.add(state)
        cursor = int(state.value.get("last_event_id", 0))
        high = session.scalar(select(func.max(Event.id)))
        if high is None or high <= cursor:
            return
        versions: dict[str, str | None] = {}
        for event in session.scalars(select(Event).where(Event.id > cursor, Event.id <= high,
                                                         Event.kind == "update_reported").order_by(Event.id)):
            payload = event.payload or {}
            rollout_id = payload.get("rollout_id") or ""
            if not rollout_id:
                continue
            if rollout_id not in versions:
                rollout = session.get(Rollout, rollout_id)
                versions[rollout_id] = rollout.version if rollout else None
            if versions[rollout_id] is None or payload.get("version") != versions[rollout_id]:
                continue
            row = session.get(RolloutKiosk, (rollout_id, event.kiosk_id))
            if row is not None:
                apply_report(row, payload, event.received_at)
        state.value = {"last_event_id": high}

    def _step(self, session: Session, rollout_id: str) -> list[Outgoing]:
        rollout, stages, kiosks = _load(session, rollout_id, lock=True)
        out: list[Outgoing] = []
        if RolloutStatus(rollout.status).active:
            joined, left, out = rollout_members.sync(session, rollout, stages, kiosks, _clear)
            if joined or left:
                log.info("rollout %s follows its target: joined %s, left %s", rollout_id, joined, left)
                audit.record(session, ENGINE, "rollout_members", rollout_id, detail={"joined": joined, "left": left})
                rollout.updated_at = self._clock()
                session.flush()
        view = _view(rollout, stages, kiosks)
        decision = decide(view, self._clock())
        if not decision:
            return out
        return out + self._apply(session, rollout, stages, kiosks, decision, ENGINE, "")

    def _apply(self, session: Session, rollout: Rollout, stages: list[RolloutStage], kiosks: list[RolloutKiosk],
               decision: Decision, actor: str, source: str) -> list[Outgoing]:
        now = self._clock()
        rows = {k.kiosk_id: k for k in kiosks}
        by_index = {s.index: s for s in stages}
        out: list[Outgoing] = []
        for kiosk_id in decision.timed_out:
            row = rows[kiosk_id]
            deadline = by_index[row.stage].deadline_s
            row.state, row.reason, row.finished_at = KioskState.TIMED_OUT.value, "stage_deadline", now
            row.detail = f"no final report within the stage deadline ({deadline:g} s)"
        for index, status in decision.stage_status.items():
            stage = by_index[index]
            stage.status = status.value
            if status is StageStatus.RUNNING and stage.started_at is None:
                stage.started_at = now
            if status in (StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.CANCELLED, StageStatus.SKIPPED):
                stage.finished_at = now
        if decision.target:
            artifact = session.get(Artifact, rollout.artifact_id)
            url = self.artifacts.url(artifact, self._base_url())
            versions = dict(session.execute(select(Kiosk.kiosk_id, Kiosk.app_version)
                                            .where(Kiosk.kiosk_id.in_(decision.target))).all())
            for kiosk_id in decision.target:
                row = rows[kiosk_id]
                row.state, row.targeted_at, row.from_version = KioskState.PENDING.value, now, versions.get(kiosk_id)
                out.append(outgoing(_desired(rollout, artifact, kiosk_id, url)))
        why = "rollout_cancelled" if decision.status is RolloutStatus.CANCELLED else "rollout_aborted"
        for kiosk_id in decision.withdraw:
            out.append(_clear(kiosk_id))
            row = rows[kiosk_id]
            if KioskState(row.state) in NOT_STARTED:
                row.state, row.reason, row.detail = KioskState.WITHDRAWN.value, why, "desired update withdrawn"
        for kiosk_id in decision.skip:
            rows[kiosk_id].state = KioskState.SKIPPED.value
        if decision.status is not None:
            rollout.status, rollout.status_reason = decision.status.value, decision.reason
            if not decision.status.active:
                rollout.finished_at = now
            if actor == ENGINE and decision.status in (RolloutStatus.ABORTED, RolloutStatus.COMPLETED):
                audit.record(session, ENGINE, f"rollout_{decision.status.value}", rollout.rollout_id,
                             detail={"reason": decision.reason})
            log.info("rollout %s: %s (%s)", rollout.rollout_id, decision.status.value, decision.reason)
        rollout.updated_at = now
        return out

    def _send(self, messages: list[Outgoing]) -> None:
        for message in messages:
            try:
                self._publish(message)
            except Exception:  # paho queues while disconnected; republish() covers a restart
                log.exception("publishing %s failed", message.topic)

    def republish(self) -> None:
        """What should be retained, published again (after a restart)."""
        with self._lock:
            out: list[Outgoing] = []
            with self.db.session() as session:
                latest: dict[str, tuple[Rollout, RolloutKiosk]] = {}
                rollouts = {r.rollout_id: r for r in session.scalars(select(Rollout).order_by(Rollout.created_at))}
                for row in session.scalars(select(RolloutKiosk).where(RolloutKiosk.rollout_id.in_(list(rollouts)))):
                    rollout = rollouts[row.rollout_id]
                    if KioskState(row.state) in UNTARGETED or (row.state == KioskState.REMOVED.value
                                                                  and row.targeted_at is None):
                        continue
                    known = latest.get(row.kiosk_id)
                    if known is None or known[0].created_at < rollout.created_at:
                        latest[row.kiosk_id] = (rollout, row)
                artifacts: dict[str, Artifact] = {}
                for kiosk_id, (rollout, row) in sorted(latest.items()):
                    state = KioskState(row.state)
                    if state in (KioskState.WITHDRAWN, KioskState.REMOVED):
                        out.append(_clear(kiosk_id))
                    elif RolloutStatus(rollout.status).active and state not in KIOSK_FINAL:
                        artifact = artifacts.get(rollout.artifact_id) or session.get(Artifact, rollout.artifact_id)
                        artifacts[rollout.artifact_id] = artifact
                        out.append(outgoing(_desired(rollout, artifact, kiosk_id,
                                                     self.artifacts.url(artifact, self._base_url()))))
            self._send(out)

    # ------------------------------------------------------------ operator actions
    def create(self, request: RolloutCreate, *, operator: str, source: str = "") -> str:
        """Resolve the targets, plan the stages, store, audit, and start (stage 1 unless it
        needs approval). ValueError: bad request; LookupError: no such artifact;
        RolloutConflict: a kiosk is already in an active rollout."""
        with self._lock:
            with self.db.session() as session:
                artifact = session.get(Artifact, request.artifact_id)
                if artifact is None or artifact.deleted_at is not None:
                    raise LookupError(f"no artifact {request.artifact_id}")
                kiosk_ids = resolve_targets(session, request.target)
                if not kiosk_ids:
                    raise ValueError("the target matches no kiosk")
                busy = session.execute(
                    select(RolloutKiosk.kiosk_id, Rollout.rollout_id).join(Rollout, Rollout.rollout_id == RolloutKiosk.rollout_id)
                    .where(RolloutKiosk.kiosk_id.in_(kiosk_ids), RolloutKiosk.state != KioskState.REMOVED.value,
                           Rollout.status.in_([s.value for s in RolloutStatus if s.active]))).all()
                if busy:
                    names = ", ".join(sorted({f"{k} ({r})" for k, r in busy})[:10])
                    raise RolloutConflict(f"kiosk(s) already in an active rollout: {names}")
                plan = plan_stages(len(kiosk_ids), request.stages, success_percent=request.success_percent,
                                   deadline_s=request.deadline_s)
                rollout_id = uuid.uuid4().hex[:12]
                now = self._clock()
                session.add(Rollout(
                    rollout_id=rollout_id, name=request.name, artifact_id=artifact.artifact_id, version=artifact.version,
                    status=RolloutStatus.RUNNING.value, status_reason="", allow_downgrade=request.allow_downgrade,
                    target=request.target.model_dump(), created_by=operator, created_at=now, updated_at=now,
                    policy={"success_percent": request.success_percent, "deadline_s": request.deadline_s,
                            "abort": request.abort.model_dump(), "stages": [s.model_dump() for s in request.stages]}))
                session.flush()
                position = 0
                for stage in plan:
                    session.add(RolloutStage(rollout_id=rollout_id, index=stage.index, size=stage.size, spec=stage.spec,
                                             requires_approval=stage.requires_approval,
                                             success_percent=stage.success_percent, deadline_s=stage.deadline_s,
                                             status=StageStatus.PENDING.value))
                    for kiosk_id in kiosk_ids[position:position + stage.size]:
                        session.add(RolloutKiosk(rollout_id=rollout_id, kiosk_id=kiosk_id, stage=stage.index,
                                                 position=position, state=KioskState.WAITING.value, reason="", detail=""))
                        position += 1
                audit.record(session, operator, "rollout_create", rollout_id, source=source, detail={
                    "artifact_id": artifact.artifact_id, "version": artifact.version, "kiosks": len(kiosk_ids),
                    "stages": [s.size for s in plan], "target": request.target.model_dump(),
                    "allow_downgrade": request.allow_downgrade})
            with self.db.session() as session:
                out = self._step(session, rollout_id)
            self._send(out)
        return rollout_id

    def pause(self, rollout_id: str, *, operator: str, source: str = "") -> None:
        def act(session, rollout, stages, kiosks):
            if rollout.status not in (RolloutStatus.RUNNING, RolloutStatus.WAITING_APPROVAL):
                raise RolloutConflict(f"rollout {rollout_id} is {rollout.status}; only a running one can be paused")
            rollout.status, rollout.status_reason = RolloutStatus.PAUSED.value, f"paused by {operator}"
            return {}
        self._action(rollout_id, "rollout_pause", operator, source, act)

    def resume(self, rollout_id: str, *, operator: str, source: str = "") -> None:
        def act(session, rollout, stages, kiosks):
            if rollout.status != RolloutStatus.PAUSED:
                raise RolloutConflict(f"rollout {rollout_id} is {rollout.status}, not paused")
            rollout.status, rollout.status_reason = RolloutStatus.RUNNING.value, ""
            return {}
        self._action(rollout_id, "rollout_resume", operator, source, act)

    def approve(self, rollout_id: str, *, operator: str, source: str = "", stage: int | None = None) -> None:
        """Approve `stage` (index), or the first stage still waiting for an approval."""
        def act(session, rollout, stages, kiosks):
            if not RolloutStatus(rollout.status).active:
                raise RolloutConflict(f"rollout {rollout_id} is {rollout.status}")
            open_ = [s for s in stages if s.requires_approval and s.approved_by is None
                     and s.status in (StageStatus.PENDING, StageStatus.WAITING_APPROVAL)]
            chosen = next((s for s in open_ if stage is None or s.index == stage), None)
            if chosen is None:
                which = "no stage" if stage is None else f"stage {stage + 1} does not"
                raise RolloutConflict(f"{which} of rollout {rollout_id} needs an approval")
            chosen.approved_by, chosen.approved_at = operator, self._clock()
            if rollout.status == RolloutStatus.WAITING_APPROVAL:
                rollout.status, rollout.status_reason = RolloutStatus.RUNNING.value, ""
            return {"stage": chosen.index + 1}
        self._action(rollout_id, "rollout_approve", operator, source, act)

    def cancel(self, rollout_id: str, *, operator: str, source: str = "") -> None:
        def act(session, rollout, stages, kiosks):
            if not RolloutStatus(rollout.status).active:
                raise RolloutConflict(f"rollout {rollout_id} is already {rollout.status}")
            decision = stop(_view(rollout, stages, kiosks), RolloutStatus.CANCELLED, f"cancelled by {operator}")
            return {"_out": self._apply(session, rollout, stages, kiosks, decision, operator, source)}
        self._action(rollout_id, "rollout_cancel", operator, source, act)

    def change_kiosks(self, rollout_id: str, *, operator: str, source: str = "", add: list[str] = (),
                      remove: list[str] = ()) -> None:
        """Name kiosks into the rollout or take them out (they then stay out even if their
        group is targeted); the next step applies it (rollout_members.sync)."""
        def act(session, rollout, stages, kiosks):
            if not RolloutStatus(rollout.status).active:
                raise RolloutConflict(f"rollout {rollout_id} is {rollout.status}; its kiosks can no longer change")
            known = rollout_members.known_kiosks(session)
            unknown = [k for k in add if k not in known]
            if unknown:
                raise RolloutConflict(f"unknown kiosk(s): {', '.join(unknown[:10])}")
            busy = rollout_members.busy_elsewhere(session, rollout_id, list(add))
            if busy:
                raise RolloutConflict(f"kiosk(s) already in an active rollout: {', '.join(sorted(busy)[:10])}")
            rollout.target = rollout_members.change_target(rollout, list(add), list(remove))
            return {"add": list(add), "remove": list(remove)}
        self._action(rollout_id, "rollout_kiosks", operator, source, act)

    def _action(self, rollout_id: str, action: str, operator: str, source: str, act) -> None:
        """Run `act` on the locked rows, audit it (refusals too), then step and publish."""
        with self._lock:
            out: list[Outgoing] = []
            try:
                with self.db.session() as session:
                    rollout, stages, kiosks = _load(session, rollout_id, lock=True)
                    detail = act(session, rollout, stages, kiosks)
                    out = detail.pop("_out", [])
                    rollout.updated_at = self._clock()
                    audit.record(session, operator, action, rollout_id, source=source, detail=detail)
            except RolloutConflict as exc:
                with self.db.session() as session:
                    audit.record(session, operator, action, rollout_id, outcome="failed", source=source,
                                 detail={"error": str(exc)})
                raise
            self._send(out)
            with self.db.session() as session:
                out = self._step(session, rollout_id)
            self._send(out)


def apply_report(row: RolloutKiosk, payload: dict[str, Any], at: dt.datetime) -> bool:
    """Put one UpdateReported (as JSON) on the kiosk's rollout row; False if ignored."""
    try:
        state = KioskState(payload.get("state"))
    except ValueError:
        return False
    current = KioskState(row.state)
    if current in UNTARGETED or current is KioskState.REMOVED:
        return False  # never asked, or left the target: nothing of ours to report on
    if current in KIOSK_FINAL and state not in KIOSK_FINAL:
        return False  # a progress message delivered again after the final one
    row.state = state.value
    row.reason = str(payload.get("reason") or "")[:64]
    row.detail = str(payload.get("detail") or "")[:500]
    row.progress = payload.get("progress")
    row.current_version = payload.get("current_version") or row.current_version
    row.reported_at = at
    if state in KIOSK_FINAL:
        row.finished_at = at
    return True


def _view(rollout: Rollout, stages: list[RolloutStage], kiosks: list[RolloutKiosk]) -> RolloutView:
    return RolloutView(
        status=RolloutStatus(rollout.status),
        stages=[StageView(index=s.index, size=s.size, requires_approval=s.requires_approval,
                          approved=s.approved_by is not None, success_percent=s.success_percent,
                          deadline_s=s.deadline_s, status=StageStatus(s.status), started_at=s.started_at)
                for s in stages],
        kiosks=[KioskView(kiosk_id=k.kiosk_id, stage=k.stage, state=KioskState(k.state)) for k in kiosks
                if k.state != KioskState.REMOVED.value],
        abort=AbortPolicy.model_validate(rollout.policy.get("abort") or {}))


def _desired(rollout: Rollout, artifact: Artifact, kiosk_id: str, url: str) -> UpdateDesired:
    return UpdateDesired(kiosk_id=kiosk_id, version=artifact.version, url=url, sha256=artifact.sha256,
                         size=artifact.size, rollout_id=rollout.rollout_id, allow_downgrade=rollout.allow_downgrade)


def _clear(kiosk_id: str) -> Outgoing:
    """An empty retained payload: the broker drops the retained desired; the agent
    withdraws a request it has not started."""
    return Outgoing(topic=kiosk_topic(kiosk_id, Channel.UPDATE_DESIRED), payload=b"", qos=1, retain=True)
