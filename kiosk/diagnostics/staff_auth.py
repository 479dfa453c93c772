"""Staff PIN for the diagnostics screen: scrypt-hashed, with a persisted lockout.

Why scrypt: the PIN is short, so the hash must be slow and memory-hard for whoever copies
the file off a stolen disk (hashlib.scrypt, RFC 7914; a fresh 16-byte salt per PIN; the
parameters are stored beside the hash so they can be raised later). The real defence of a
6-digit PIN on the screen is the lockout: after `max_failures` (5) wrong PINs in a row the
screen refuses every PIN, the right one too, for `lockout_s` (5 minutes). The count and the
lockout end are written to disk on every change, so restarting the app (or pulling the
plug) does not hand out five fresh attempts.

Files (in the kiosk's state directory, /var/lib/kiosk; mode 0600, written atomically):
- ``staff-pin.json``   {"scheme": "scrypt", "n", "r", "p", "salt", "hash"} (hex)
- ``staff-auth.json``  {"failures": int, "locked_until": epoch seconds or null}

Wall-clock time (not monotonic) because the lockout must survive a reboot; the clock is
injectable for tests. Set the PIN with ``python -m kiosk.diagnostics set-pin``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, Field

PIN_FILE = "staff-pin.json"
STATE_FILE = "staff-auth.json"
MIN_PIN_DIGITS = 6
MAX_PIN_DIGITS = 12


class ScryptParams(BaseModel):
    """Cost parameters. n=2^15, r=8 needs 32 MiB and ~0.1 s on a desktop core (OWASP's
    minimum is 2^17 for passwords; a PIN behind a lockout and a 0600 file is the threat
    model here, and the kiosk's Atom must answer a login within a second)."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * self.n * 2 + 1024 * 1024  # OpenSSL's 32 MiB default is just too small


class PinRecord(BaseModel):
    scheme: str = "scrypt"
    n: int
    r: int
    p: int
    salt: str  # hex
    hash: str  # hex, 32 bytes


class LockoutState(BaseModel):
    failures: int = Field(default=0, ge=0)
    locked_until: float | None = None


class AuthResult(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"  # refused without looking at the PIN
    NO_PIN = "no_pin"  # no PIN has been set on this kiosk


class AuthOutcome(BaseModel):
    result: AuthResult
    failures_left: int = 0
    locked_until: float | None = None
    just_locked: bool = False  # this attempt started the lockout

    @property
    def ok(self) -> bool:
        return self.result is AuthResult.OK


class InvalidPin(ValueError):
    pass


def check_pin_format(pin: str) -> None:
    if not (pin.isascii() and pin.isdigit() and MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS):
        raise InvalidPin(f"the PIN must be {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits")


def _hash(pin: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=params.n, r=params.r, p=params.p, maxmem=params.maxmem, dklen=32)


def _write_private(path: Path, data: str) -> None:
    """Atomically replace `path` with `data`, mode 0600, fsynced (a power cut leaves old or new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class StaffAuth:
    """Checks the staff PIN; counts failures; locks out; remembers across restarts."""

    def __init__(self, state_dir: Path | str, *, clock: Callable[[], float] = time.time, max_failures: int = 5,
                 lockout_s: float = 300.0, params: ScryptParams | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.params = params or ScryptParams()
        self._lock = threading.Lock()

    @property
    def pin_path(self) -> Path:
        return self.state_dir / PIN_FILE

    @property
    def state_path(self) -> Path:
        return self.state_dir / STATE_FILE

    # -- the PIN ----------------------------------------------------------------------------
    def has_pin(self) -> bool:
        return self.pin_path.exists()

    def set_pin(self, pin: str) -> None:
        """Store a new PIN (hashed) and clear any lockout."""
        check_pin_format(pin)
        salt = secrets.token_bytes(16)
        record = PinRecord(n=self.params.n, r=self.params.r, p=self.params.p, salt=salt.hex(),
                           hash=_hash(pin, salt, self.params).hex())
        with self._lock:
            _write_private(self.pin_path, record.model_dump_json())
            self._save(LockoutState())

    # -- checking -----------------------------------------------------------------------------
    def locked_until(self) -> float | None:
        """When the current lockout ends (epoch s), or None when not locked."""
        with self._lock:
            state = self._load()
            return state.locked_until if self._locked(state) else None

    def check(self, pin: str) -> AuthOutcome:
        """One login attempt. Blocking (scrypt): call it off the UI thread."""
        with self._lock:
            state = self._load()
            if self._locked(state):
                return AuthOutcome(result=AuthResult.LOCKED, locked_until=state.locked_until)
            if state.locked_until is not None:  # a lockout that has run out: five fresh attempts
                state = LockoutState()
            record = self._record()
            if record is None:
                return AuthOutcome(result=AuthResult.NO_PIN)
            params = ScryptParams(n=record.n, r=record.r, p=record.p)
            good = hmac.compare_digest(_hash(pin, bytes.fromhex(record.salt), params), bytes.fromhex(record.hash))
            if good:
                self._save(LockoutState())
                return AuthOutcome(result=AuthResult.OK, failures_left=self.max_failures)
            state.failures += 1
            if state.failures >= self.max_failures:
                state = LockoutState(failures=state.failures, locked_until=self.clock() + self.lockout_s)
                self._save(state)
                return AuthOutcome(result=AuthResult.LOCKED, locked_until=state.locked_until, just_locked=True)
            self._save(state)
            return AuthOutcome(result=AuthResult.WRONG, failures_left=self.max_failures - state.failures)

    # -- files ----------------------------------------------------------------------------------
    def _locked(self, state: LockoutState) -> bool:
        return state.locked_until is not None and self.clock() < state.locked_until

    def _record(self) -> PinRecord | None:
        try:
            return PinRecord.model_validate_json(self.pin_path.read_bytes())
        except FileNotFoundError:
            return None

    def _load(self) -> LockoutState:
        try:
            return LockoutState.model_validate_json(self.state_path.read_bytes())
        except FileNotFoundError:
            return LockoutState()
        except ValueError:
            # A damaged file must not unlock the screen: treat it as a fresh lockout.
            return LockoutState(failures=self.max_failures, locked_until=self.clock() + self.lockout_s)

    def _save(self, state: LockoutState) -> None:
        _write_private(self.state_path, state.model_dump_json())


def pin_file_summary(state_dir: Path | str) -> dict:
    """What `set-pin --show` prints: whether a PIN is set and its scheme, never the hash."""
    path = Path(state_dir) / PIN_FILE
    if not path.exists():
        return {"pin_set": False}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"pin_set": True, "scheme": data.get("scheme"), "n": data.get("n"), "r": data.get("r"), "p": data.get("p")}
