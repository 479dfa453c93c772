"""The crash-safe journal: one SQLite row per unfinished session.

Why each setting:
- WAL + `synchronous=FULL`: a commit is on disk (fsync of the WAL) before `save()`
  returns, so the engine can write the state after a step and only then start the next
  one, whose first act may be irreversible (a submission, a payment).
- Personal fields of the flow's state (marked with `Personal[...]` or
  `Field(json_schema_extra={"personal": True})`) are JSON-serialised together and sealed
  as ONE AES-GCM blob per row, with the session id as associated data (a blob copied to
  another row does not decrypt). Neither the DB file nor the WAL ever holds them in clear.
- `secure_delete=ON`, then DELETE, then `wal_checkpoint(TRUNCATE)`: freed cells are
  zeroed in the database pages, the zeroed pages are copied back from the WAL, and the
  WAL (which holds older page images with the ciphertext) is truncated to 0 bytes.
- Sessions older than `max_age_s` (last write) are wiped whenever the journal is asked
  for a resumable one: a citizen who walked away long ago is not offered someone's errand.
  So are sessions "from the future" (the wall clock stepped back): their age is unknown.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import time
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.errors import JournalCorrupt, JournalError, JournalFull
from flows.keystore import FileKeyStore, KeyStore, derive_key

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S", bound=BaseModel)


class _PersonalMarker:
    """Annotation metadata: this field is personal data and is journaled encrypted."""

    def __repr__(self) -> str:
        return "PERSONAL"


PERSONAL = _PersonalMarker()
Personal = Annotated[T, PERSONAL]  # Personal[str], Personal[IdCard | None] ...

_BLOB_VERSION = b"\x01"
_NONCE_BYTES = 12
DB_NAME = "journal.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id   TEXT PRIMARY KEY,
    flow         TEXT NOT NULL,
    flow_version INTEGER NOT NULL,
    step         TEXT NOT NULL,
    history      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    public_state TEXT NOT NULL,
    personal     BLOB,
    meta         TEXT NOT NULL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
)
"""


@cache
def personal_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of the fields of `model` marked personal (top level only)."""
    names = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if any(m is PERSONAL for m in info.metadata) or (isinstance(extra, dict) and extra.get("personal") is True):
            names.add(name)
    return frozenset(names)


class SessionRecord(BaseModel):
    """One journaled session as read back (personal part decrypted, kept out of repr)."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    flow: str
    flow_version: int
    step: str  # the step to run next
    history: tuple[str, ...]
    seq: int  # how many times the row was written
    meta: dict[str, Any]
    created_at: float
    updated_at: float
    public: dict[str, Any]
    personal: dict[str, Any] = Field(repr=False)

    def state(self, model: type[S]) -> S:
        return model.model_validate({**self.public, **self.personal})


