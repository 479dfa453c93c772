"""Console pages for updates: upload a signed bundle, plan and start a rollout with a
preview of its waves, watch it, and pause / resume / approve / abort / roll back it.

Everything goes through the same code as the REST API: the upload through
`ArtifactStore.receive_stream` + `accept` (the bundle's signature and every file hash
checked with `fleet.bundle`, as a kiosk would), rollouts through `RolloutEngine`, the
way back through `rollout_rollback`. Roles are the API's: a viewer sees everything and
changes nothing (a refused POST is audited by `console._who`); an operator acts.

Each action is two steps: the rollout page links to a confirmation page that says what
the action will do to how many kiosks; only its form (POST with the CSRF token and
``confirm=yes``) acts. Both steps work without JavaScript, from the keyboard.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fleet.server import charts
from fleet.server.api import create_rollout, rollout_action, server_of, source_of
from fleet.server.artifacts import ArtifactConflict, ArtifactRefused, artifact_view
from fleet.server.auth import Role
from fleet.server.console import _check_csrf, _render, _who
from fleet.server.models import utcnow
from fleet.server.reason_text import plain
from fleet.server.rollout_engine import RolloutConflict, RolloutDetail, RolloutNotFound, rollout_detail, rollout_list
from fleet.server.rollout_form import RolloutForm, label_choices, preview
from fleet.server.rollout_rollback import RollbackRefused, plan_rollback, roll_back
from fleet.server.rollouts import FAILURE, SUCCESS, UNTARGETED, KioskState

router = APIRouter(prefix="/console", include_in_schema=False)

ACTIONS = {  # action: (button, what it does, engine action)
    "pause": ("Pause", "No further kiosk is asked and no wave advances. Kiosks already asked carry on; the abort "
              "threshold and deadlines still apply.", "pause"),
    "resume": ("Resume", "The rollout continues where it stood; the next wave may start at once.", "resume"),
    "approve": ("Approve the next wave", "The wave waiting for an approval starts: its kiosks are asked now.", "approve"),
    "abort": ("Abort", "Stops for good: kiosks not yet asked are never asked, and those asked but not started have "
              "their update withdrawn. Kiosks already installing finish or roll back by themselves.", "cancel"),
    "rollback": ("Roll back", "Every kiosk that installed this version goes back to the version it ran before, "
                 "in a new rollout (a canary first). An active rollout is aborted first.", ""),
}
SHOWN = 200  # rows of the kiosk and failure tables on a rollout's page
STATE_COLOURS = (("committed", "#2ca02c"), ("failed", "#d62728"), ("in progress", "#1f77b4"),
                 ("not asked", "#cccccc"))


# ------------------------------------------------------------------ list and upload


@router.get("/rollouts", response_class=HTMLResponse)
def rollouts_page(request: Request, uploaded: str = "") -> HTMLResponse:
    who = _who(request)
    return _rollouts(request, who, uploaded=uploaded)


def _rollouts(request: Request, who, *, uploaded: str = "", refused: dict | None = None,
              status_code: int = 200) -> HTMLResponse:
    server = server_of(request)
    with server.db.session() as session:
        rollouts = rollout_list(session, 200)
    artifacts = [artifact_view(a) for a in server.artifacts.list()]
    just = next((a for a in artifacts if a.artifact_id == uploaded), None)
    response = _render(request, "rollouts.html", who, rollouts=rollouts, artifacts=artifacts, uploaded=just,
                       refused=refused, trusted_keys=len(server.artifacts.trusted))
    response.status_code = status_code
    return response


@router.post("/artifacts")
async def upload_form(request: Request, csrf: Annotated[str, Form()],
                      bundle: Annotated[UploadFile, File()]) -> Response:
    """The bundle from a file input, checked like `POST /api/artifacts`; the result is shown."""
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    store = server_of(request).artifacts

    async def chunks():
        while chunk := await bundle.read(1 << 20):
            yield chunk

    try:
        tmp = await store.receive_stream(chunks())
        row = await run_in_threadpool(store.accept, tmp, operator=who.username, source=source_of(request))
    except ArtifactRefused as exc:
        refused = {"reason": exc.reason, "plain": plain(exc.reason) or "The bundle was refused.",
                   "detail": exc.detail, "filename": bundle.filename or ""}
        return _rollouts(request, who, refused=refused, status_code=422)
    except ArtifactConflict as exc:
        refused = {"reason": "conflict", "plain": str(exc), "detail": "", "filename": bundle.filename or ""}
        return _rollouts(request, who, refused=refused, status_code=409)
    return RedirectResponse(f"/console/rollouts?uploaded={quote(row.artifact_id)}#artifacts", status_code=303)


# ------------------------------------------------------------------ new rollout


def _new_page(request: Request, who, form: RolloutForm, *, check=None, error: str = "",
              status_code: int = 200) -> HTMLResponse:
    server = server_of(request)
    with server.db.session() as session:
        groups, tags = label_choices(session)
    artifacts = [artifact_view(a) for a in server.artifacts.list()]
    response = _render(request, "rollout_new.html", who, form=form, preview=check, artifacts=artifacts,
                       groups=groups, tags=tags, error=error)
    response.status_code = status_code
    return response


@router.get("/rollouts/new", response_class=HTMLResponse)
def new_rollout_page(request: Request) -> HTMLResponse:
    """The form; with ``preview=1`` (its Preview button, a GET) also the waves it would make."""
    who = _who(request, Role.operator)
    params = dict(request.query_params)
    if not params.get("preview"):
        form = RolloutForm.blank()
        form.values.update({k: v for k, v in params.items() if k in form.values})
        return _new_page(request, who, form)
    form = RolloutForm.parse(params)
    check = None
    if form.request is not None:
        with server_of(request).db.session() as session:
            check = preview(session, form.request)
    return _new_page(request, who, form, check=check, status_code=200 if form.request else 422)


@router.post("/rollouts")
async def create_form(request: Request) -> Response:
    who = _who(request, Role.operator)
    raw = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    _check_csrf(who, raw.get("csrf", ""))
    form = RolloutForm.parse(raw)
    if form.request is None:
        return _new_page(request, who, form, status_code=422)
    try:
        detail = await run_in_threadpool(create_rollout, request, who, form.request)
    except HTTPException as exc:
        with server_of(request).db.session() as session:
            check = preview(session, form.request)
        return _new_page(request, who, form, check=check, error=str(exc.detail), status_code=exc.status_code)
    return RedirectResponse(f"/console/rollouts/{quote(detail.rollout_id)}?started=1", status_code=303)


# ------------------------------------------------------------------ one rollout


def _detail(request: Request, rollout_id: str) -> RolloutDetail:
    try:
        with server_of(request).db.session() as session:
            return rollout_detail(session, rollout_id)
    except RolloutNotFound:
        raise HTTPException(404, f"no rollout {rollout_id}") from None


def wave_bars(r: RolloutDetail) -> charts.Markup:
    """Per wave: committed, failed, in progress and not yet asked, out of its size."""
    rows = []
    for s in r.stages:
        members = [KioskState(k.state) for k in r.kiosks if k.stage == s.index and k.state != KioskState.REMOVED.value]
        counts = (sum(1 for m in members if m in SUCCESS), sum(1 for m in members if m in FAILURE),
                  sum(1 for m in members if m not in SUCCESS | FAILURE | UNTARGETED | {KioskState.WITHDRAWN}),
                  sum(1 for m in members if m in UNTARGETED or m is KioskState.WITHDRAWN))
        rows.append((f"wave {s.index + 1} ({s.status})",
                     [charts.Part(label, colour, n) for (label, colour), n in zip(STATE_COLOURS, counts)]))
    top = max((s.size for s in r.stages), default=1)
    return charts.hbars(rows, label="progress of each wave", scale_max=max(top, 1))


def timeline_chart(r: RolloutDetail, now: dt.datetime) -> charts.Markup:
    """Committed and failed kiosks over time, with a marker where each wave started."""
    def steps(states: frozenset) -> list[tuple[float, float]]:
        times = sorted(k.finished_at.timestamp() for k in r.kiosks
                       if k.finished_at is not None and KioskState(k.state) in states)
        return [(t, i + 1) for i, t in enumerate(times)]

    asked = sorted(k.targeted_at.timestamp() for k in r.kiosks if k.targeted_at is not None)
    series = [charts.Series("asked", "#1f77b4", [(t, i + 1) for i, t in enumerate(asked)]),
              charts.Series("committed", "#2ca02c", steps(SUCCESS)),
              charts.Series("failed", "#d62728", steps(FAILURE))]
    markers = [(s.started_at, f"W{s.index + 1}") for s in r.stages if s.started_at is not None]
    end = r.finished_at or now
    return charts.timeline(series, r.created_at, end, y_max=max(r.total, 1), markers=markers,
                           label=f"rollout {r.rollout_id}: kiosks asked, committed and failed over time")


def available_actions(r: RolloutDetail) -> list[str]:
    actions = []
    if r.status in ("running", "waiting_approval"):
        actions.append("pause")
    if r.status == "paused":
        actions.append("resume")
    if r.status == "waiting_approval":
        actions.append("approve")
    if r.status in ("running", "waiting_approval", "paused"):
        actions.append("abort")
    if r.committed or any(k.current_version == r.version for k in r.kiosks):
        actions.append("rollback")
    return actions


@router.get("/rollouts/{rollout_id}", response_class=HTMLResponse)
def rollout_page(request: Request, rollout_id: str, error: str = "", done: str = "", started: str = "",
                 state: str = "") -> HTMLResponse:
    """One rollout; the kiosk and failure tables show at most `SHOWN` rows (a rollout may
    cover thousands of kiosks), the kiosk table optionally only one state."""
    who = _who(request)
    r = _detail(request, rollout_id)
    failures = [k for k in r.kiosks if KioskState(k.state) in FAILURE]
    listed = [k for k in r.kiosks if not state or k.state == state]
    states = sorted({k.state for k in r.kiosks})
    return _render(request, "rollout.html", who, r=r, error=error, done=done, started=started, plain=plain,
                   actions=available_actions(r), action_labels=ACTIONS, failures=failures[:SHOWN],
                   failures_total=len(failures), kiosks=listed[:SHOWN], kiosks_total=len(listed), state=state,
                   states=states, bars=wave_bars(r), timeline=timeline_chart(r, utcnow()))


@router.get("/rollouts/{rollout_id}/confirm/{action}", response_class=HTMLResponse)
def confirm_page(request: Request, rollout_id: str, action: str) -> HTMLResponse:
    if action not in ACTIONS:
        raise HTTPException(404)
    who = _who(request, Role.operator)
    r = _detail(request, rollout_id)
    plan, refusal = None, ""
    if action == "rollback":
        try:
            with server_of(request).db.session() as session:
                plan = plan_rollback(session, rollout_id)
        except RollbackRefused as exc:
            refusal = str(exc)
    allowed = action in available_actions(r) and not refusal
    return _render(request, "rollout_confirm.html", who, r=r, action=action, label=ACTIONS[action][0],
                   explain=ACTIONS[action][1], plan=plan, refusal=refusal, allowed=allowed,
                   asked=r.in_progress, not_asked=r.not_asked)


@router.post("/rollouts/{rollout_id}/{action}")
def action_form(request: Request, rollout_id: str, action: str, csrf: Annotated[str, Form()],
                confirm: Annotated[str, Form()] = "") -> Response:
    """Act only with ``confirm=yes`` (the confirmation page's button); else show that page."""
    if action == "cancel":
        action = "abort"  # the engine's and the API's name for it
    if action not in ACTIONS:
        raise HTTPException(404)
    who = _who(request, Role.operator)
    _check_csrf(who, csrf)
    target = f"/console/rollouts/{quote(rollout_id)}"
    if confirm != "yes":
        return RedirectResponse(f"{target}/confirm/{action}", status_code=303)
    try:
        if action == "rollback":
            created = roll_back(server_of(request).rollouts, rollout_id, operator=who.username,
                                source=source_of(request))
            return RedirectResponse(f"/console/rollouts/{quote(created[0])}?{urlencode({'done': 'rollback'})}",
                                    status_code=303)
        rollout_action(request, who, rollout_id, ACTIONS[action][2])
    except RolloutNotFound:
        raise HTTPException(404, f"no rollout {rollout_id}") from None
    except (RollbackRefused, RolloutConflict, LookupError, ValueError) as exc:
        return RedirectResponse(f"{target}?{urlencode({'error': str(exc).strip(chr(39))})}", status_code=303)
    except HTTPException as exc:
        if exc.status_code in (401, 403):
            raise
        return RedirectResponse(f"{target}?{urlencode({'error': str(exc.detail)})}", status_code=303)
    return RedirectResponse(f"{target}?{urlencode({'done': action})}", status_code=303)
