"""Login throttling and lockout, for the console and the API alike (both log in through
`api.do_login`).

`max_failures` failed logins within `window_s` — counted per username and, separately,
per client address (so one address cannot spray many usernames either) — lock that
username / address for `lockout_s`. While locked, no password is even checked (no
Argon2 cost to an attacker's benefit, no oracle), and every refused attempt is audited
as `login_locked`. A successful login clears the username's failures. In memory: a
restart forgets the counters (the audit log keeps what happened).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window_s: float = 900.0, lockout_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.lockout_s = max_failures, window_s, lockout_s
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, source: str) -> tuple[str, ...]:
        return (f"user:{username}",) + ((f"addr:{source}",) if source else ())

    def locked(self, username: str, source: str = "") -> bool:
        now = self.clock()
        with self._lock:
            return any(self._locked_until.get(key, 0.0) > now for key in self._keys(username, source))

    def failed(self, username: str, source: str = "") -> bool:
        """Count a failure; True if it locked the username or the address now."""
        now = self.clock()
        locked = False
        with self._lock:
            for key in self._keys(username, source):
                recent = [t for t in self._failures.get(key, []) if now - t < self.window_s] + [now]
                self._failures[key] = recent
                if len(recent) >= self.max_failures:
                    self._locked_until[key] = now + self.lockout_s
                    self._failures[key] = []
                    locked = True
        return locked

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username}", None)
