"""API tokens: named, role-scoped, expiring credentials for scripts and integrations.

A token carries its own role, at most its owner's (and capped again at every request by
the owner's current role, so demoting an operator demotes their tokens). It expires
(1–365 days) and can be revoked at any time by its owner or an admin. The server keeps
only its SHA-256: the token is shown once, when it is created. Tokens start with `kft_`
so they are recognisable in a leak scan. They are sent as `Authorization: Bearer` only,
never as the console cookie, and cannot create tokens or change passwords (that needs a
login session), so a leaked token cannot make itself permanent.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select

from fleet.server.auth import Role, token_digest
from fleet.server.db import Database
from fleet.server.models import ApiToken, Operator, utcnow

PREFIX = "kft_"
MAX_DAYS = 365


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, username: str, name: str, role: Role | str, days: float) -> tuple[str, ApiToken]:
        """A new token (the secret, once) and its row; ValueError for a role above the
        owner's, a bad name or a lifetime outside 1 hour–365 days."""
        role = Role(role)
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("a token needs a name of 1-100 characters")
        if not 1 / 24 <= days <= MAX_DAYS:
            raise ValueError(f"a token lives between 1 hour and {MAX_DAYS} days")
        secret = PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.session() as s:
            owner = s.get(Operator, username)
            if owner is None or owner.disabled:
                raise ValueError(f"no active operator {username!r}")
            if not Role(owner.role).allows(role):
                raise ValueError(f"a {owner.role} cannot make a {role.value} token")
            row = ApiToken(token_sha256=token_digest(secret), username=username, name=name, role=role.value,
                           created_at=now, expires_at=now + dt.timedelta(days=days))
            s.add(row)
        return secret, row

    def list(self, username: str | None = None, *, include_ended: bool = False) -> list[ApiToken]:
        query = select(ApiToken).order_by(ApiToken.created_at.desc())
        if username is not None:
            query = query.where(ApiToken.username == username)
        if not include_ended:
            query = query.where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
        with self.db.session() as s:
            return list(s.scalars(query))

    def revoke(self, token_id: str, by: str, *, owner: str | None = None) -> ApiToken:
        """Revoke a token (only `owner`'s when given); LookupError if there is none."""
        with self.db.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None or (owner is not None and row.username != owner):
                raise LookupError(f"no token {token_id}")
            if row.revoked_at is None:
                row.revoked_at, row.revoked_by = utcnow(), by
            return row

    def revoke_all_of(self, username: str, by: str) -> int:
        revoked = 0
        for row in self.list(username):
            self.revoke(row.token_id, by)
            revoked += 1
        return revoked
