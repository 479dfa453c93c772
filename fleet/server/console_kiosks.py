"""Console: the kiosk list for a big fleet (the console's home page) and its bulk actions.

Search, filters, sort and paging are query-string parameters (`KioskQuery`), so every
view of the list is a link that can be bookmarked or saved per operator (saved views are
in the database). A bulk action is two steps: the form on the list posts the selection
to a review page that says exactly what will happen to which kiosks, and only its
Confirm button acts (`kiosk_bulk.run_bulk`; role checks and audit as in the API).
Each list answer carries a `Server-Timing` header (database, rendering and total time,
and the CPU time of the request's thread, which says what a busy machine adds by
waiting), which `bench/console_kiosks.py` prints.
"""

from __future__ import annotations

import json
import time
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from fleet.protocol import CommandName
from fleet.server import config_form
from fleet.server.api import server_of, source_of
from fleet.server.api_kiosks import SavedViewRequest, SiteRequest, delete_view, save_site, save_view, saved_views
from fleet.server.auth import Role
from fleet.server.console import _check_csrf, _example_args, _render, _who
from fleet.server.kiosk_bulk import ACTIONS, MAX_BULK, BulkRequest, first_error, run_bulk
from fleet.server.kiosk_query import NO_SITE, PER_PAGE, KioskQuery, facets, matching_ids, search

router = APIRouter(prefix="/console", include_in_schema=False)
COLUMNS = [("id", "Kiosk"), ("name", "Name"), ("hall", "Hall"), ("district", "District"), ("status", "Status"),
           ("last_seen", "Last seen"), (None, "Devices"), ("alerts", "Alerts"), ("version", "Version"), (None, "Config")]


@router.get("/", response_class=HTMLResponse)
def kiosk_list_page(request: Request, error: str = "", saved: str = "") -> HTMLResponse:
    who = _who(request)
    server = server_of(request)
    started, cpu_started = time.perf_counter(), time.thread_time()
    query, problems = KioskQuery.from_params(dict(request.query_params))
    with server.db.session() as session:
        page = search(session, query, server.settings.default_heartbeat_s, server.settings.missed_heartbeats)
        menus = facets(session)
    views = saved_views(request, who.username)
    db_ms = (time.perf_counter() - started) * 1000
    regions: dict[str, list] = {}
    for group in page.groups:
        regions.setdefault(group.region, []).append(group)
    command_names = [n.value for n in CommandName if n is not CommandName.APPLY_CONFIG]
    response = _render(request, "kiosks.html", who, page=page, q=page.query, menus=menus, regions=regions,
                       columns=COLUMNS, per_page_options=PER_PAGE, problems=problems, error=error, saved=saved,
                       saved_views=views, no_site=NO_SITE, command_names=command_names, actions=ACTIONS,
                       arg_examples={n: json.dumps(_example_args(CommandName(n))) for n in command_names},
                       settings_fields=config_form.form_fields(), max_bulk=MAX_BULK,
                       query_string=urlencode(page.query.params()))
    total_ms, cpu_ms = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu_started) * 1000
    response.headers["Server-Timing"] = (f"db;dur={db_ms:.1f}, render;dur={total_ms - db_ms:.1f}, total;dur={total_ms:.1f}, "
                                         f"cpu;dur={cpu_ms:.1f}")
    return response


def _selection(request: Request, kiosks: list[str], all_matching: str, query_string: str) -> list[str]:
    if not all_matching:
        return kiosks
    server = server_of(request)
    query, _ = KioskQuery.from_params(dict(parse_qsl(query_string)))
    with server.db.session() as session:
        ids = matching_ids(session, query, server.settings.default_heartbeat_s, server.settings.missed_heartbeats,
                           MAX_BULK)
    if len(ids) > MAX_BULK:
        raise ValueError(f"the filter matches more than {MAX_BULK} kiosks; narrow it (or use a rollout for the whole fleet)")
    return ids


def _bulk_request(action: str, kiosks: list[str], command: str, args: str, ttl_s: float, settings: str,
                  label: str, setting: str = "", value: str = "") -> BulkRequest:
    """The form's fields as a checked BulkRequest (ValueError with a plain message otherwise)."""
    if not kiosks:
        raise ValueError("select at least one kiosk (tick its box, or 'all matching the filter')")
    data: dict = {"action": action, "kiosks": kiosks, "ttl_s": ttl_s}
    try:
        if action == "command":
            data.update(command=command, args=json.loads(args) if args.strip() else {})
        elif action == "config":
            data["settings"] = json.loads(settings) if settings.strip() else _one_setting(setting, value)
        else:
            data["label"] = label.strip() or None
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    try:
        return BulkRequest.model_validate(data)
    except ValidationError as exc:
        raise ValueError(first_error(exc)) from None


