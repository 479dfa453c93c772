"""The console's "new rollout" form: its fields, their check, and the wave preview.

The form is plain HTML (it works without JavaScript and from the keyboard); every field
arrives as a string. `RolloutForm.parse` turns them into the API's own `RolloutCreate`
(so the console can ask nothing the API would refuse) and collects one message per bad
field. `preview` resolves the target and plans the waves exactly as
`RolloutEngine.create` will (`resolve_targets`, `plan_stages`), so the kiosks shown in
each wave are the kiosks that wave will ask, unless labels change in between.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.server.models import KioskLabel
from fleet.server.rollout_engine import RolloutCreate
from fleet.server.rollout_members import RolloutTarget, busy_elsewhere, resolve_targets
from fleet.server.rollouts import AbortPolicy, PlannedStage, StageSpec, plan_stages

FIELDS = ("artifact_id", "name", "group", "tags", "kiosks", "waves", "approval", "success_percent",
          "abort_percent", "abort_count", "min_finished", "deadline_min", "allow_downgrade")
DEFAULTS = {"waves": "1, 10%, 50%, 100%", "success_percent": "95", "abort_percent": "10", "min_finished": "1"}
_SPLIT = re.compile(r"[\s,;]+")
SHOWN_PER_WAVE = 12  # kiosk ids listed per wave in the preview; the rest are counted


def _items(text: str) -> list[str]:
    return [t for t in _SPLIT.split(text.strip()) if t]


def _number(errors: dict[str, str], values: dict[str, str], name: str, what: str, *, integer: bool = False,
            optional: bool = True) -> float | int | None:
    raw = values.get(name, "").strip()
    if not raw:
        if not optional:
            errors[name] = f"{what}: enter a number"
        return None
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        errors[name] = f"{what}: {raw!r} is not {'a whole number' if integer else 'a number'}"
        return None


@dataclass
class RolloutForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    request: RolloutCreate | None = None

    @classmethod
    def blank(cls) -> RolloutForm:
        return cls({name: DEFAULTS.get(name, "") for name in FIELDS})

    @classmethod
    def parse(cls, raw: dict[str, str]) -> RolloutForm:
        values = {name: str(raw.get(name, "")).strip() for name in FIELDS}
        form = cls(values)
        errors = form.errors
        if not values["artifact_id"]:
            errors["artifact_id"] = "choose the bundle to roll out"
        target = RolloutTarget(kiosks=_items(values["kiosks"]), groups=[values["group"]] if values["group"] else [],
                               tags=_items(values["tags"]))
        if not (target.kiosks or target.groups or target.tags):
            errors["target"] = "choose a group, one or more labels, or name kiosks"
        stages: list[StageSpec] = []
        for i, size in enumerate(_items(values["waves"]) or ["100%"]):
            try:
                stages.append(StageSpec(size=size, approval=bool(values["approval"]) and i > 0))
            except ValidationError as exc:
                errors["waves"] = f"wave {i + 1}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
                break
        success = _number(errors, values, "success_percent", "success threshold", optional=False)
        abort_percent = _number(errors, values, "abort_percent", "abort at failure percentage")
        abort_count = _number(errors, values, "abort_count", "abort at failed kiosks", integer=True)
        min_finished = _number(errors, values, "min_finished", "percentage counts from", integer=True) or 1
        deadline_min = _number(errors, values, "deadline_min", "wave deadline")
        if errors:
            return form
        try:
            abort = AbortPolicy(max_failures=abort_count, max_failure_percent=abort_percent, min_finished=min_finished)
            form.request = RolloutCreate(
                artifact_id=values["artifact_id"], name=values["name"], target=target, stages=stages,
                success_percent=success, deadline_s=deadline_min * 60 if deadline_min else None, abort=abort,
                allow_downgrade=bool(values["allow_downgrade"]))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            errors["abort" if "abort" in where or not where else where] = \
                str(err.get("msg")).removeprefix("Value error, ")
        return form


@dataclass
class WavePreview:
    stage: PlannedStage
    kiosks: list[str]

    @property
    def hidden(self) -> int:
        return max(0, len(self.kiosks) - SHOWN_PER_WAVE)

    @property
    def shown(self) -> list[str]:
        return self.kiosks[:SHOWN_PER_WAVE]


@dataclass
class Preview:
    total: int
    waves: list[WavePreview]
    busy: list[str]  # kiosks already in another active rollout: creating would be refused
    error: str = ""


def preview(session: Session, request: RolloutCreate) -> Preview:
    """The kiosks of each wave, as `RolloutEngine.create` would plan them now."""
    try:
        kiosks = resolve_targets(session, request.target)
    except ValueError as exc:
        return Preview(0, [], [], str(exc))
    if not kiosks:
        return Preview(0, [], [], "the target matches no kiosk")
    plan = plan_stages(len(kiosks), request.stages, success_percent=request.success_percent,
                       deadline_s=request.deadline_s)
    waves, position = [], 0
    for stage in plan:
        waves.append(WavePreview(stage, kiosks[position:position + stage.size]))
        position += stage.size
    busy = sorted(busy_elsewhere(session, "", kiosks))
    return Preview(len(kiosks), waves, busy)


def label_choices(session: Session) -> tuple[list[str], list[str]]:
    """(groups, tags) in use, for the form's group list and the labels hint."""
    groups: set[str] = set()
    tags: set[str] = set()
    for label in session.scalars(select(KioskLabel)):
        if label.group:
            groups.add(label.group)
        tags.update(label.tags or [])
    return sorted(groups), sorted(tags)
