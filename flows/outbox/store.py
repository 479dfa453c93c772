"""The submission outbox: back-office writes waiting to be sent, inside the journal database.

Why it looks like this:
- Same file, same master key, same settings as the session journal (flows/journal.py):
  WAL + `synchronous=FULL`, so `enqueue()` is on disk when it returns; the request body
  (personal data: ID number, address, medical results) is ONE AES-GCM blob per row under
  a key derived from the journal's master key, with the idempotency key as associated data.
- Each write is stored with the idempotency key the flow derived for it. Enqueueing the
  same key again (a step re-run after a kill -9) returns the row already there: a write is
  queued once, and the back office answers a resend with its first answer, so a crash at
  any moment neither loses nor doubles a submission.
- A delivered row is deleted (`secure_delete`, zeroed cells) and the WAL is truncated
  once the queue is empty, as the journal does for a finished session. A row the back
  office refused for good (4xx) is *parked*: its body is wiped at once (nothing will ever
  send it again) and only its kind, reference, reason code and times stay for staff.
- Provisional references are issued here too (one counter row per idempotency key, in the
  same database), so a re-run step gets back the reference it was given the first time.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict

from flows.errors import JournalCorrupt, JournalError
from flows.keystore import FileKeyStore, KeyStore, derive_key
from flows.outbox.reference import make_reference

DB_NAME = "journal.sqlite3"  # flows.journal.DB_NAME: the outbox lives in the journal's database
_BLOB_VERSION = b"\x01"
_NONCE = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    lane            TEXT NOT NULL,
    reference       TEXT,
    payload         BLOB,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS provisional_refs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    reference       TEXT NOT NULL UNIQUE,
    created_at      REAL NOT NULL
);
"""

Status = Literal["pending", "parked"]


class OutboxItem(BaseModel):
    """One queued write as listed: no body, nothing personal."""

    model_config = ConfigDict(frozen=True)

    seq: int
    idempotency_key: str
    kind: str  # flows.outbox.writes kind, e.g. "renew_licence"
    lane: str  # the session it came from (random id): writes of one session go in order
    reference: str | None  # the provisional reference the citizen holds, if any
    status: Status
    attempts: int
    last_error: str  # an error code, never a message with data in it
    created_at: float
    updated_at: float


class OutboxStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    depth: int  # pending writes
    oldest_age_s: float  # age of the oldest pending write (0 when none)
    parked: int  # refused for good, waiting for staff


