"""REST API (FastAPI; OpenAPI at /openapi.json, docs at /docs) and the app that also
serves the web console.

Authentication: `POST /api/login` gives a token, used as `Authorization: Bearer …`
(CLI, scripts) or carried by the `fleet_session` cookie it also sets (console). Every
route declares the least role it needs (`Need(Role.x)`); a refusal is answered 403
and written to the audit log, as is every action and every login attempt.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, ValidationError

from fleet.protocol import CommandName, KioskSettings
from fleet.server import audit, views
from fleet.server.auth import Role
from fleet.server.commands import UnknownKiosk
from fleet.server.models import Alert, utcnow
from fleet.server.service import SERVER_VERSION, FleetServer

COOKIE = "fleet_session"
KioskId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class Principal(BaseModel):
    username: str
    role: Role
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


class OperatorView(BaseModel):
    username: str
    role: Role
    disabled: bool


def server_of(request: Request) -> FleetServer:
    return request.app.state.server


def source_of(request: Request) -> str:
    return request.client.host if request.client else ""


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE)


def principal_of(request: Request) -> Principal | None:
    token = token_of(request)
    if not token:
        return None
    operator = server_of(request).auth.operator_for(token)
    return Principal(username=operator.username, role=Role(operator.role), token=token) if operator else None


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
    outcome = server.auth.login(username, password)
    with server.db.session() as session:
        audit.record(session, username, "login" if outcome else "login_failed", outcome="ok" if outcome else "denied",
                     source=source_of(request))
    return (outcome[0], outcome[1].role) if outcome else None


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=server_of(request).settings.secure_cookies)


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
    server = server_of(request)
    server.auth.logout(who.token)
    with server.db.session() as session:
        audit.record(session, who.username, "logout", source=source_of(request))
    response.delete_cookie(COOKIE, path="/")


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


@api.get("/healthz", tags=["server"])
def healthz(request: Request) -> dict[str, Any]:
    """Liveness for load balancers: no login needed, nothing about kiosks."""
    server = server_of(request)
    return {"ok": True, "version": SERVER_VERSION, "mqtt_connected": server.link.connected.is_set(),
            "database": server.db.backend}


def create_app(server: FleetServer) -> FastAPI:
    """The ASGI app: REST under /api, console under /console."""
    from fleet.server.console import LoginRequired, console, login_redirect

    app = FastAPI(title="Kiosk fleet server", version=SERVER_VERSION,
                  description="Kiosks, health, alerts, commands, configuration and audit of the kiosk fleet.")
    app.state.server = server
    app.include_router(api)
    app.include_router(console)
    app.add_exception_handler(LoginRequired, login_redirect)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=303)

    return app
