"""Login throttling and lockout, for the console and the API alike (both log in through
`api.do_login`).

`max_failures` failed logins within `window_s` — counted per username and, separately,
per client address (so one address cannot spray many usernames either) — lock that
username / address for `lockout_s`. While locked, no password is even checked (no
Argon2 cost to an attacker's benefit, no oracle), and every refused attempt is audited
as `login_locked`. A successful login clears the username's failures.

The counters live in the `login_throttle` table, so a restart forgets nothing and
several server processes behind one load balancer share them. The window is fixed
(it starts at the first failure), one row per key. Each change is one short transaction
whose first statement writes the row, so two processes counting the same key at once
are serialized by the row lock (PostgreSQL) or the write lock (SQLite) and no failure
is lost. Times are the database rows' UTC wall clock (`clock` for tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from fleet.server.db import Database
from fleet.server.models import LoginThrottleState, utcnow


class LoginThrottle:
    def __init__(self, db: Database, max_failures: int = 5, window_s: float = 900.0, lockout_s: float = 900.0,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.max_failures, self.window_s, self.lockout_s = max_failures, window_s, lockout_s
        self.clock = clock

    @staticmethod
    def _keys(username: str, source: str) -> tuple[str, ...]:
        return (f"user:{username}"[:200],) + ((f"addr:{source}"[:200],) if source else ())

    def locked(self, username: str, source: str = "") -> bool:
        now = self.clock()
        with self.db.session() as s:
            return s.scalar(select(LoginThrottleState.key).where(
                LoginThrottleState.key.in_(self._keys(username, source)),
                LoginThrottleState.locked_until > now).limit(1)) is not None

    def failed(self, username: str, source: str = "") -> bool:
        """Count a failure; True if it locked the username or the address now."""
        return any([self._count(key) for key in self._keys(username, source)])

    def _count(self, key: str) -> bool:
        now = self.clock()
        window_start = now - dt.timedelta(seconds=self.window_s)
        for _ in range(3):  # a concurrent first insert of the same key: count again
            try:
                with self.db.session() as s:
                    # the write comes first: it takes the lock before the row is read
                    s.execute(update(LoginThrottleState).where(LoginThrottleState.key == key,
                                                               LoginThrottleState.window_start < window_start)
                              .values(failures=0, window_start=now))
                    changed = s.execute(update(LoginThrottleState).where(LoginThrottleState.key == key)
                                        .values(failures=LoginThrottleState.failures + 1)).rowcount
                    if not changed:
                        s.add(LoginThrottleState(key=key, failures=1, window_start=now))
                        s.flush()
                    row = s.get(LoginThrottleState, key, populate_existing=True)
                    if row.failures >= self.max_failures:
                        row.failures, row.window_start = 0, now
                        row.locked_until = now + dt.timedelta(seconds=self.lockout_s)
                        return True
                    return False
            except IntegrityError:
                continue
        return False

    def succeeded(self, username: str) -> None:
        """Clear the username's failures, and forget keys whose window and lockout are over."""
        with self.db.session() as s:  # (a locked username never gets here: no password is checked)
            s.execute(delete(LoginThrottleState).where(LoginThrottleState.key == f"user:{username}"[:200]))
        self.prune()

    def prune(self) -> int:
        """Forget rows whose window and lockout are both over (keeps the table small)."""
        now = self.clock()
        with self.db.session() as s:
            return s.execute(delete(LoginThrottleState).where(
                LoginThrottleState.window_start < now - dt.timedelta(seconds=self.window_s),
                (LoginThrottleState.locked_until.is_(None)) | (LoginThrottleState.locked_until < now))).rowcount
