"""Operators, passwords, login sessions and roles.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile). A login gives a random token; the server stores only its SHA-256,
so a copied database cannot be used to log in. The same token works as a bearer token
(API, CLI) and as the console's session cookie.

Roles are ordered: a viewer reads; an operator also sends commands, pushes
configuration and acknowledges alerts; an admin also manages operators.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from fleet.server.db import Database
from fleet.server.models import LoginSession, Operator, utcnow

SESSION_LIFETIME = dt.timedelta(hours=12)
_hasher = PasswordHasher()
# A hash of a random password, verified when the user does not exist, so a wrong
# username costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(str, Enum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return {"viewer": 0, "operator": 1, "admin": 2}[self.value]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """The console's per-session form token (a keyed digest of the session token)."""
    return hmac.new(session_token.encode(), b"fleet-console-csrf", hashlib.sha256).hexdigest()[:32]


class Auth:
    """Operator accounts and sessions in the fleet database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_operator(self, username: str, password: str, role: Role | str) -> None:
        role = Role(role)
        if not username or len(username) > 64:
            raise ValueError("username must be 1-64 characters")
        if len(password) < 8:
            raise ValueError("password must have at least 8 characters")
        with self.db.session() as s:
            if s.get(Operator, username) is not None:
                raise ValueError(f"operator {username!r} exists")
            s.add(Operator(username=username, password_hash=hash_password(password), role=role.value))

    def ensure_admin(self, username: str, password: str) -> bool:
        """Create the first admin if there is no operator yet; True if created."""
        with self.db.session() as s:
            if s.scalar(select(Operator.username).limit(1)) is not None:
                return False
        self.create_operator(username, password, Role.admin)
        return True

    def operators(self) -> list[Operator]:
        with self.db.session() as s:
            return list(s.scalars(select(Operator).order_by(Operator.username)))

    def login(self, username: str, password: str) -> tuple[str, Operator] | None:
        """A new session token for correct credentials, else None (same cost either way)."""
        with self.db.session() as s:
            operator = s.get(Operator, username)
            try:
                _hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return None
            if operator is None or operator.disabled:
                return None
            if _hasher.check_needs_rehash(operator.password_hash):
                operator.password_hash = hash_password(password)
            token = secrets.token_urlsafe(32)
            now = utcnow()
            s.add(LoginSession(token_sha256=_token_digest(token), username=username, created_at=now,
                               expires_at=now + SESSION_LIFETIME))
            s.execute(delete(LoginSession).where(LoginSession.expires_at < now))
            return token, operator

    def operator_for(self, token: str) -> Operator | None:
        """The operator a live session token belongs to."""
        with self.db.session() as s:
            session = s.get(LoginSession, _token_digest(token))
            if session is None or session.expires_at < utcnow():
                return None
            operator = s.get(Operator, session.username)
            return None if operator is None or operator.disabled else operator

    def logout(self, token: str) -> None:
        with self.db.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.token_sha256 == _token_digest(token)))
