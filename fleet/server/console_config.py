"""Console: a kiosk's configuration as a form, a diff before pushing, and the push history.

GET  /console/kiosks/{id}/config          the form (from KioskSettings' JSON schema), the
                                          raw JSON as an advanced view, desired vs reported,
                                          and the history of pushes with who pushed them
POST /console/kiosks/{id}/config/preview  validate (form or raw JSON); errors go back into
                                          the form beside their fields; else the diff
POST /console/kiosks/{id}/config/push     push what was reviewed, unless someone else pushed
                                          in between (then review again)

Pushing goes through the dispatcher as the API's PUT does (validated, versioned, audited,
published retained); role checks are the API's (operator).
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fleet.server import config_form
from fleet.server.api import push_config, server_of
from fleet.server.auth import Role
from fleet.server.console import _check_csrf, _render, _who
from fleet.server.models import Kiosk
from fleet.server.views import config_view

router = APIRouter(prefix="/console", include_in_schema=False)


def _kiosk_config(request: Request, kiosk_id: str):
    with server_of(request).db.session() as session:
        kiosk = session.get(Kiosk, kiosk_id)
        if kiosk is None:
            raise HTTPException(404, f"no kiosk {kiosk_id}")
        return config_view(kiosk), config_form.history(session, kiosk_id)


def _page(request: Request, kiosk_id: str, *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
          overall: list[str] | None = None, raw: str | None = None, raw_open: bool = False, pushed: str = "",
          status_code: int = 200) -> HTMLResponse:
    who = _who(request)
    config, pushes = _kiosk_config(request, kiosk_id)
    current = config.desired or config_form.KioskSettings().model_dump(mode="json")
    shown = values if values is not None else current
    response = _render(request, "config.html", who, kiosk_id=kiosk_id, config=config, pushes=pushes,
                       fields=config_form.form_fields(), values=shown, errors=errors or {}, overall=overall or [],
                       raw=raw if raw is not None else json.dumps(current, indent=2, ensure_ascii=False),
                       raw_open=raw_open, pushed=pushed)
    response.status_code = status_code
    return response


@router.get("/kiosks/{kiosk_id}/config", response_class=HTMLResponse)
def config_page(request: Request, kiosk_id: str, pushed: str = "") -> HTMLResponse:
    return _page(request, kiosk_id, pushed=pushed)


@router.post("/kiosks/{kiosk_id}/config/preview", response_class=HTMLResponse)
async def config_preview(request: Request, kiosk_id: str) -> HTMLResponse:
    """Validate what was typed (form or raw JSON) and show what a push would change."""
    who = _who(request, Role.operator)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    _check_csrf(who, form.get("csrf", ""))
    fields = config_form.form_fields()
    if form.get("mode") == "raw":
        try:
            values = json.loads(form.get("settings", ""))
            if not isinstance(values, dict):
                raise ValueError("the settings must be a JSON object")
        except ValueError as exc:
            return _page(request, kiosk_id, overall=[f"raw JSON: {exc}"], raw=form.get("settings", ""), raw_open=True,
                         status_code=422)
        typed_errors: dict[str, str] = {}
    else:
        values, typed_errors = config_form.read_form(form, fields)
    settings, errors, overall = config_form.check(values)
    errors = {**errors, **typed_errors}
    if settings is None or errors:
        shown = {**values, **{k: form.get(config_form.PREFIX + k, "") for k in typed_errors}}
        return _page(request, kiosk_id, values=shown, errors=errors, overall=overall, raw_open=form.get("mode") == "raw",
                     raw=form.get("settings") if form.get("mode") == "raw" else None, status_code=422)
    config, _ = _kiosk_config(request, kiosk_id)
    changes = config_form.diff(config.desired, settings)
    return _render(request, "config_preview.html", who, kiosk_id=kiosk_id, config=config, changes=changes,
                   settings_json=json.dumps(settings, ensure_ascii=False), fields={f.name: f for f in fields})


@router.post("/kiosks/{kiosk_id}/config/push")
def config_push(request: Request, kiosk_id: str, csrf: Annotated[str, Form()], settings: Annotated[str, Form()],
                base_version: Annotated[int, Form()]) -> Response:
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    config, pushes = _kiosk_config(request, kiosk_id)
    if config.desired_version != base_version:
        by = pushes[0].operator if pushes else "someone"
        return _page(request, kiosk_id, overall=[f"{by} pushed version {config.desired_version} after you opened the "
                                                 "review; look at the new configuration and review again"],
                     status_code=409)
    try:
        version = push_config(request, who, kiosk_id, json.loads(settings))
    except HTTPException as exc:
        return _page(request, kiosk_id, overall=[str(exc.detail)], status_code=exc.status_code)
    return RedirectResponse(f"/console/kiosks/{quote(kiosk_id)}/config?pushed={version}", status_code=303)
