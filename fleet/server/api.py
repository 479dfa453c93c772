"""REST API (FastAPI; OpenAPI at /openapi.json, docs at /docs); `fleet.server.webapp`
joins it with the web console into one ASGI app.

Authentication: `POST /api/login` gives a token, used as `Authorization: Bearer …`
(CLI, scripts) or carried by the `fleet_session` cookie it also sets (console). Every
route declares the least role it needs (`Need(Role.x)`); a refusal is answered 403
and written to the audit log, as is every action and every login attempt.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, ValidationError

from fleet.protocol import CommandName, KioskSettings
from fleet.server import audit, views
from fleet.server.artifacts import ArtifactConflict, ArtifactRefused, ArtifactView, artifact_view
from fleet.server.auth import Role
from fleet.server.commands import UnknownKiosk
from fleet.server.models import Alert, KioskLabel, utcnow
from fleet.server.rollout_engine import (
    RolloutConflict,
    RolloutCreate,
    RolloutDetail,
    RolloutNotFound,
    RolloutSummary,
    rollout_detail,
    rollout_list,
)
from fleet.server.rollout_rollback import RollbackRefused, roll_back
from fleet.server.service import SERVER_VERSION, FleetServer

COOKIE = "fleet_session"
KioskId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
KioskIdStr = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class Principal(BaseModel):
    username: str
    role: Role
    kind: str = "session"  # session | token (an API token, fleet/server/tokens.py)
    credential_id: str = ""  # the session_id or token_id (for revoking)
    token: str = Field(exclude=True)


class LoginRequest(BaseModel):
    username: str
    password: str


class LoginResponse(BaseModel):
    token: str
    username: str
    role: Role


class CommandRequest(BaseModel):
    name: CommandName
    args: dict[str, Any] = {}
    ttl_s: float = Field(default=300.0, ge=1.0, le=86400.0)


class ConfigResponse(BaseModel):
    version: int


class OperatorRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8)
    role: Role


class LabelsRequest(BaseModel):
    group: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    tags: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]] = []


class LabelsView(LabelsRequest):
    kiosk_id: str


class OperatorView(BaseModel):
    username: str
    role: Role
    disabled: bool


def server_of(request: Request) -> FleetServer:
    return request.app.state.server


def source_of(request: Request) -> str:
    return request.client.host if request.client else ""


def token_of(request: Request) -> tuple[str | None, bool]:
    """The request's token and whether it came in the Authorization header."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None, True
    return request.cookies.get(COOKIE), False


def principal_of(request: Request) -> Principal | None:
    """Who is calling: looked up in the database at every request, so a revoked session
    or token stops working at once. API tokens count only as a bearer header."""
    token, from_header = token_of(request)
    if not token:
        return None
    credential = server_of(request).auth.principal_for(token)
    if credential is None or (credential.kind == "token" and not from_header):
        return None
    return Principal(username=credential.username, role=credential.role, kind=credential.kind,
                     credential_id=credential.credential_id, token=token)