class Journal:
    """The journal of one kiosk's state directory. Not thread-safe: one event loop uses it."""

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        keystore: KeyStore | None = None,
        *,
        max_age_s: float = 600.0,
        wall: Callable[[], float] = time.time,
    ):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.keystore = keystore if keystore is not None else FileKeyStore(self.state_dir / "keys" / "journal.key")
        self.max_age_s = max_age_s
        self._wall = wall
        master = self.keystore.master_key()
        self._aead = AESGCM(derive_key(master, "journal-aead-v1"))
        self._idem_key = derive_key(master, "idempotency-v1")
        self.db_path = self.state_dir / DB_NAME
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite keeps the mode for -wal/-shm
        try:
            self._db = sqlite3.connect(self.db_path, isolation_level=None)  # autocommit; explicit transactions
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as e:
            raise JournalError(f"cannot open the journal: {type(e).__name__}") from None

    @property
    def wal_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + "-wal")

    # -- writing ---------------------------------------------------------------------------

    def save(
        self,
        session_id: str,
        flow: str,
        flow_version: int,
        step: str,
        history: list[str] | tuple[str, ...],
        state: BaseModel,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Write (insert or replace) the session's row; durable when this returns. Returns seq."""
        personal = personal_fields(type(state))
        public_json = state.model_dump_json(exclude=set(personal))
        blob = self._seal(session_id, state.model_dump_json(include=set(personal))) if personal else None
        now = self._wall()
        try:
            with self._tx():
                row = self._db.execute("SELECT seq FROM sessions WHERE session_id=?", (session_id,)).fetchone()
                seq = (row[0] + 1) if row else 0
                self._db.execute(
                    """INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT(session_id) DO UPDATE SET flow=excluded.flow, flow_version=excluded.flow_version,
                       step=excluded.step, history=excluded.history, seq=excluded.seq,
                       public_state=excluded.public_state, personal=excluded.personal, meta=excluded.meta,
                       updated_at=excluded.updated_at""",
                    (session_id, flow, flow_version, step, json.dumps(list(history)), seq, public_json, blob,
                     json.dumps(meta or {}), now, now),
                )
        except sqlite3.Error as e:
            raise _write_error(e) from None
        return seq

    def wipe(self, session_id: str) -> None:
        """Delete the session and leave none of its bytes in the DB file or the WAL."""
        self._delete("DELETE FROM sessions WHERE session_id=?", (session_id,))

    def wipe_expired(self) -> int:
        """Wipe every session whose last write is older than `max_age_s`; returns how many.

        A row written more than `max_age_s` "in the future" is wiped too: the clock has
        stepped back (no RTC battery after a power cut, an NTP correction), so its age cannot
        be told, and an errand of unknown age is not offered to whoever stands at the kiosk.
        """
        now = self._wall()
        where, bounds = "updated_at < ? OR updated_at > ?", (now - self.max_age_s, now + self.max_age_s)
        n = self._db.execute(f"SELECT COUNT(*) FROM sessions WHERE {where}", bounds).fetchone()[0]
        if n:
            self._delete(f"DELETE FROM sessions WHERE {where}", bounds)
            log.info("journal: wiped %d expired session(s)", n)
        return n

    def wipe_all(self) -> None:
        self._delete("DELETE FROM sessions", ())

    # -- reading ---------------------------------------------------------------------------

    def load(self, session_id: str) -> SessionRecord | None:
        row = self._db.execute("SELECT * FROM sessions WHERE session_id=?", (session_id,)).fetchone()
        return self._record(row) if row else None

    def find_resumable(self, flow: str, flow_version: int | None = None) -> SessionRecord | None:
        """The newest unfinished session of `flow` young enough to offer; expired ones are wiped first.

        A session of another flow version is wiped too: its state may not fit the steps.
        """
        self.wipe_expired()
        rows = self._db.execute(
            "SELECT * FROM sessions WHERE flow=? ORDER BY updated_at DESC", (flow,)
        ).fetchall()
        for row in rows:
            if flow_version is not None and row[2] != flow_version:
                self.wipe(row[0])
                continue
            try:
                return self._record(row)
            except JournalCorrupt:
                log.warning("journal: wiping a session that does not decrypt")
                self.wipe(row[0])
        return None

    def session_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT session_id FROM sessions ORDER BY updated_at")]

    # -- idempotency -----------------------------------------------------------------------

    def idempotency_key(self, session_id: str, step: str, purpose: str = "") -> str:
        """Same session + step + purpose -> same key, in any process, on any attempt."""
        return idempotency_key(self._idem_key, session_id, step, purpose)

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _tx(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, et, ev, tb):
                db.execute("COMMIT" if et is None else "ROLLBACK")
                return False

        return _Tx()

    def _delete(self, sql: str, args: tuple[Any, ...]) -> None:
        try:
            with self._tx():
                self._db.execute(sql, args)
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:  # another connection held a read lock: try once more
                time.sleep(0.01)
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            raise JournalError(f"journal wipe failed: {type(e).__name__}") from None

    def _seal(self, session_id: str, plaintext: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _BLOB_VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), session_id.encode())

    def _open(self, session_id: str, blob: bytes) -> dict[str, Any]:
        if not blob.startswith(_BLOB_VERSION) or len(blob) < 1 + _NONCE_BYTES + 16:
            raise JournalCorrupt("unknown blob format")
        nonce, ct = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return json.loads(self._aead.decrypt(nonce, ct, session_id.encode()))
        except (InvalidTag, ValueError):
            raise JournalCorrupt("personal data does not decrypt") from None

    def _record(self, row: tuple[Any, ...]) -> SessionRecord:
        sid, flow, version, step, history, seq, public, blob, meta, created, updated = row
        try:
            return SessionRecord(
                session_id=sid, flow=flow, flow_version=version, step=step, history=tuple(json.loads(history)),
                seq=seq, meta=json.loads(meta), created_at=created, updated_at=updated,
                public=json.loads(public), personal=self._open(sid, blob) if blob is not None else {},
            )
        except (ValueError, ValidationError):
            raise JournalCorrupt("journal row does not parse") from None


def idempotency_key(key: bytes, session_id: str, step: str, purpose: str = "") -> str:
    """HMAC-SHA256 over (session, step, purpose), hex, 32 chars: no attempt counter in it."""
    msg = "\x1f".join(("idem-v1", session_id, step, purpose)).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def _write_error(e: sqlite3.Error) -> JournalError:
    """A full disk is its own error (the kiosk stops taking sessions until space returns)."""
    if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(e):
        return JournalFull("journal write failed: the disk is full")
    return JournalError(f"journal write failed: {type(e).__name__}")
