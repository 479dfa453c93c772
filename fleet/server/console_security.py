"""Console page "Security": my login sessions and API tokens (an admin: everyone's),
revoking them, creating a token (shown once, on the page that answers the form, never
in a URL) and changing my password. The operations are the API's (api_security); this
module only renders and answers forms, in its own router so console.py stays small."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from fleet.server.api_security import (
    PasswordChange,
    TokenRequest,
    change_password,
    create_token,
    list_sessions,
    list_tokens,
    revoke_session,
    revoke_token,
)
from fleet.server.auth import Role
from fleet.server.console import _check_csrf, _render, _who

router = APIRouter(prefix="/console", include_in_schema=False)


def _page(request: Request, who, *, everyone: bool, created=None, message: str = "", error: str = "") -> HTMLResponse:
    everyone = everyone and who.role.allows(Role.admin)
    return _render(request, "security.html", who, everyone=everyone, created=created, message=message, error=error,
                   sessions=list_sessions(request, who, everyone), tokens=list_tokens(request, who, everyone),
                   roles=[r.value for r in Role if who.role.allows(r)])


def _back(everyone: bool = False, **query: str) -> RedirectResponse:
    qs = "&".join(f"{k}={quote(v)}" for k, v in query.items() if v)
    params = "&".join(p for p in ("all=true" if everyone else "", qs) if p)
    return RedirectResponse(f"/console/security{'?' + params if params else ''}", status_code=303)


@router.get("/security", response_class=HTMLResponse)
def security_page(request: Request, all: bool = False, message: str = "", error: str = "") -> HTMLResponse:
    return _page(request, _who(request), everyone=all, message=message, error=error)


def _revoke_form(request: Request, kind: str, credential_id: str, csrf: str, everyone: bool) -> Response:
    who = _who(request)
    _check_csrf(who, csrf)
    try:
        (revoke_session if kind == "session" else revoke_token)(request, who, credential_id)
    except HTTPException as exc:
        return _back(everyone, error=str(exc.detail))
    if kind == "session" and credential_id == who.credential_id:
        return RedirectResponse("/console/login", status_code=303)
    return _back(everyone, message=f"{kind} {credential_id} revoked")


@router.post("/sessions/{session_id}/revoke")
def revoke_session_form(request: Request, session_id: str, csrf: Annotated[str, Form()],
                        all: Annotated[bool, Form()] = False) -> Response:
    return _revoke_form(request, "session", session_id, csrf, all)


@router.post("/tokens", response_class=HTMLResponse)
def create_token_form(request: Request, csrf: Annotated[str, Form()], name: Annotated[str, Form()],
                      role: Annotated[str, Form()] = "viewer", days: Annotated[float, Form()] = 30.0) -> Response:
    who = _who(request)
    _check_csrf(who, csrf)
    try:
        created = create_token(request, who, TokenRequest(name=name, role=role, days=days))
    except HTTPException as exc:
        return _page(request, who, everyone=False, error=str(exc.detail))
    except ValidationError as exc:
        return _page(request, who, everyone=False, error=f"token: {exc.errors()[0]['msg']}")
    return _page(request, who, everyone=False, created=created)


@router.post("/tokens/{token_id}/revoke")
def revoke_token_form(request: Request, token_id: str, csrf: Annotated[str, Form()],
                      all: Annotated[bool, Form()] = False) -> Response:
    return _revoke_form(request, "token", token_id, csrf, all)


@router.post("/password")
def password_form(request: Request, csrf: Annotated[str, Form()], current_password: Annotated[str, Form()],
                  new_password: Annotated[str, Form()], repeat_password: Annotated[str, Form()],
                  revoke_tokens: Annotated[bool, Form()] = False) -> Response:
    who = _who(request)
    _check_csrf(who, csrf)
    if new_password != repeat_password:
        return _back(error="the new passwords differ")
    if len(new_password) < 8:
        return _back(error="the new password needs at least 8 characters")
    try:
        revoked = change_password(request, who, PasswordChange(current_password=current_password,
                                                               new_password=new_password, revoke_tokens=revoke_tokens))
    except HTTPException as exc:
        return _back(error=str(exc.detail))
    return _back(message=f"password changed; {revoked.sessions} other session(s) and {revoked.tokens} token(s) revoked")
