"""REST API for an operator's credentials: login sessions, API tokens, password.

Everyone manages their own sessions and tokens; an admin sees and revokes everyone's
(`?all=true`, or an id that is not theirs) and sets other operators' passwords. Creating
a token and changing a password need a login session, not a token (so a leaked token
cannot renew itself). Every change is audited: `session_revoke`, `token_create`,
`token_revoke`, `password_change`, `password_set`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from fleet.server import audit
from fleet.server.api import Admin, Principal, Viewer, server_of, source_of
from fleet.server.auth import Role
from fleet.server.models import ApiToken, LoginSession

router = APIRouter(prefix="/api", tags=["credentials"])


class SessionView(BaseModel):
    session_id: str
    username: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    source: str
    revoked_at: dt.datetime | None
    revoked_by: str | None
    current: bool = False


class TokenView(BaseModel):
    token_id: str
    name: str
    username: str
    role: Role
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None


class TokenCreated(TokenView):
    token: str  # shown this once; the server keeps only its SHA-256


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role = Role.viewer
    days: float = Field(default=30.0, ge=1 / 24, le=365.0, description="lifetime in days")


class PasswordChange(BaseModel):
    current_password: str
    new_password: str = Field(min_length=8)
    revoke_tokens: bool = False  # also revoke my API tokens


class PasswordSet(BaseModel):
    password: str = Field(min_length=8)


class Revoked(BaseModel):
    sessions: int
    tokens: int = 0


def session_view(row: LoginSession, who: Principal) -> SessionView:
    return SessionView.model_validate(row, from_attributes=True).model_copy(
        update={"current": who.kind == "session" and row.session_id == who.credential_id})


def token_view(row: ApiToken) -> TokenView:
    return TokenView.model_validate(row, from_attributes=True)


def _scope(who: Principal, everyone: bool) -> str | None:
    """The owner to filter on: the caller, or nobody for an admin asking for all."""
    if everyone and not who.role.allows(Role.admin):
        raise HTTPException(403, "only an admin sees everyone's")
    return None if everyone else who.username


def _needs_session(who: Principal) -> None:
    if who.kind != "session":
        raise HTTPException(403, "log in with a password for this (an API token cannot)")


def list_sessions(request: Request, who: Principal, everyone: bool = False, ended: bool = False) -> list[SessionView]:
    rows = server_of(request).auth.sessions(_scope(who, everyone), include_ended=ended)
    return [session_view(row, who) for row in rows]


def _revoke(request: Request, who: Principal, kind: str, credential_id: str):
    """Revoke a session or token (an admin: anyone's; else only the caller's) and audit it."""
    server = server_of(request)
    owner = None if who.role.allows(Role.admin) else who.username
    revoke = server.auth.revoke_session if kind == "session" else server.tokens.revoke
    try:
        row = revoke(credential_id, who.username, owner=owner)
    except LookupError:
        raise HTTPException(404, f"no {kind} {credential_id}") from None
    detail = {f"{kind}_id": credential_id} | ({"name": row.name} if kind == "token" else {})
    with server.db.session() as session:
        audit.record(session, who.username, f"{kind}_revoke", row.username, source=source_of(request), detail=detail)
    return row


def revoke_session(request: Request, who: Principal, session_id: str) -> SessionView:
    return session_view(_revoke(request, who, "session", session_id), who)


def create_token(request: Request, who: Principal, body: TokenRequest) -> TokenCreated:
    _needs_session(who)
    server = server_of(request)
    try:
        secret, row = server.tokens.create(who.username, body.name, body.role, body.days)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    with server.db.session() as session:
        audit.record(session, who.username, "token_create", who.username, source=source_of(request),
                     detail={"token_id": row.token_id, "name": row.name, "role": row.role,
                             "expires_at": row.expires_at.isoformat()})
    return TokenCreated(**token_view(row).model_dump(), token=secret)


def list_tokens(request: Request, who: Principal, everyone: bool = False, ended: bool = False) -> list[TokenView]:
    return [token_view(row) for row in server_of(request).tokens.list(_scope(who, everyone), include_ended=ended)]


def revoke_token(request: Request, who: Principal, token_id: str) -> TokenView:
    return token_view(_revoke(request, who, "token", token_id))


def change_password(request: Request, who: Principal, body: PasswordChange) -> Revoked:
    """The caller's own password; their other sessions (and tokens, if asked) are revoked."""
    _needs_session(who)
    server = server_of(request)
    try:
        sessions = server.auth.set_password(who.username, body.new_password, who.username,
                                            current_password=body.current_password, keep_session=who.credential_id)
    except ValueError as exc:
        with server.db.session() as session:
            audit.record(session, who.username, "password_change", who.username, outcome="denied",
                         source=source_of(request), detail={"reason": str(exc)})
        raise HTTPException(422, str(exc)) from None
    tokens = server.tokens.revoke_all_of(who.username, who.username) if body.revoke_tokens else 0
    with server.db.session() as session:
        audit.record(session, who.username, "password_change", who.username, source=source_of(request),
                     detail={"sessions_revoked": sessions, "tokens_revoked": tokens})
    return Revoked(sessions=sessions, tokens=tokens)


@router.get("/sessions", response_model=list[SessionView])
def get_sessions(request: Request, who: Viewer, all: bool = False,
                 ended: Annotated[bool, Query(description="include revoked and expired ones")] = False):
    """My live login sessions (an admin: everyone's with all=true)."""
    return list_sessions(request, who, all, ended)


@router.delete("/sessions/{session_id}", response_model=SessionView)
def delete_session(request: Request, session_id: str, who: Viewer) -> SessionView:
    """Revoke a session: its cookie or bearer token stops working at the next request."""
    return revoke_session(request, who, session_id)


@router.get("/tokens", response_model=list[TokenView])
def get_tokens(request: Request, who: Viewer, all: bool = False, ended: bool = False) -> list[TokenView]:
    return list_tokens(request, who, all, ended)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def post_token(request: Request, body: TokenRequest, who: Viewer) -> TokenCreated:
    """A new API token with a role up to mine and an expiry; the token is in this answer only."""
    return create_token(request, who, body)


@router.delete("/tokens/{token_id}", response_model=TokenView)
def delete_token(request: Request, token_id: str, who: Viewer) -> TokenView:
    return revoke_token(request, who, token_id)


@router.post("/me/password", response_model=Revoked)
def post_password(request: Request, body: PasswordChange, who: Viewer) -> Revoked:
    return change_password(request, who, body)


@router.put("/operators/{username}/password", response_model=Revoked)
def put_operator_password(request: Request, username: str, body: PasswordSet, who: Admin) -> Revoked:
    """An admin sets another operator's password; all their sessions and tokens are revoked."""
    server = server_of(request)
    keep = who.credential_id if username == who.username and who.kind == "session" else None
    try:
        sessions = server.auth.set_password(username, body.password, who.username, keep_session=keep)
    except LookupError:
        raise HTTPException(404, f"no operator {username}") from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    tokens = server.tokens.revoke_all_of(username, who.username) if username != who.username else 0
    with server.db.session() as session:
        audit.record(session, who.username, "password_set", username, source=source_of(request),
                     detail={"sessions_revoked": sessions, "tokens_revoked": tokens})
    return Revoked(sessions=sessions, tokens=tokens)