class Need:
    """Dependency: the caller's Principal, if its role is at least `role` (401/403 otherwise)."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def __call__(self, request: Request) -> Principal:
        principal = principal_of(request)
        if principal is None:
            raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
        if not principal.role.allows(self.role):
            deny(request, principal, self.role)
        return principal


def deny(request: Request, principal: Principal, needed: Role) -> None:
    """Audit the refusal, then answer 403."""
    server = server_of(request)
    route = request.scope.get("route")
    with server.db.session() as session:
        audit.record(session, principal.username, "denied", request.url.path, outcome="denied", source=source_of(request),
                     detail={"method": request.method, "route": getattr(route, "path", ""), "role": principal.role.value,
                             "needed": needed.value})
    raise HTTPException(403, f"needs the {needed.value} role")


Viewer = Annotated[Principal, Depends(Need(Role.viewer))]
Operator = Annotated[Principal, Depends(Need(Role.operator))]
Admin = Annotated[Principal, Depends(Need(Role.admin))]

api = APIRouter(prefix="/api")


def do_login(request: Request, username: str, password: str) -> tuple[str, str] | None:
    """Check credentials and audit the attempt; (token, role) or None."""
    server = server_of(request)
    source = source_of(request)
    if server.login_throttle.locked(username, source):  # no password check while locked
        with server.db.session() as session:
            audit.record(session, username, "login_locked", outcome="denied", source=source)
        return None
    outcome = server.auth.login(username, password, source)
    locked_now = server.login_throttle.failed(username, source) if not outcome else False
    if outcome:
        server.login_throttle.succeeded(username)
    with server.db.session() as session:
        audit.record(session, username, "login" if outcome else "login_failed", outcome="ok" if outcome else "denied",
                     source=source, detail={"locked_out": True} if locked_now else None)
    return (outcome[0], outcome[1].role) if outcome else None


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=server_of(request).settings.secure_cookies)


def do_logout(request: Request, response: Response, who: Principal) -> None:
    """End the session, audit it and drop the cookie (the API and the console)."""
    server = server_of(request)
    server.auth.logout(who.token)
    with server.db.session() as session:
        audit.record(session, who.username, "logout", source=source_of(request))
    response.delete_cookie(COOKIE, path="/")


@api.post("/login", response_model=LoginResponse, tags=["auth"])
def login(request: Request, response: Response, body: LoginRequest) -> LoginResponse:
    outcome = do_login(request, body.username, body.password)
    if outcome is None:
        raise HTTPException(401, "wrong username or password")
    token, role = outcome
    set_session_cookie(response, request, token)
    return LoginResponse(token=token, username=body.username, role=Role(role))


@api.post("/logout", status_code=204, tags=["auth"])
def logout(request: Request, response: Response, who: Viewer) -> None:
    do_logout(request, response, who)


@api.get("/me", response_model=Principal, tags=["auth"])
def me(who: Viewer) -> Principal:
    return who


@api.get("/kiosks", response_model=list[views.KioskSummary], tags=["kiosks"])
def list_kiosks(request: Request, who: Viewer) -> list[views.KioskSummary]:
    server = server_of(request)
    with server.db.session() as session:
        return views.kiosk_list(session, server.settings.default_heartbeat_s, server.settings.missed_heartbeats)


@api.get("/kiosks/{kiosk_id}", response_model=views.KioskDetail, tags=["kiosks"])
def get_kiosk(request: Request, kiosk_id: KioskId, who: Viewer) -> views.KioskDetail:
    server = server_of(request)
    with server.db.session() as session:
        detail = views.kiosk_detail(session, kiosk_id, server.settings.default_heartbeat_s, server.settings.missed_heartbeats)
    if detail is None:
        raise HTTPException(404, f"no kiosk {kiosk_id}")
    return detail


@api.get("/kiosks/{kiosk_id}/health", response_model=list[views.HealthPoint], tags=["kiosks"])
def get_health(request: Request, kiosk_id: KioskId, who: Viewer,
               limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[views.HealthPoint]:
    with server_of(request).db.session() as session:
        return views.health_history(session, kiosk_id, limit)


@api.get("/kiosks/{kiosk_id}/events", response_model=list[views.EventView], tags=["kiosks"])
def get_events(request: Request, kiosk_id: KioskId, who: Viewer,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[views.EventView]:
    with server_of(request).db.session() as session:
        return views.event_list(session, kiosk_id, limit)


@api.get("/kiosks/{kiosk_id}/commands", response_model=list[views.CommandView], tags=["commands"])
def get_commands(request: Request, kiosk_id: KioskId, who: Viewer,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[views.CommandView]:
    with server_of(request).db.session() as session:
        return views.command_list(session, kiosk_id, limit)


def send_command(request: Request, who: Principal, kiosk_id: str, name: str, args: dict[str, Any], ttl_s: float):
    """Shared by the API and the console: 404 unknown kiosk, 422 bad arguments."""
    server = server_of(request)
    try:
        return server.dispatcher.send_command(kiosk_id, name, args, operator=who.username, ttl_s=ttl_s,
                                              source=source_of(request))
    except UnknownKiosk:
        raise HTTPException(404, f"no kiosk {kiosk_id}") from None
    except (ValidationError, ValueError) as exc:
        raise HTTPException(422, f"bad command: {_first_error(exc)}") from None


def push_config(request: Request, who: Principal, kiosk_id: str, settings: dict[str, Any]) -> int:
    server = server_of(request)
    try:
        return server.dispatcher.push_config(kiosk_id, settings, operator=who.username, source=source_of(request))
    except UnknownKiosk:
        raise HTTPException(404, f"no kiosk {kiosk_id}") from None
    except (ValidationError, ValueError) as exc:
        raise HTTPException(422, f"bad configuration: {_first_error(exc)}") from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))
    return str(exc).splitlines()[0]


@api.post("/kiosks/{kiosk_id}/commands", response_model=views.CommandView, status_code=202, tags=["commands"])
def post_command(request: Request, kiosk_id: KioskId, body: CommandRequest, who: Operator) -> views.CommandView:
    row = send_command(request, who, kiosk_id, body.name.value, body.args, body.ttl_s)
    return views.CommandView.model_validate(row, from_attributes=True)


@api.get("/commands/{command_id}", response_model=views.CommandView, tags=["commands"])
def get_command(request: Request, command_id: str, who: Viewer) -> views.CommandView:
    with server_of(request).db.session() as session:
        view = views.command_view(session, command_id)
    if view is None:
        raise HTTPException(404, f"no command {command_id}")
    return view


@api.get("/kiosks/{kiosk_id}/config", response_model=views.ConfigView, tags=["config"])
def get_config(request: Request, kiosk_id: KioskId, who: Viewer) -> views.ConfigView:
    server = server_of(request)
    with server.db.session() as session:
        detail = views.kiosk_detail(session, kiosk_id, server.settings.default_heartbeat_s, server.settings.missed_heartbeats, recent=1)
    if detail is None:
        raise HTTPException(404, f"no kiosk {kiosk_id}")
    return detail.config


@api.put("/kiosks/{kiosk_id}/config", response_model=ConfigResponse, tags=["config"],
         openapi_extra={"requestBody": {"content": {"application/json": {"schema": KioskSettings.model_json_schema()}}}})
def put_config(request: Request, kiosk_id: KioskId, who: Operator,
               settings: Annotated[dict[str, Any], Body()]) -> ConfigResponse:
    return ConfigResponse(version=push_config(request, who, kiosk_id, settings))


@api.get("/alerts", response_model=list[views.AlertView], tags=["alerts"])
def get_alerts(request: Request, who: Viewer, open_only: bool = True, kiosk_id: str | None = None,
               limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[views.AlertView]:
    with server_of(request).db.session() as session:
        return views.alert_list(session, open_only=open_only, kiosk_id=kiosk_id, limit=limit)


def acknowledge_alert(request: Request, who: Principal, alert_id: int) -> None:
    with server_of(request).db.session() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert {alert_id}")
        alert.acknowledged_by = who.username
        alert.acknowledged_at = utcnow()
        audit.record(session, who.username, "ack_alert", alert.kiosk_id, source=source_of(request),
                     detail={"alert_id": alert_id, "kind": alert.kind, "device": alert.device})


@api.post("/alerts/{alert_id}/ack", status_code=204, tags=["alerts"])
def post_ack(request: Request, alert_id: int, who: Operator) -> None:
    acknowledge_alert(request, who, alert_id)


@api.get("/audit", response_model=list[views.AuditView], tags=["audit"])
def get_audit(request: Request, who: Operator, limit: Annotated[int, Query(ge=1, le=5000)] = 200,
              operator: str | None = None) -> list[views.AuditView]:
    with server_of(request).db.session() as session:
        return views.audit_list(session, limit, operator)


@api.get("/operators", response_model=list[OperatorView], tags=["operators"])
def get_operators(request: Request, who: Admin) -> list[OperatorView]:
    return [OperatorView(username=o.username, role=Role(o.role), disabled=o.disabled)
            for o in server_of(request).auth.operators()]


@api.post("/operators", response_model=OperatorView, status_code=201, tags=["operators"])
def post_operator(request: Request, body: OperatorRequest, who: Admin) -> OperatorView:
    server = server_of(request)
    try:
        server.auth.create_operator(body.username, body.password, body.role)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    with server.db.session() as session:
        audit.record(session, who.username, "create_operator", body.username, source=source_of(request),
                     detail={"role": body.role.value})
    return OperatorView(username=body.username, role=body.role, disabled=False)


# ------------------------------------------------------------------ kiosk labels


def set_labels(request: Request, who: Principal, kiosk_id: str, body: LabelsRequest) -> LabelsView:
    """Group and tags of a kiosk (it need not have connected yet); audited."""
    tags = sorted(set(body.tags))
    with server_of(request).db.session() as session:
        label = session.get(KioskLabel, kiosk_id) or KioskLabel(kiosk_id=kiosk_id)
        label.group, label.tags, label.updated_at, label.updated_by = body.group, tags, utcnow(), who.username
        session.add(label)
        audit.record(session, who.username, "labels", kiosk_id, source=source_of(request),
                     detail={"group": body.group, "tags": tags})
    server_of(request).rollouts.wake()  # rollouts targeting groups/tags follow the change
    return LabelsView(kiosk_id=kiosk_id, group=body.group, tags=tags)


@api.put("/kiosks/{kiosk_id}/labels", response_model=LabelsView, tags=["kiosks"])
def put_labels(request: Request, kiosk_id: KioskId, body: LabelsRequest, who: Operator) -> LabelsView:
    return set_labels(request, who, kiosk_id, body)


@api.get("/labels", response_model=list[LabelsView], tags=["kiosks"])
def get_labels(request: Request, who: Viewer) -> list[LabelsView]:
    from sqlalchemy import select

    with server_of(request).db.session() as session:
        return [LabelsView(kiosk_id=label.kiosk_id, group=label.group, tags=label.tags or [])
                for label in session.scalars(select(KioskLabel).order_by(KioskLabel.kiosk_id))]


# ------------------------------------------------------------------ artifacts


@api.post("/artifacts", response_model=ArtifactView, status_code=201, tags=["artifacts"],
          openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
              "schema": {"type": "string", "format": "binary"}}}}})
async def post_artifact(request: Request, who: Operator) -> ArtifactView:
    """Upload a signed bundle as the raw request body. It is verified like a kiosk would
    (signature by a trusted key, manifest, every file hash) before it is stored; 422 with
    the reason code (hash_mismatch, untrusted_key, unsigned, ...) otherwise."""
    store = server_of(request).artifacts
    try:
        tmp = await store.receive_stream(request.stream())
        row = await run_in_threadpool(store.accept, tmp, operator=who.username, source=source_of(request))
    except ArtifactRefused as exc:
        raise HTTPException(422 if exc.reason != "too_large" else 413,
                            {"reason": exc.reason, "detail": exc.detail}) from None
    except ArtifactConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return artifact_view(row)


@api.get("/artifacts", response_model=list[ArtifactView], tags=["artifacts"])
def get_artifacts(request: Request, who: Viewer, include_deleted: bool = False) -> list[ArtifactView]:
    return [artifact_view(row) for row in server_of(request).artifacts.list(include_deleted)]


@api.get("/artifacts/{artifact_id}", response_model=ArtifactView, tags=["artifacts"])
def get_artifact(request: Request, artifact_id: str, who: Viewer) -> ArtifactView:
    row = server_of(request).artifacts.get(artifact_id)
    if row is None:
        raise HTTPException(404, f"no artifact {artifact_id}")
    return artifact_view(row)


@api.delete("/artifacts/{artifact_id}", status_code=204, tags=["artifacts"])
def delete_artifact(request: Request, artifact_id: str, who: Operator) -> None:
    try:
        server_of(request).artifacts.delete(artifact_id, operator=who.username, source=source_of(request))
    except LookupError:
        raise HTTPException(404, f"no artifact {artifact_id}") from None
    except ArtifactConflict as exc:
        raise HTTPException(409, str(exc)) from None


@api.get("/artifacts/{artifact_id}/download", tags=["artifacts"], response_class=FileResponse)
@api.head("/artifacts/{artifact_id}/download", tags=["artifacts"], response_class=FileResponse)
def download_artifact(request: Request, artifact_id: str) -> FileResponse:
    """The bundle for kiosks: no login (it is signed, and kiosks have no operator
    account); ``Range: bytes=N-`` is answered 206 so an interrupted download resumes."""
    store = server_of(request).artifacts
    row = store.get(artifact_id)
    if row is None or row.deleted_at is not None or not store.path(row).is_file():
        raise HTTPException(404, f"no artifact {artifact_id}")
    return FileResponse(store.path(row), media_type="application/octet-stream", filename=row.filename)


# ------------------------------------------------------------------ rollouts


def rollout_action(request: Request, who: Principal, rollout_id: str, action: str, **kwargs: Any) -> RolloutDetail:
    """pause, resume, cancel, approve: 404 unknown, 409 not in a state that allows it."""
    server = server_of(request)
    try:
        getattr(server.rollouts, action)(rollout_id, operator=who.username, source=source_of(request), **kwargs)
        with server.db.session() as session:
            return rollout_detail(session, rollout_id)
    except RolloutNotFound:
        raise HTTPException(404, f"no rollout {rollout_id}") from None
    except RolloutConflict as exc:
        raise HTTPException(409, str(exc)) from None


def create_rollout(request: Request, who: Principal, body: RolloutCreate) -> RolloutDetail:
    server = server_of(request)
    try:
        rollout_id = server.rollouts.create(body, operator=who.username, source=source_of(request))
    except RolloutConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except LookupError as exc:
        raise HTTPException(404, str(exc).strip("'")) from None
    except (ValidationError, ValueError) as exc:
        raise HTTPException(422, f"bad rollout: {_first_error(exc)}") from None
    with server.db.session() as session:
        return rollout_detail(session, rollout_id)


@api.post("/rollouts", response_model=RolloutDetail, status_code=201, tags=["rollouts"])
def post_rollout(request: Request, body: RolloutCreate, who: Operator) -> RolloutDetail:
    """Start a staged rollout of an artifact (the first stage is published at once,
    unless it needs approval)."""
    return create_rollout(request, who, body)


@api.get("/rollouts", response_model=list[RolloutSummary], tags=["rollouts"])
def get_rollouts(request: Request, who: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[RolloutSummary]:
    with server_of(request).db.session() as session:
        return rollout_list(session, limit)


@api.get("/rollouts/{rollout_id}", response_model=RolloutDetail, tags=["rollouts"])
def get_rollout(request: Request, rollout_id: str, who: Viewer) -> RolloutDetail:
    try:
        with server_of(request).db.session() as session:
            return rollout_detail(session, rollout_id)
    except RolloutNotFound:
        raise HTTPException(404, f"no rollout {rollout_id}") from None


@api.post("/rollouts/{rollout_id}/pause", response_model=RolloutDetail, tags=["rollouts"])
def post_pause(request: Request, rollout_id: str, who: Operator) -> RolloutDetail:
    return rollout_action(request, who, rollout_id, "pause")


@api.post("/rollouts/{rollout_id}/resume", response_model=RolloutDetail, tags=["rollouts"])
def post_resume(request: Request, rollout_id: str, who: Operator) -> RolloutDetail:
    return rollout_action(request, who, rollout_id, "resume")


@api.post("/rollouts/{rollout_id}/cancel", response_model=RolloutDetail, tags=["rollouts"])
def post_cancel(request: Request, rollout_id: str, who: Operator) -> RolloutDetail:
    """Stop for good: no further kiosk is asked; desired updates not yet started are withdrawn."""
    return rollout_action(request, who, rollout_id, "cancel")


class RolloutKioskChange(BaseModel):
    add: list[KioskIdStr] = []
    remove: list[KioskIdStr] = []


@api.post("/rollouts/{rollout_id}/kiosks", response_model=RolloutDetail, tags=["rollouts"])
def post_rollout_kiosks(request: Request, rollout_id: str, body: RolloutKioskChange, who: Operator) -> RolloutDetail:
    """Add kiosks to a running rollout (into its last stage) or take them out (never
    asked if they had not started; a removed kiosk stays out even if its group is targeted)."""
    return rollout_action(request, who, rollout_id, "change_kiosks", add=body.add, remove=body.remove)


@api.post("/rollouts/{rollout_id}/approve", response_model=RolloutDetail, tags=["rollouts"])
def post_approve(request: Request, rollout_id: str, who: Operator,
                 stage: Annotated[int | None, Query(ge=1, description="stage number (1 = first); default: the next waiting")] = None
                 ) -> RolloutDetail:
    return rollout_action(request, who, rollout_id, "approve", stage=None if stage is None else stage - 1)


@api.post("/rollouts/{rollout_id}/rollback", response_model=list[RolloutDetail], status_code=201, tags=["rollouts"])
def post_rollback(request: Request, rollout_id: str, who: Operator) -> list[RolloutDetail]:
    """Take the kiosks that installed this rollout's version back to what each ran before:
    cancels it if still active, then one new rollout (canary first, downgrade allowed) per
    earlier version. 409 when no kiosk runs it or the earlier bundle is not on the server."""
    server = server_of(request)
    try:
        created = roll_back(server.rollouts, rollout_id, operator=who.username, source=source_of(request))
    except RolloutNotFound:
        raise HTTPException(404, f"no rollout {rollout_id}") from None
    except (RollbackRefused, RolloutConflict) as exc:
        raise HTTPException(409, str(exc)) from None
    with server.db.session() as session:
        return [rollout_detail(session, r) for r in created]


@api.get("/healthz", tags=["server"])
def healthz(request: Request) -> dict[str, Any]:
    """Liveness for load balancers: no login needed, nothing about kiosks."""
    server = server_of(request)
    return {"ok": True, "version": SERVER_VERSION, "mqtt_connected": server.link.connected.is_set(),
            "database": server.db.backend, "broker_queue_overflows": dict(server.broker_watch.drops)}