def _one_setting(name: str, value: str) -> dict:
    """The setting chosen in the bulk form's menu, its value typed as the schema says."""
    fields = {f.name: f for f in config_form.form_fields()}
    if name not in fields:
        return {}
    values, errors = config_form.read_form({fields[name].input_name: value}, [fields[name]])
    if errors:
        raise ValueError(f"{name}: {errors[name]}")
    return values


@router.post("/kiosks/bulk", response_class=HTMLResponse)
def bulk_review(request: Request, csrf: Annotated[str, Form()], action: Annotated[str, Form()],
                kiosk: Annotated[list[str], Form()] = [], all_matching: Annotated[str, Form()] = "",  # noqa: B006
                query: Annotated[str, Form()] = "", command: Annotated[str, Form()] = "",
                args: Annotated[str, Form()] = "", ttl_s: Annotated[float, Form()] = 300.0,
                settings: Annotated[str, Form()] = "", label: Annotated[str, Form()] = "",
                setting: Annotated[str, Form()] = "", value: Annotated[str, Form()] = "") -> Response:
    """Step 1: what would happen, to which kiosks; nothing is done yet."""
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    try:
        body = _bulk_request(action, _selection(request, kiosk, all_matching, query), command, args, ttl_s,
                             settings, label, setting, value)
    except ValueError as exc:
        return RedirectResponse(f"/console/?{query}{'&' if query else ''}error={quote(str(exc))}", status_code=303)
    return _render(request, "kiosks_bulk.html", who, body=body, actions=ACTIONS, query=query,
                   payload=body.model_dump_json(), result=None)


@router.post("/kiosks/bulk/confirm", response_class=HTMLResponse)
def bulk_confirm(request: Request, csrf: Annotated[str, Form()], payload: Annotated[str, Form()],
                 query: Annotated[str, Form()] = "") -> HTMLResponse:
    """Step 2: the operator confirmed; do it and show the outcome per kiosk."""
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    try:
        body = BulkRequest.model_validate_json(payload)
    except ValidationError as exc:
        raise HTTPException(422, f"bad bulk action: {first_error(exc)}") from None
    result = run_bulk(server_of(request), who.username, body, source_of(request))
    return _render(request, "kiosks_bulk.html", who, body=body, actions=ACTIONS, query=query, payload="",
                   result=result)


@router.post("/views")
def save_view_form(request: Request, csrf: Annotated[str, Form()], name: Annotated[str, Form()],
                   query: Annotated[str, Form()] = "") -> Response:
    who = _who(request)
    _check_csrf(who, csrf)
    try:
        view = save_view(request, who.username, SavedViewRequest(name=name.strip(), query=query))
    except (ValidationError, ValueError) as exc:
        return RedirectResponse(f"/console/?{query}{'&' if query else ''}error={quote(first_error(exc))}", status_code=303)
    except HTTPException as exc:
        return RedirectResponse(f"/console/?{query}{'&' if query else ''}error={quote(str(exc.detail))}", status_code=303)
    return RedirectResponse(f"/console/?{view.query}{'&' if view.query else ''}saved={quote(view.name)}", status_code=303)


@router.post("/views/{view_id}/delete")
def delete_view_form(request: Request, view_id: int, csrf: Annotated[str, Form()]) -> Response:
    who = _who(request)
    _check_csrf(who, csrf)
    delete_view(request, who.username, view_id)
    return RedirectResponse("/console/", status_code=303)


@router.post("/kiosks/{kiosk_id}/site")
def site_form(request: Request, kiosk_id: str, csrf: Annotated[str, Form()], name: Annotated[str, Form()] = "",
              hall: Annotated[str, Form()] = "", district: Annotated[str, Form()] = "",
              region: Annotated[str, Form()] = "") -> Response:
    """Where the kiosk stands (what the list searches and groups by); operators, audited."""
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    target = f"/console/kiosks/{quote(kiosk_id)}"
    try:
        save_site(request, who.username, kiosk_id, SiteRequest(name=name.strip(), hall=hall.strip(),
                                                               district=district.strip(), region=region.strip()))
    except ValidationError as exc:
        return RedirectResponse(f"{target}?error={quote('site: ' + first_error(exc))}", status_code=303)
    return RedirectResponse(target, status_code=303)
