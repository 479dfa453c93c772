"""Bulk actions on a selection of kiosks: send a command, push a configuration change,
add or remove a label. Shared by `POST /api/kiosks/bulk` and the console's kiosk list.

Each kiosk goes through the same path as a single action (the dispatcher validates,
stores, audits and publishes a command or configuration; labels are written with an
audit record per kiosk), so a bulk action is never a second, weaker route. One more audit
record, `bulk`, says who asked for what on how many kiosks and how many failed.

Configuration in bulk is a *change*: the fields given replace those fields of each
kiosk's current desired configuration (or the defaults), the rest stays as it is. The
change is checked against `KioskSettings` once before anything is sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy import select

from fleet.protocol import CommandName, KioskSettings
from fleet.server import audit
from fleet.server.commands import UnknownKiosk
from fleet.server.models import Kiosk, KioskLabel, utcnow
from fleet.server.service import FleetServer

MAX_BULK = 2000  # kiosks per bulk action (a district is ~500; the whole fleet needs a rollout)
KioskIdStr = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ACTIONS = {"command": "send a command", "config": "change configuration", "add_label": "add a label",
           "remove_label": "remove a label"}


class BulkRequest(BaseModel):
    action: Literal["command", "config", "add_label", "remove_label"]
    kiosks: list[KioskIdStr] = Field(min_length=1, max_length=MAX_BULK)
    command: CommandName | None = None
    args: dict[str, Any] = {}
    ttl_s: float = Field(default=300.0, ge=1.0, le=86400.0)
    settings: dict[str, Any] = {}  # for config: the fields to change
    label: Tag | None = None

    @model_validator(mode="after")
    def _complete(self) -> BulkRequest:
        if self.action == "command":
            if self.command is None or self.command is CommandName.APPLY_CONFIG:
                raise ValueError("choose a command (configuration goes through the config action)")
        elif self.action == "config":
            check_change(self.settings)
        elif self.label is None:
            raise ValueError("give the label to add or remove")
        self.kiosks = list(dict.fromkeys(self.kiosks))
        return self


class BulkFailure(BaseModel):
    kiosk_id: str
    error: str


class BulkResult(BaseModel):
    action: str
    requested: int
    done: int
    failed: list[BulkFailure]


def check_change(settings: dict[str, Any]) -> dict[str, Any]:
    """A configuration change must name known fields and give a valid configuration on the defaults."""
    if not settings:
        raise ValueError("give at least one setting to change")
    unknown = sorted(set(settings) - set(KioskSettings.model_fields))
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
    KioskSettings.model_validate({**KioskSettings().model_dump(mode="json"), **settings})
    return settings


def first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def run_bulk(server: FleetServer, operator: str, request: BulkRequest, source: str = "") -> BulkResult:
    """Do the action on every kiosk of the request; failures are collected, not raised."""
    failed: list[BulkFailure] = []
    if request.action in ("add_label", "remove_label"):
        failed = _labels(server, operator, request, source)
    else:
        desired: dict[str, dict[str, Any] | None] = {}
        if request.action == "config":
            with server.db.session() as session:
                desired = dict(session.execute(select(Kiosk.kiosk_id, Kiosk.config_desired)
                                               .where(Kiosk.kiosk_id.in_(request.kiosks))).all())
        defaults = KioskSettings().model_dump(mode="json")
        for kiosk_id in request.kiosks:
            try:
                if request.action == "command":
                    server.dispatcher.send_command(kiosk_id, request.command.value, request.args, operator=operator,
                                                   ttl_s=request.ttl_s, source=source)
                else:
                    if kiosk_id not in desired:
                        raise UnknownKiosk(kiosk_id)
                    settings = {**(desired[kiosk_id] or defaults), **request.settings}
                    server.dispatcher.push_config(kiosk_id, settings, operator=operator, source=source)
            except UnknownKiosk:
                failed.append(BulkFailure(kiosk_id=kiosk_id, error="no such kiosk"))
            except (ValidationError, ValueError) as exc:
                failed.append(BulkFailure(kiosk_id=kiosk_id, error=first_error(exc)))
    result = BulkResult(action=request.action, requested=len(request.kiosks),
                        done=len(request.kiosks) - len(failed), failed=failed)
    with server.db.session() as session:
        audit.record(session, operator, "bulk", f"{len(request.kiosks)} kiosks", source=source,
                     outcome="ok" if not failed else ("failed" if not result.done else "partial"),
                     detail={"action": request.action, "kiosks": request.kiosks, "failed": len(failed),
                             **_what(request)})
    return result


def _what(request: BulkRequest) -> dict[str, Any]:
    if request.action == "command":
        return {"command": request.command.value, "args": request.args, "ttl_s": request.ttl_s}
    if request.action == "config":
        return {"settings": request.settings}
    return {"label": request.label}


def _labels(server: FleetServer, operator: str, request: BulkRequest, source: str) -> list[BulkFailure]:
    """Add or remove one tag on every kiosk, in one transaction (labels need no connected kiosk)."""
    with server.db.session() as session:
        labels = {lb.kiosk_id: lb for lb in session.scalars(select(KioskLabel).where(KioskLabel.kiosk_id.in_(request.kiosks)))}
        now = utcnow()
        for kiosk_id in request.kiosks:
            label = labels.get(kiosk_id) or KioskLabel(kiosk_id=kiosk_id, group=None, tags=[])
            tags = set(label.tags or [])
            changed = (request.label not in tags) if request.action == "add_label" else (request.label in tags)
            if not changed:
                continue
            tags = tags | {request.label} if request.action == "add_label" else tags - {request.label}
            label.tags, label.updated_at, label.updated_by = sorted(tags), now, operator
            session.add(label)
            audit.record(session, operator, "labels", kiosk_id, source=source,
                         detail={"group": label.group, "tags": label.tags, "bulk": request.action})
    server.rollouts.wake()  # rollouts targeting tags follow the change
    return []
