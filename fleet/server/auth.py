"""Operators, passwords, login sessions and roles.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile). A login gives a random token; the server stores only its SHA-256,
so a copied database cannot be used to log in. The same token works as a bearer token
(API, CLI) and as the console's session cookie.

Roles are ordered: a viewer reads; an operator also sends commands, pushes
configuration and acknowledges alerts; an admin also manages operators.

Every request looks its credential up in the database, so revoking a session or an API
token (`revoked_at`) takes effect at the next request, in every server process. A
password change revokes the operator's other sessions. API tokens (fleet/server/tokens.py)
are the second kind of credential `principal_for` accepts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from fleet.server.db import Database
from fleet.server.models import ApiToken, LoginSession, Operator, utcnow

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


def check_password(password: str) -> None:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")


@dataclass(frozen=True)
class Credential:
    """Who a request's token belongs to: a login session or an API token, and the role it
    carries (a token's own role, never more than its owner's current role)."""

    username: str
    role: Role
    kind: str  # session | token
    credential_id: str  # session_id or token_id


def token_digest(token: str) -> str:
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
        check_password(password)
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

    def login(self, username: str, password: str, source: str = "") -> tuple[str, Operator] | None:
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
            s.add(LoginSession(token_sha256=token_digest(token), username=username, created_at=now,
                               expires_at=now + SESSION_LIFETIME, source=source[:64]))
            s.execute(delete(LoginSession).where(LoginSession.expires_at < now))
            return token, operator

    def principal_for(self, token: str) -> Credential | None:
        """The live credential a token is: a session (not expired, not revoked) or an API
        token (the same), of an operator who is not disabled."""
        digest = token_digest(token)
        now = utcnow()
        with self.db.session() as s:
            row: LoginSession | ApiToken | None = s.get(LoginSession, digest)
            if row is None:
                row = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
            if row is None or row.revoked_at is not None or row.expires_at < now:
                return None
            operator = s.get(Operator, row.username)
            if operator is None or operator.disabled:
                return None
            if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
                row.last_used_at = now  # at most one write a minute per credential
            if isinstance(row, ApiToken):
                role = min(Role(row.role), Role(operator.role), key=lambda r: r.rank)
                return Credential(operator.username, role, "token", row.token_id)
            return Credential(operator.username, Role(operator.role), "session", row.session_id)

    def logout(self, token: str) -> None:
        with self.db.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.token_sha256 == token_digest(token)))

    # ------------------------------------------------------------ sessions

    def sessions(self, username: str | None = None, *, include_ended: bool = False) -> list[LoginSession]:
        """Login sessions, newest first: one operator's, or everyone's (None)."""
        query = select(LoginSession).order_by(LoginSession.created_at.desc())
        if username is not None:
            query = query.where(LoginSession.username == username)
        if not include_ended:
            query = query.where(LoginSession.revoked_at.is_(None), LoginSession.expires_at > utcnow())
        with self.db.session() as s:
            return list(s.scalars(query))

    def revoke_session(self, session_id: str, by: str, *, owner: str | None = None) -> LoginSession:
        """Revoke one session (only `owner`'s when given); LookupError if there is none."""
        with self.db.session() as s:
            row = s.scalar(select(LoginSession).where(LoginSession.session_id == session_id))
            if row is None or (owner is not None and row.username != owner):
                raise LookupError(f"no session {session_id}")
            if row.revoked_at is None:
                row.revoked_at, row.revoked_by = utcnow(), by
            return row

    def revoke_sessions_of(self, username: str, by: str, *, keep: str | None = None) -> int:
        """Revoke every live session of `username` except the one `keep` names; how many."""
        query = update(LoginSession).where(LoginSession.username == username, LoginSession.revoked_at.is_(None))
        if keep is not None:
            query = query.where(LoginSession.session_id != keep)
        with self.db.session() as s:
            return s.execute(query.values(revoked_at=utcnow(), revoked_by=by)).rowcount

    def set_password(self, username: str, new_password: str, by: str, *, current_password: str | None = None,
                     keep_session: str | None = None) -> int:
        """Change a password (checking `current_password` when given) and revoke the
        operator's other sessions; the number revoked. ValueError if refused."""
        check_password(new_password)
        with self.db.session() as s:
            operator = s.get(Operator, username)
            if operator is None:
                raise LookupError(f"no operator {username!r}")
            if current_password is not None:
                try:
                    _hasher.verify(operator.password_hash, current_password)
                except (VerificationError, InvalidHashError):
                    raise ValueError("the current password is wrong") from None
            operator.password_hash = hash_password(new_password)
        return self.revoke_sessions_of(username, by, keep=keep_session)


LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
