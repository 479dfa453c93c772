"""The invoice paper stock as durable state: rolls, every number's fate, holds, jobs, audit.

One SQLite file in the kiosk's state directory (`paper.sqlite3`), WAL with
`synchronous=FULL` like the session journal, because the same rule applies: a number is
recorded before the next irreversible act (printing on the next form). Unlike the session
journal nothing here is personal — invoice codes and numbers, application ids, staff ids —
and nothing expires: the stock outlives every session and every restart.

Rules kept by the schema and by `PaperLedger`, not by callers:
- a paper number has at most one fate (`numbers` primary key): printed, voided — so it is
  never used twice;
- the roll's `next` only moves one form at a time, by a print or a void, so no number is
  ever skipped without a record; a realign past several forms voids each of them;
- unloading a roll records the unused rest (returned, may be loaded again later).
Every change appends an `events` row (the audit trail: what, when, who).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from flows.paper.errors import NumberAlreadyUsed, PaperLedgerError, PaperLedgerUnavailable, StockEmpty

DB_NAME = "paper.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS roll (
    id INTEGER PRIMARY KEY CHECK (id = 1), invoice_code TEXT NOT NULL, first INTEGER NOT NULL,
    last INTEGER NOT NULL, next INTEGER NOT NULL, width INTEGER NOT NULL, loaded_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS numbers (
    invoice_code TEXT NOT NULL, number INTEGER NOT NULL, fate TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '', at REAL NOT NULL, PRIMARY KEY (invoice_code, number)
);
CREATE TABLE IF NOT EXISTS holds (
    hold_id INTEGER PRIMARY KEY AUTOINCREMENT, cause TEXT NOT NULL, detail TEXT NOT NULL, opened_at REAL NOT NULL,
    resolved_at REAL, staff TEXT, action TEXT, resolution TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
    source TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, staff TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Roll:
    invoice_code: str
    first: int
    last: int
    next: int
    width: int = 8

    @property
    def left(self) -> int:
        return max(0, self.last - self.next + 1)

    def fmt(self, number: int) -> str:
        return f"{number:0{self.width}d}"

    @property
    def next_number(self) -> str:
        return self.fmt(self.next)


@dataclass(frozen=True)
class Hold:
    hold_id: int
    cause: str  # mismatch | print_interrupted | unknown_outcome | stock_empty
    detail: dict[str, Any]
    opened_at: float
    resolved_at: float | None = None
    staff: str | None = None
    action: str | None = None


class PaperLedger:
    """The stock of one terminal (or kiosk). One event loop uses it; calls are short."""

    def __init__(self, state_dir: str | Path, *, wall: Callable[[], float] = time.time):
        self.path = Path(state_dir) / DB_NAME
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._wall = wall
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------ plumbing

    def _tx(self):
        conn = self.conn

        class _Tx:
            def __enter__(self_inner) -> sqlite3.Connection:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    raise PaperLedgerUnavailable(f"cannot write the paper ledger: {exc}") from None
                return conn

            def __exit__(self_inner, et, ev, tb) -> bool:
                try:
                    conn.execute("ROLLBACK" if et else "COMMIT")
                except sqlite3.OperationalError as exc:  # disk full at commit: nothing of it was recorded
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise PaperLedgerUnavailable(f"cannot write the paper ledger: {exc}") from None
                if et is sqlite3.OperationalError:  # e.g. SQLITE_FULL inside the transaction
                    raise PaperLedgerUnavailable(f"cannot write the paper ledger: {ev}") from None
                return False

        return _Tx()

    def _event(self, conn: sqlite3.Connection, kind: str, staff: str = "", **detail: Any) -> None:
        conn.execute("INSERT INTO events (at, kind, staff, detail) VALUES (?, ?, ?, ?)",
                     (self._wall(), kind, staff, json.dumps(detail, ensure_ascii=False, sort_keys=True)))

    # ------------------------------------------------------------ the roll

    def roll(self) -> Roll | None:
        row = self.conn.execute("SELECT * FROM roll WHERE id = 1").fetchone()
        return None if row is None else Roll(row["invoice_code"], row["first"], row["last"], row["next"], row["width"])

    def paper_left(self) -> int:
        roll = self.roll()
        return roll.left if roll else 0

    def next_form(self) -> tuple[str, str]:
        """(invoice code, number) of the form under the print head; StockEmpty when none."""
        roll = self.roll()
        if roll is None or roll.left == 0:
            raise StockEmpty("no invoice form is loaded")
        return roll.invoice_code, roll.next_number

    def load_roll(self, invoice_code: str, first: str, last: str, *, staff: str) -> Roll:
        """Staff loaded a roll (or box) whose first form is `first`. The rest of the old roll is
        recorded as returned. Refused if any of its numbers already has a fate."""
        lo, hi, width = int(first), int(last), len(first)
        if hi < lo:
            raise PaperLedgerError("the last number is before the first")
        with self._tx() as conn:
            used = conn.execute("SELECT number FROM numbers WHERE invoice_code = ? AND number BETWEEN ? AND ? LIMIT 1",
                                (invoice_code, lo, hi)).fetchone()
            if used is not None:
                raise NumberAlreadyUsed(f"number {used[0]:0{width}d} of this roll was printed or voided before")
            old = conn.execute("SELECT * FROM roll WHERE id = 1").fetchone()
            if old is not None and old["next"] <= old["last"]:
                self._event(conn, "roll_unloaded", staff, invoice_code=old["invoice_code"],
                            returned_from=f"{old['next']:0{old['width']}d}", returned_to=f"{old['last']:0{old['width']}d}")
            conn.execute("INSERT OR REPLACE INTO roll VALUES (1, ?, ?, ?, ?, ?, ?)",
                         (invoice_code, lo, hi, lo, width, self._wall()))
            self._event(conn, "roll_loaded", staff, invoice_code=invoice_code, first=first, last=last)
        roll = self.roll()
        assert roll is not None
        return roll

    def _advance(self, conn: sqlite3.Connection, invoice_code: str, number: int, fate: str, reason: str,
                 source: str) -> None:
        row = conn.execute("SELECT * FROM roll WHERE id = 1").fetchone()
        if row is None or row["invoice_code"] != invoice_code or row["next"] != number:
            where = f"{row['invoice_code']}:{row['next']}" if row else "no roll"
            raise PaperLedgerError(f"form {invoice_code}:{number} is not the next form ({where})")
        if number > row["last"]:
            raise StockEmpty("the roll is used up")
        try:
            conn.execute("INSERT INTO numbers VALUES (?, ?, ?, ?, ?, ?)",
                         (invoice_code, number, fate, reason, source, self._wall()))
        except sqlite3.IntegrityError:
            raise NumberAlreadyUsed(f"number {number} was used before") from None
        conn.execute("UPDATE roll SET next = ? WHERE id = 1", (number + 1,))

    def mark_printed(self, invoice_code: str, number: str, *, source: str,
                     job: tuple[str, dict[str, Any]] | None = None) -> None:
        """The form is printed; `job` (key, data) is saved in the same transaction, so a crash
        never leaves a printed form with its job still 'printing'."""
        with self._tx() as conn:
            self._advance(conn, invoice_code, int(number), "printed", "", source)
            self._event(conn, "printed", invoice_code=invoice_code, number=number, source=source)
            if job is not None:
                self._save_job(conn, *job)

    def void(self, invoice_code: str, numbers: list[str], *, reason: str, staff: str = "", source: str = "",
             job: tuple[str, dict[str, Any]] | None = None) -> None:
        """Void forms from the one under the head on, in order (a realign voids several);
        `job` is saved in the same transaction (the next attempt of the errand whose invoice went)."""
        with self._tx() as conn:
            for number in sorted(numbers, key=int):
                self._advance(conn, invoice_code, int(number), "voided", reason, source)
                self._event(conn, "voided", staff, invoice_code=invoice_code, number=number, reason=reason,
                            source=source)
            if job is not None:
                self._save_job(conn, *job)

    def fate(self, invoice_code: str, number: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM numbers WHERE invoice_code = ? AND number = ?",
                                 (invoice_code, int(number))).fetchone()

    def record(self, kind: str, *, staff: str = "", **detail: Any) -> None:
        """An audit event that changes no number (a reprint, a printer fault, a reload refused)."""
        with self._tx() as conn:
            self._event(conn, kind, staff, **detail)

    def numbers(self, invoice_code: str) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM numbers WHERE invoice_code = ? ORDER BY number",
                                 (invoice_code,)).fetchall()

    def voided(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM numbers WHERE fate = 'voided' ORDER BY at").fetchall()

    # ------------------------------------------------------------ holds

    def open_hold(self, cause: str, **detail: Any) -> Hold:
        with self._tx() as conn:
            cur = conn.execute("INSERT INTO holds (cause, detail, opened_at) VALUES (?, ?, ?)",
                               (cause, json.dumps(detail, ensure_ascii=False, sort_keys=True), self._wall()))
            self._event(conn, "hold_opened", hold_id=cur.lastrowid, cause=cause, **detail)
        hold = self.hold(int(cur.lastrowid))
        assert hold is not None
        return hold

    def resolve_hold(self, hold_id: int, *, staff: str, action: str, **detail: Any) -> Hold:
        with self._tx() as conn:
            row = conn.execute("SELECT resolved_at FROM holds WHERE hold_id = ?", (hold_id,)).fetchone()
            if row is None:
                raise PaperLedgerError(f"no hold {hold_id}")
            if row["resolved_at"] is not None:
                raise PaperLedgerError(f"hold {hold_id} is resolved already")
            conn.execute("UPDATE holds SET resolved_at = ?, staff = ?, action = ?, resolution = ? WHERE hold_id = ?",
                         (self._wall(), staff, action, json.dumps(detail, ensure_ascii=False), hold_id))
            self._event(conn, "hold_resolved", staff, hold_id=hold_id, action=action, **detail)
        hold = self.hold(hold_id)
        assert hold is not None
        return hold

    def hold(self, hold_id: int) -> Hold | None:
        row = self.conn.execute("SELECT * FROM holds WHERE hold_id = ?", (hold_id,)).fetchone()
        return None if row is None else _hold(row)

    def open_holds(self) -> list[Hold]:
        return [_hold(r) for r in self.conn.execute("SELECT * FROM holds WHERE resolved_at IS NULL ORDER BY hold_id")]

    def holds(self, limit: int = 50) -> list[Hold]:
        return [_hold(r) for r in self.conn.execute("SELECT * FROM holds ORDER BY hold_id DESC LIMIT ?", (limit,))]

    # ------------------------------------------------------------ jobs (resume after a restart)

    def job(self, source: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT data FROM jobs WHERE source = ?", (source,)).fetchone()
        return None if row is None else json.loads(row[0])

    def save_job(self, source: str, data: dict[str, Any]) -> None:
        with self._tx() as conn:
            self._save_job(conn, source, data)

    def _save_job(self, conn: sqlite3.Connection, source: str, data: dict[str, Any]) -> None:
        conn.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?, ?)",
                     (source, json.dumps(data, ensure_ascii=False, sort_keys=True), self._wall()))

    def drop_job(self, source: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM jobs WHERE source = ?", (source,))

    def jobs(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r[0], json.loads(r[1])) for r in self.conn.execute("SELECT source, data FROM jobs ORDER BY updated_at")]

    # ------------------------------------------------------------ audit

    def events(self, limit: int = 100, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY seq DESC LIMIT ?"
        rows = self.conn.execute(sql, (kind, limit) if kind else (limit,)).fetchall()
        return [{"seq": r["seq"], "at": r["at"], "kind": r["kind"], "staff": r["staff"], **json.loads(r["detail"])}
                for r in rows]


def _hold(row: sqlite3.Row) -> Hold:
    return Hold(hold_id=row["hold_id"], cause=row["cause"], detail=json.loads(row["detail"]), opened_at=row["opened_at"],
                resolved_at=row["resolved_at"], staff=row["staff"], action=row["action"])
