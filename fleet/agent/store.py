"""The agent's durable state in one SQLite file: outbox, seen commands, counters.

paho keeps unsent QoS 1 messages in memory only (its README, "Known limitations"), so
everything the fleet must eventually receive — events, command results, reported
config/update state — is first written here and deleted only after the broker's PUBACK
(`fleet.agent.outbox`). The same file remembers the presence session counter, command
ids already handled (idempotency) and the app-event cursor, so a restart changes nothing
the fleet can see except a new session number.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.protocol.codec import Outgoing

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    properties TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    result BLOB,
    received REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties | None


@dataclass(frozen=True)
class CommandRecord:
    id: str
    name: str
    status: str
    result: bytes | None


def _props_to_json(props: Properties | None) -> str:
    if props is None:
        return "{}"
    out: dict = {}
    for name in ("ContentType", "PayloadFormatIndicator", "ResponseTopic", "MessageExpiryInterval"):
        if hasattr(props, name):
            out[name] = getattr(props, name)
    if hasattr(props, "CorrelationData"):
        out["CorrelationData"] = bytes(props.CorrelationData).hex()
    if hasattr(props, "UserProperty"):
        out["UserProperty"] = [list(p) for p in props.UserProperty]
    return json.dumps(out)


def _props_from_json(text: str) -> Properties | None:
    data = json.loads(text)
    if not data:
        return None
    props = Properties(PacketTypes.PUBLISH)
    for name, value in data.items():
        if name == "CorrelationData":
            value = bytes.fromhex(value)
        elif name == "UserProperty":
            value = [tuple(p) for p in value]
        setattr(props, name, value)
    return props


class AgentStore:
    """Thread-safe (one connection, one lock); every write is its own transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # the outbox must survive a power cut
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- outbox -------------------------------------------------------------------------
    def enqueue(self, *messages: Outgoing, kv: dict[str, str] | None = None) -> list[int]:
        """Store messages (and optionally key/values) in one transaction; their seqs."""
        seqs = []
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for msg in messages:
                cur = self._db.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, properties, created) VALUES (?,?,?,?,?,?)",
                    (msg.topic, msg.payload, msg.qos, int(msg.retain), _props_to_json(msg.properties), time.time()),
                )
                seqs.append(cur.lastrowid)
            for key, value in (kv or {}).items():
                self._db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))
        return seqs

    def pending(self, after: int = 0, limit: int = 100) -> list[OutboxRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, qos, retain, properties FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), _props_from_json(r[5])) for r in rows]

    def delete(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def outbox_size(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    # -- key/value ----------------------------------------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    def next_session(self) -> int:
        """A presence session number higher than any this kiosk used before.

        Starts from the current Unix time, so even a lost state file (reinstall) gives
        numbers above the old ones unless the old agent made more than one connection
        per second on average.
        """
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM kv WHERE key = 'session'").fetchone()
            session = max(int(row[0]) + 1 if row else 0, int(time.time()) if not row else 0)
            self._db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES ('session', ?)", (str(session),))
        return session

    # -- commands -----------------------------------------------------------------------
    def command(self, command_id: str) -> CommandRecord | None:
        with self._lock:
            row = self._db.execute("SELECT id, name, status, result FROM commands WHERE id = ?", (command_id,)).fetchone()
        return CommandRecord(row[0], row[1], row[2], bytes(row[3]) if row[3] is not None else None) if row else None

    def begin_command(self, command_id: str, name: str, status: str, result: bytes | None = None) -> bool:
        """Record a command as seen; False when it was seen before (do not run it twice)."""
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO commands (id, name, status, result, received, updated) VALUES (?,?,?,?,?,?)",
                (command_id, name, status, result, now, now),
            )
        return cur.rowcount == 1

    def finish_command(self, command_id: str, status: str, result: bytes) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE commands SET status = ?, result = ?, updated = ? WHERE id = ?",
                (status, result, time.time(), command_id),
            )

    def unfinished_commands(self) -> list[CommandRecord]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, status, result FROM commands WHERE status = 'accepted'").fetchall()
        return [CommandRecord(r[0], r[1], r[2], r[3]) for r in rows]

    def forget_commands(self, older_than_s: float) -> int:
        with self._lock:
            cur = self._db.execute("DELETE FROM commands WHERE updated < ?", (time.time() - older_than_s,))
        return cur.rowcount
