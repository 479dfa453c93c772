"""SQLite storage of the reference back office.

One connection, WAL, every submission in one `BEGIN IMMEDIATE` transaction together with
its effects (fines marked paid, order used), so a crash of the server never leaves a
half-done submission and a replayed key always finds a complete record.

Stored, and why (nothing else is):
- submissions: idempotency key, kind, id, HMAC of the request (to spot a reused key with
  a different body), and the response sent (to answer a replay identically). Responses
  are built without personal data (invoices carry only a masked name and ID number).
- fines: fine id, amount, payment receipt — not the plate or the driver.
- payment_orders: amount, description, timestamps, which fine payment used the order.
- waybills: tracking number, destination province and city — not the recipient, phone
  or street (a real post office keeps those until delivery; this one delivers nothing).
- meta: the per-database HMAC secret.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_kind_id ON submissions (kind, id);
CREATE TABLE IF NOT EXISTS fines (
    fine_id TEXT PRIMARY KEY,
    amount_fen INTEGER NOT NULL,
    receipt_number TEXT,
    paid_at TEXT
);
CREATE TABLE IF NOT EXISTS payment_orders (
    order_id TEXT PRIMARY KEY,
    amount_fen INTEGER NOT NULL,
    description TEXT NOT NULL,
    reference TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    paid_at TEXT,
    cancelled_at TEXT,
    used_by TEXT
);
CREATE TABLE IF NOT EXISTS waybills (
    waybill_id TEXT PRIMARY KEY,
    tracking_number TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


class Database:
    """Thin wrapper: a lock-guarded connection and the few queries the API needs."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.RLock()
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA secure_delete=ON")
        self.conn.executescript(SCHEMA)
        self.secret = self._secret()

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Serialised write transaction: committed on success, rolled back on any error."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def add_schema(self, sql: str) -> None:
        """Tables of a route module (CREATE ... IF NOT EXISTS), created at app start."""
        with self._lock:
            self.conn.executescript(sql)

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    def next_number(self, name: str) -> int:
        """Next value of a named counter; call inside a transaction."""
        row = self.conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    def _secret(self) -> bytes:
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = 'hmac_secret'").fetchone()
            if row is None:
                value = secrets.token_hex(32)
                conn.execute("INSERT INTO meta (name, value) VALUES ('hmac_secret', ?)", (value,))
                return bytes.fromhex(value)
            return bytes.fromhex(row[0])
