"""The web console: server-rendered pages (Jinja2) over the same read models as the API.

Pages: login, kiosk page (devices, health chart as
inline SVG, alerts, commands with their results, events, desired vs reported
configuration, a form to send a command), alerts, audit log.
The kiosk list (the home page) is `console_kiosks`; the configuration form, diff and
history are `console_config`; rollouts and bundles are `console_rollouts`; other pages
have modules of their own that reuse `_who`, `_check_csrf` and `_render` from here.
Pages refresh their main part every few seconds with a little JS (static/console.js),
so a command's result appears without reloading.

The session is the `fleet_session` cookie (HttpOnly, SameSite=Strict); every form also
carries a per-session CSRF token. Role checks are the API's.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from fleet.protocol import COMMAND_ARGS, CommandName, KioskSettings
from fleet.server import views
from fleet.server.api import (
    Principal,
    acknowledge_alert,
    deny,
    do_login,
    do_logout,
    principal_of,
    send_command,
    server_of,
    set_session_cookie,
)
from fleet.server.auth import Role, csrf_token
from fleet.server.models import KioskSite

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
console = APIRouter(prefix="/console", include_in_schema=False)


class LoginRequired(Exception):
    pass


def _fmt_time(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(value: dt.datetime | None) -> str:
    if value is None:
        return "never"
    seconds = (dt.datetime.now(dt.timezone.utc) - value).total_seconds()
    if seconds < 90:
        return f"{max(0, int(seconds))} s ago"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


templates.env.filters["time"] = _fmt_time
templates.env.filters["ago"] = _ago
templates.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


SERIES = (  # (field, label, colour, maximum of the axis or None for automatic)
    ("cpu_percent", "CPU %", "#d62728", 100.0),
    ("memory_percent", "memory %", "#1f77b4", 100.0),
    ("disk_percent", "disk %", "#2ca02c", 100.0),
    ("temperature_c", "temperature °C", "#ff7f0e", 100.0),
)


def health_chart(points: list[views.HealthPoint], width: int = 720, height: int = 200) -> Markup:
    """An inline SVG line chart of the health history (0–100 for every series)."""
    pad_l, pad_r, pad_t, pad_b = 36, 8, 8, 22
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    parts = [f'<svg class="chart" role="img" aria-label="health history" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for tick in (0, 25, 50, 75, 100):
        y = pad_t + inner_h * (1 - tick / 100)
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{tick}</text>')
    if len(points) >= 1:
        t0, t1 = points[0].at.timestamp(), points[-1].at.timestamp()
        span = max(t1 - t0, 1e-9)

        def x(p: views.HealthPoint) -> float:
            return pad_l + (inner_w * (p.at.timestamp() - t0) / span if len(points) > 1 else inner_w / 2)

        for field, label, colour, top in SERIES:
            coords = [(x(p), getattr(p, field)) for p in points if getattr(p, field) is not None]
            if not coords:
                continue
            path = " ".join(f"{cx:.1f},{pad_t + inner_h * (1 - min(max(v, 0.0), top) / top):.1f}" for cx, v in coords)
            parts.append(f'<polyline class="series" data-series="{field}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.5" points="{path}"><title>{escape(label)}</title></polyline>')
        parts.append(f'<text x="{pad_l}" y="{height - 6}" font-size="10">{escape(_fmt_time(points[0].at))}</text>'
                     f'<text x="{width - pad_r}" y="{height - 6}" font-size="10" text-anchor="end">'
                     f'{escape(_fmt_time(points[-1].at))}</text>')
    else:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no health received yet</text>')
    parts.append("</svg>")
    legend = "".join(f'<span class="legend" style="border-color:{c}">{escape(label)}</span>' for _, label, c, _ in SERIES)
    return Markup("".join(parts) + f'<div class="legend-row">{legend}</div>')


def _who(request: Request, needed: Role = Role.viewer) -> Principal:
    principal = principal_of(request)
    if principal is None:
        raise LoginRequired()
    if not principal.role.allows(needed):
        deny(request, principal, needed)
    return principal


def _check_csrf(who: Principal, token: str) -> None:
    if token != csrf_token(who.token):
        raise HTTPException(403, "stale form; reload the page")


def _render(request: Request, name: str, who: Principal | None, **context: Any) -> HTMLResponse:
    context.update(request=request, who=who, csrf=csrf_token(who.token) if who else "",
                   can_act=bool(who and who.role.allows(Role.operator)),
                   is_admin=bool(who and who.role.allows(Role.admin)))
    return templates.TemplateResponse(request, name, context)


def login_redirect(request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)


@console.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = (HERE / "static" / name).resolve()
    if path.parent != (HERE / "static").resolve() or not path.is_file():
        raise HTTPException(404)
    return FileResponse(path)


@console.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/console/", error: str = "") -> HTMLResponse:
    return _render(request, "login.html", None, next=next if next.startswith("/console/") else "/console/", error=error)


@console.post("/login")
def login_form(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
               next: Annotated[str, Form()] = "/console/") -> Response:
    outcome = do_login(request, username, password)
    if outcome is None:
        return _render(request, "login.html", None, next=next, error="Wrong username or password.")
    response = RedirectResponse(next if next.startswith("/console/") else "/console/", status_code=303)
    set_session_cookie(response, request, outcome[0])
    return response


@console.post("/logout")
def logout_form(request: Request, csrf: Annotated[str, Form()]) -> Response:
    who = _who(request)
    _check_csrf(who, csrf)
    response = RedirectResponse("/console/login", status_code=303)
    do_logout(request, response, who)
    return response


@console.get("/kiosks/{kiosk_id}", response_class=HTMLResponse)
def kiosk_page(request: Request, kiosk_id: str, sent: str = "", error: str = "") -> HTMLResponse:
    who = _who(request)
    server = server_of(request)
    with server.db.session() as session:
        kiosk = views.kiosk_detail(session, kiosk_id, server.settings.default_heartbeat_s, server.settings.missed_heartbeats)
        history = views.health_history(session, kiosk_id, 200) if kiosk else []
        site = session.get(KioskSite, kiosk_id)
    if kiosk is None:
        raise HTTPException(404, f"no kiosk {kiosk_id}")
    settings = kiosk.config.desired or KioskSettings().model_dump(mode="json")
    arg_examples = {name.value: json.dumps(_example_args(name)) for name in CommandName}
    return _render(request, "kiosk.html", who, kiosk=kiosk, chart=health_chart(history), sent=sent, error=error,
                   site=site, default_heartbeat_s=server.settings.default_heartbeat_s,
                   command_names=[n.value for n in CommandName if n is not CommandName.APPLY_CONFIG],
                   arg_examples=arg_examples, settings_json=json.dumps(settings, indent=2, ensure_ascii=False))


def _example_args(name: CommandName) -> dict[str, Any]:
    return {"self_test": {"device": "printer"}, "fetch_logs": {"lines": 100},
            "set_out_of_service": {"enabled": True, "reason": "maintenance"}}.get(name.value, {}) if name in COMMAND_ARGS else {}


def _back(kiosk_id: str, **query: str) -> RedirectResponse:
    qs = "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
    return RedirectResponse(f"/console/kiosks/{quote(kiosk_id)}{'?' + qs if qs else ''}", status_code=303)


@console.post("/kiosks/{kiosk_id}/commands")
def command_form(request: Request, kiosk_id: str, name: Annotated[str, Form()], csrf: Annotated[str, Form()],
                 args: Annotated[str, Form()] = "", ttl_s: Annotated[float, Form()] = 300.0) -> Response:
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    try:
        parsed = json.loads(args) if args.strip() else {}
        if not isinstance(parsed, dict):
            raise ValueError("arguments must be a JSON object")
    except ValueError as exc:
        return _back(kiosk_id, error=f"arguments: {exc}")
    try:
        row = send_command(request, who, kiosk_id, name, parsed, ttl_s)
    except HTTPException as exc:
        return _back(kiosk_id, error=str(exc.detail))
    return _back(kiosk_id, sent=row.command_id)


@console.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, all: bool = False) -> HTMLResponse:
    who = _who(request)
    with server_of(request).db.session() as session:
        alerts = views.alert_list(session, open_only=not all, limit=500)
    return _render(request, "alerts.html", who, alerts=alerts, show_all=all)


@console.post("/alerts/{alert_id}/ack")
def ack_form(request: Request, alert_id: int, csrf: Annotated[str, Form()]) -> Response:
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    acknowledge_alert(request, who, alert_id)
    return RedirectResponse("/console/alerts", status_code=303)


@console.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, operator: str = "") -> HTMLResponse:
    who = _who(request, Role.operator)
    with server_of(request).db.session() as session:
        entries = views.audit_list(session, 500, operator or None)
    return _render(request, "audit.html", who, entries=entries, operator=operator)
