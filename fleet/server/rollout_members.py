"""Which kiosks a rollout covers, kept in step with the fleet while it runs.

A rollout's target is kiosks by id, by group and by tag (`RolloutTarget`), minus the
ones an operator removed (``exclude``). Group and tag membership is re-evaluated on
every engine step of an active rollout, so the rollout follows the fleet:

- a kiosk that **joins** (a label changed, an operator added it) goes into the *last*
  stage — stages are cumulative shares of the target and a newcomer is part of "the
  rest" — which grows by one. If that stage is already running, the kiosk is targeted
  at once; if not, it waits for its wave like the others. A kiosk in another active
  rollout joins once that one is over (one rollout per kiosk at a time).
- a kiosk that **leaves** before it was asked is ``removed`` and never touched; one
  that was asked but had not started (pending, deferred) has its desired withdrawn and
  is ``removed``; one already installing or finished stays in the rollout's record (it
  got, or is getting, the update — nothing is undone behind the operator's back).

Removed kiosks do not count for a stage's size or success threshold.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.protocol import Outgoing
from fleet.server.models import Kiosk, KioskLabel, Rollout, RolloutKiosk, RolloutStage
from fleet.server.rollouts import NOT_STARTED, KioskState, RolloutStatus


class RolloutTarget(BaseModel):
    """Kiosks by id (in this order: the first is the canary), by group, by tag; the union,
    minus `exclude` (kiosks an operator took out)."""

    kiosks: list[str] = []
    groups: list[str] = []
    tags: list[str] = []
    exclude: list[str] = []


def known_kiosks(session: Session) -> set[str]:
    return set(session.scalars(select(Kiosk.kiosk_id))) | set(session.scalars(select(KioskLabel.kiosk_id)))


def resolve_targets(session: Session, target: RolloutTarget, *, strict: bool = True) -> list[str]:
    """Kiosk ids in rollout order: the explicit list as given, then group and tag
    matches sorted by id, without the excluded. Unknown explicit ids are an error when
    `strict` (a typo must not shrink a rollout silently)."""
    if strict:
        known = known_kiosks(session)
        unknown = [k for k in target.kiosks if k not in known]
        if unknown:
            raise ValueError(f"unknown kiosk(s): {', '.join(unknown[:10])}")
    ordered = list(dict.fromkeys(target.kiosks))
    matched = set()
    if target.groups or target.tags:
        groups, tags = set(target.groups), set(target.tags)
        query = select(KioskLabel)
        for label in session.scalars(query):
            if (label.group in groups) or (tags & set(label.tags or [])):
                matched.add(label.kiosk_id)
    ordered += sorted(matched - set(ordered))
    excluded = set(target.exclude)
    return [k for k in ordered if k not in excluded]


def busy_elsewhere(session: Session, rollout_id: str, kiosk_ids: list[str]) -> set[str]:
    """Those of `kiosk_ids` that are in another active rollout (and not removed there)."""
    if not kiosk_ids:
        return set()
    rows = session.execute(
        select(RolloutKiosk.kiosk_id).join(Rollout, Rollout.rollout_id == RolloutKiosk.rollout_id)
        .where(RolloutKiosk.kiosk_id.in_(kiosk_ids), RolloutKiosk.rollout_id != rollout_id,
               RolloutKiosk.state != KioskState.REMOVED.value,
               Rollout.status.in_([s.value for s in RolloutStatus if s.active]))).scalars()
    return set(rows)


def sync(session: Session, rollout: Rollout, stages: list[RolloutStage], kiosks: list[RolloutKiosk],
         clear: Any) -> tuple[list[str], list[str], list[Outgoing]]:
    """Bring the rollout's kiosk rows in line with its target now. Returns (joined, left,
    messages to publish: cleared desired of leavers that had been asked). `kiosks` is
    updated in place; `clear(kiosk_id)` builds the clearing message."""
    target = RolloutTarget.model_validate(rollout.target or {})
    wanted = resolve_targets(session, target, strict=False)
    wanted_set = set(wanted)
    rows = {k.kiosk_id: k for k in kiosks}
    present = {k for k, row in rows.items() if row.state != KioskState.REMOVED.value}
    last = max(stages, key=lambda s: s.index)
    by_index = {s.index: s for s in stages}
    joined: list[str] = []
    left: list[str] = []
    out: list[Outgoing] = []
    newcomers = [k for k in wanted if k not in present]
    busy = busy_elsewhere(session, rollout.rollout_id, newcomers)
    position = max((k.position for k in kiosks), default=-1)
    for kiosk_id in newcomers:
        if kiosk_id in busy:
            continue
        position += 1
        row = rows.get(kiosk_id)
        if row is None:
            row = RolloutKiosk(rollout_id=rollout.rollout_id, kiosk_id=kiosk_id, reason="", detail="")
            session.add(row)
            kiosks.append(row)
            rows[kiosk_id] = row
        row.stage, row.position, row.state = last.index, position, KioskState.WAITING.value
        row.reason, row.detail, row.targeted_at, row.finished_at = "joined_target", "", None, None
        last.size += 1
        joined.append(kiosk_id)
    for kiosk_id in sorted(present - wanted_set):
        row = rows[kiosk_id]
        state = KioskState(row.state)
        if state is KioskState.WAITING:
            pass
        elif state in NOT_STARTED:
            out.append(clear(kiosk_id))
        else:
            continue  # installing or finished: it stays on the record, untouched
        row.state, row.reason, row.detail = KioskState.REMOVED.value, "left_target", "no longer in the target"
        by_index[row.stage].size = max(0, by_index[row.stage].size - 1)
        left.append(kiosk_id)
    return joined, left, out


def change_target(rollout: Rollout, add: list[str], remove: list[str]) -> dict[str, Any]:
    """The rollout's target with `add` named explicitly and `remove` excluded."""
    target = RolloutTarget.model_validate(rollout.target or {})
    removing = set(remove)
    kiosks = [k for k in target.kiosks if k not in removing] + [k for k in add if k not in target.kiosks]
    exclude = [k for k in target.exclude if k not in set(add)] + [k for k in remove if k not in target.exclude]
    return target.model_copy(update={"kiosks": kiosks, "exclude": exclude}).model_dump()