class OutboxStore:
    """The outbox of one kiosk state directory. Thread-safe (one lock around one connection)."""

    def __init__(
        self,
        state_dir: str | Path,
        keystore: KeyStore | None = None,
        *,
        kiosk_id: str = "kiosk",
        wall: Callable[[], float] = time.time,
    ):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.keystore = keystore if keystore is not None else FileKeyStore(self.state_dir / "keys" / "journal.key")
        self.kiosk_id = kiosk_id
        self._wall = wall
        self._aead = AESGCM(derive_key(self.keystore.master_key(), "outbox-aead-v1"))
        self.db_path = self.state_dir / DB_NAME
        if not self.db_path.exists():
            try:
                os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise JournalError(f"cannot open the outbox: {type(e).__name__}") from None

    # -- writing ---------------------------------------------------------------------------

    def enqueue(self, kind: str, body: BaseModel | dict[str, Any], idempotency_key: str, *, lane: str,
                reference: str | None = None) -> OutboxItem:
        """Queue a write durably; the same key again returns the row already queued."""
        data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        blob = self._seal(idempotency_key, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        now = self._wall()
        with self._write() as db:
            db.execute(
                "INSERT INTO outbox (idempotency_key, kind, lane, reference, payload, status, created_at, updated_at)"
                " VALUES (?,?,?,?,?,'pending',?,?) ON CONFLICT(idempotency_key) DO NOTHING",
                (idempotency_key, kind, lane, reference, blob, now, now),
            )
            row = db.execute(f"SELECT {_COLS} FROM outbox WHERE idempotency_key=?", (idempotency_key,)).fetchone()
        if row is None:  # delivered and deleted already: report it as done by the caller's resend
            raise JournalError("outbox row vanished while enqueueing")
        return _item(row)

    def issue_reference(self, idempotency_key: str) -> str:
        """The provisional reference for this key: a new one the first time, the same one after."""
        with self._write() as db:
            row = db.execute("SELECT reference FROM provisional_refs WHERE idempotency_key=?", (idempotency_key,)).fetchone()
            if row:
                return row[0]
            seq = (db.execute("SELECT COALESCE(MAX(seq), 0) FROM provisional_refs").fetchone()[0]) + 1
            ref = make_reference(self.kiosk_id, seq)
            db.execute("INSERT INTO provisional_refs (seq, idempotency_key, reference, created_at) VALUES (?,?,?,?)",
                       (seq, idempotency_key, ref, self._wall()))
        return ref

    def record_attempt(self, seq: int, error_code: str) -> None:
        with self._write(durable=False) as db:
            db.execute("UPDATE outbox SET attempts=attempts+1, last_error=?, updated_at=? WHERE seq=?",
                       (error_code[:64], self._wall(), seq))

    def delivered(self, seq: int) -> None:
        """The back office answered: the row (and its body) goes.

        Not fsync'd (synchronous=NORMAL for this commit): a delete lost in a power cut only
        means the write is sent once more and the back office answers it from its record.
        """
        with self._write(durable=False) as db:
            db.execute("DELETE FROM outbox WHERE seq=?", (seq,))

    def park(self, seq: int, error_code: str) -> None:
        """Refused for good: keep the row for staff and the fleet, wipe the body now."""
        with self._write() as db:
            db.execute("UPDATE outbox SET status='parked', payload=NULL, attempts=attempts+1, last_error=?,"
                       " updated_at=? WHERE seq=?", (error_code[:64], self._wall(), seq))
        self.truncate_wal()

    def discard(self, seq: int) -> bool:
        """Staff clear a parked row (the citizen was told by the back office's notice)."""
        with self._write() as db:
            n = db.execute("DELETE FROM outbox WHERE seq=? AND status='parked'", (seq,)).rowcount
        return bool(n)

    def truncate_wal(self) -> None:
        """Copy zeroed pages back and cut the WAL to 0 bytes (its old pages held ciphertext)."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass

    # -- reading ---------------------------------------------------------------------------

    def pending(self, limit: int = 100, after: int = 0) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLS} FROM outbox WHERE status='pending' AND seq>? ORDER BY seq LIMIT ?",
                                    (after, limit)).fetchall()
        return [_item(r) for r in rows]

    def items(self) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLS} FROM outbox ORDER BY seq").fetchall()
        return [_item(r) for r in rows]

    def get(self, seq: int) -> OutboxItem | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLS} FROM outbox WHERE seq=?", (seq,)).fetchone()
        return _item(row) if row else None

    def body(self, item: OutboxItem) -> dict[str, Any]:
        """The decrypted request body of a pending row (JournalCorrupt if it does not decrypt)."""
        with self._lock:
            row = self._db.execute("SELECT payload FROM outbox WHERE seq=?", (item.seq,)).fetchone()
        if row is None or row[0] is None:
            raise JournalCorrupt("the outbox row has no body")
        return self._open(item.idempotency_key, row[0])

    def stats(self) -> OutboxStats:
        with self._lock:
            depth, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status='pending'").fetchone()
            parked = self._db.execute("SELECT COUNT(*) FROM outbox WHERE status='parked'").fetchone()[0]
        age = max(0.0, self._wall() - oldest) if oldest is not None else 0.0
        return OutboxStats(depth=depth, oldest_age_s=round(age, 1), parked=parked)

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> "OutboxStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _write(self, durable: bool = True) -> "_Tx":
        return _Tx(self._db, self._lock, durable)

    def _seal(self, key: str, plaintext: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return _BLOB_VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), key.encode())

    def _open(self, key: str, blob: bytes) -> dict[str, Any]:
        if not blob.startswith(_BLOB_VERSION) or len(blob) < 1 + _NONCE + 16:
            raise JournalCorrupt("unknown outbox blob format")
        try:
            return json.loads(self._aead.decrypt(blob[1:1 + _NONCE], blob[1 + _NONCE:], key.encode()))
        except (InvalidTag, ValueError):
            raise JournalCorrupt("outbox body does not decrypt") from None


_COLS = "seq, idempotency_key, kind, lane, reference, status, attempts, last_error, created_at, updated_at"


def _item(row: tuple[Any, ...]) -> OutboxItem:
    return OutboxItem(**dict(zip([c.strip() for c in _COLS.split(",")], row)))


class _Tx:
    """BEGIN IMMEDIATE … COMMIT under the store's lock; sqlite errors become JournalError."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, durable: bool = True):
        self.db, self.lock, self.durable = db, lock, durable

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            if not self.durable:
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            self._restore()
            self.lock.release()
            raise JournalError(f"outbox write failed: {type(e).__name__}") from None
        return self.db

    def _restore(self) -> None:
        if not self.durable:
            try:
                self.db.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error:
                pass

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        try:
            self.db.execute("COMMIT" if et is None else "ROLLBACK")
        except sqlite3.Error as e:
            if et is None:
                raise JournalError(f"outbox write failed: {type(e).__name__}") from None
        finally:
            self._restore()
            self.lock.release()
        if isinstance(ev, sqlite3.Error):
            raise JournalError(f"outbox write failed: {type(ev).__name__}") from None
        return False
