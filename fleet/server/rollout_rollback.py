"""Rolling a rollout back: a new rollout of the release each kiosk ran before.

A kiosk that committed a release keeps it (the engine never undoes anything behind an
operator's back, docs/fleet-server.md "Abort and cancel"). Going back is therefore a
new, ordinary staged rollout of the *old* artifact with ``allow_downgrade``, to exactly
the kiosks that now run the new version — one rollout per version they came from. The
old rollout is cancelled first if it is still active, so no kiosk is asked for the new
version while the way back is under way. Every step is in the audit log: the cancel,
each created rollout, and one ``rollout_rollback`` entry that ties them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.server import audit
from fleet.server.models import Artifact, Rollout, RolloutKiosk
from fleet.server.rollout_engine import RolloutCreate, RolloutEngine, RolloutNotFound
from fleet.server.rollout_members import RolloutTarget
from fleet.server.rollouts import AbortPolicy, KioskState, RolloutStatus, StageSpec

DEFAULT_STAGES = ("1", "100%")  # a canary first: the old release may have problems of its own here


class RollbackRefused(Exception):
    """Nothing to roll back, or no artifact of the earlier version to roll back to."""


@dataclass
class RollbackGroup:
    to_version: str
    artifact_id: str
    kiosks: list[str]


@dataclass
class RollbackPlan:
    rollout_id: str
    version: str
    active: bool  # the rollout is still running: it is cancelled first
    groups: list[RollbackGroup] = field(default_factory=list)

    @property
    def kiosks(self) -> int:
        return sum(len(g.kiosks) for g in self.groups)


def plan_rollback(session: Session, rollout_id: str) -> RollbackPlan:
    """Which kiosks go back to which version; RollbackRefused when that is impossible."""
    rollout = session.get(Rollout, rollout_id)
    if rollout is None:
        raise RolloutNotFound(rollout_id)
    artifact = session.get(Artifact, rollout.artifact_id)
    rows = list(session.scalars(select(RolloutKiosk).where(RolloutKiosk.rollout_id == rollout_id)
                                .order_by(RolloutKiosk.position)))
    on_new = [r for r in rows if r.state == KioskState.COMMITTED.value
              or (r.current_version == rollout.version and r.from_version and r.from_version != rollout.version)]
    if not on_new:
        raise RollbackRefused(f"no kiosk of rollout {rollout_id} runs {rollout.version}; there is nothing to roll back")
    unknown = [r.kiosk_id for r in on_new if not r.from_version]
    if unknown:
        raise RollbackRefused(f"the version {', '.join(unknown[:5])} ran before is not known; "
                              "roll them back with a rollout of the release you want")
    by_version: dict[str, list[str]] = {}
    for row in on_new:
        by_version.setdefault(row.from_version, []).append(row.kiosk_id)
    plan = RollbackPlan(rollout_id, rollout.version, RolloutStatus(rollout.status).active)
    for version, kiosks in by_version.items():
        old = session.scalar(select(Artifact).where(Artifact.package == artifact.package, Artifact.version == version,
                                                    Artifact.deleted_at.is_(None)))
        if old is None:
            raise RollbackRefused(f"there is no artifact of {artifact.package} {version} (what {len(kiosks)} kiosk(s) "
                                  "ran before); upload that bundle first")
        plan.groups.append(RollbackGroup(version, old.artifact_id, kiosks))
    return plan


def roll_back(engine: RolloutEngine, rollout_id: str, *, operator: str, source: str = "",
              stages: list[str] | None = None, abort: AbortPolicy | None = None) -> list[str]:
    """Cancel the rollout if active, then start one rollout back per earlier version;
    returns the new rollout ids. Refusals are audited too."""
    try:
        with engine.db.session() as session:
            plan = plan_rollback(session, rollout_id)
    except RollbackRefused as exc:
        with engine.db.session() as session:
            audit.record(session, operator, "rollout_rollback", rollout_id, outcome="failed", source=source,
                         detail={"error": str(exc)})
        raise
    if plan.active:
        engine.cancel(rollout_id, operator=operator, source=source)
    created = []
    for group in plan.groups:
        request = RolloutCreate(
            artifact_id=group.artifact_id, name=f"roll back {rollout_id} to {group.to_version}",
            target=RolloutTarget(kiosks=group.kiosks), allow_downgrade=True,
            stages=[StageSpec.parse(s) for s in (stages or DEFAULT_STAGES)], abort=abort or AbortPolicy())
        created.append(engine.create(request, operator=operator, source=source))
    with engine.db.session() as session:
        audit.record(session, operator, "rollout_rollback", rollout_id, source=source, detail={
            "from_version": plan.version, "cancelled": plan.active, "rollouts": created,
            "to": {g.to_version: len(g.kiosks) for g in plan.groups}})
    return created
