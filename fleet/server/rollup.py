"""Downsampling and retention, generic: raw rows → time buckets → coarser buckets, and
deleting what is old *and* already aggregated. Health history uses it
(fleet/server/health_retention.py); anything else with a time column can too.

How to use it for another kind of row (e.g. service statistics from `events`)
----------------------------------------------------------------------------
1. Make the aggregate tables (models + an Alembic migration): the group keys, a bucket
   column (the bucket's start, UTC), and one column per aggregate. Store sums and counts,
   not means, so buckets combine exactly (`Measure` names them `<prefix>_min/_max/_sum/_n`;
   `samples` counts rows).
2. Describe each step: `Step(name, source, time, target, bucket, width, keys, columns,
   upstream=None, where=None)`. `columns(source_table)` returns {target column: SQL
   aggregate over the source}; `first_level(measures)` and `combine_level(measures)` build
   them for raw rows and for a finer bucket table. A step whose source is another step's
   target names it as `upstream`: it never runs past what that step has finished.
   `where(source_table)` filters the source (e.g. `kind IN ('flow_completed', ...)`).
3. Describe what to delete: `Retention(table, time, keep, after=(step names...), where)`:
   rows older than `keep` are deleted, but never rows a listed step has not aggregated
   yet (the deletion horizon is the smallest of now − keep and those steps' progress).
   `keep=None` keeps for ever (no Retention needed then).
4. `RollupJob(db, steps, retentions).run_once()` — from a timer thread
   (`RollupThread`), a cron job or a test; it returns what it did.

Why it is safe to run twice, to kill, and to run in several processes at once
-------------------------------------------------------------------------------
- Progress is one row per step in `rollup_state` (`done_until`: every bucket before it is
  in the target). A chunk of buckets is computed by one GROUP BY query (a read
  transaction: SQLite's write lock is not held while it scans), then written in ONE
  transaction that first moves `done_until` forward with a compare-and-set
  (`UPDATE … WHERE done_until = <what I read>`), then deletes and re-inserts the target
  rows of exactly those buckets. Killed midway, the transaction rolls back and the chunk
  is done again next time; run twice, the second run finds `done_until` already there and
  does nothing; two processes at once, the second's compare-and-set matches no row (its
  UPDATE waits for the first's lock, then sees the new value) and it drops its rows and
  moves on. The result is the same as one clean run.
- Only closed buckets are aggregated: a bucket ends at least `grace` before now (rows are
  stamped with the server's receive time, so nothing arrives later than that).
- Deletion runs after aggregation, in time slices (one transaction each, so a kill loses
  nothing and SQLite's write lock is held briefly; its progress is `delete:<table>` in
  `rollup_state`, moved by the same compare-and-set), and only below the horizon above:
  a raw row is never deleted before the buckets made from it are committed.
- Bucket boundaries are computed in SQL on each backend (SQLite: Unix-epoch arithmetic
  formatted the way SQLAlchemy stores datetimes; PostgreSQL: `to_timestamp`), with an
  optional offset so "a day" can be a local day (Asia/Shanghai: +8 h).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Table, cast, delete, func, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from fleet.server.db import Database
from fleet.server.models import utcnow
from fleet.server.models_history import RollupState

log = logging.getLogger("fleet.server.rollup")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.000000"  # how SQLAlchemy's SQLite DateTime stores a value


@dataclass(frozen=True)
class Measure:
    """A figure kept as min / max / sum / n (n: rows where it was not NULL)."""

    source: str  # column of the raw table
    prefix: str  # target columns <prefix>_min, _max, _sum, _n


def first_level(measures: Sequence[Measure], count_column: str = "samples") -> Callable[[Table], dict[str, Any]]:
    """Aggregates of raw rows: min, max, sum and count of each measure, and a row count."""
    def columns(src: Table) -> dict[str, Any]:
        out: dict[str, Any] = {count_column: func.count()}
        for m in measures:
            col = src.c[m.source]
            out |= {f"{m.prefix}_min": func.min(col), f"{m.prefix}_max": func.max(col),
                    f"{m.prefix}_sum": func.sum(col), f"{m.prefix}_n": func.count(col)}
        return out
    return columns


def combine_level(measures: Sequence[Measure], count_column: str = "samples") -> Callable[[Table], dict[str, Any]]:
    """Aggregates of finer buckets into coarser ones: min of mins, max of maxes, sums of sums and counts."""
    def columns(src: Table) -> dict[str, Any]:
        out: dict[str, Any] = {count_column: func.sum(src.c[count_column])}
        for m in measures:
            p = m.prefix
            out |= {f"{p}_min": func.min(src.c[f"{p}_min"]), f"{p}_max": func.max(src.c[f"{p}_max"]),
                    f"{p}_sum": func.sum(src.c[f"{p}_sum"]), f"{p}_n": func.sum(src.c[f"{p}_n"])}
        return out
    return columns


@dataclass(frozen=True)
class Step:
    name: str  # its row in rollup_state, e.g. "health.hourly"
    source: Table
    time: str  # the source's time column (raw: receive time; a bucket table: its bucket)
    target: Table
    bucket: str  # the target's bucket column
    width: dt.timedelta
    keys: tuple[str, ...]  # group-by columns, same names in source and target
    columns: Callable[[Table], dict[str, Any]]  # target column -> aggregate over the source
    upstream: str | None = None  # the step that fills `source`; never run past it
    where: Callable[[Table], ColumnElement[bool]] | None = None
    chunk: int = 1  # buckets per transaction
    offset: dt.timedelta = dt.timedelta(0)  # bucket boundaries at offset from UTC midnight/hour


@dataclass(frozen=True)
class Retention:
    table: Table
    time: str
    keep: dt.timedelta
    after: tuple[str, ...] = ()  # steps that must have aggregated a row before it may go
    where: Callable[[Table], ColumnElement[bool]] | None = None
    slice: dt.timedelta = dt.timedelta(hours=1)  # rows per delete transaction, by time


@dataclass
class RunReport:
    buckets: dict[str, int] = field(default_factory=dict)  # step -> buckets aggregated
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows deleted

    def __str__(self) -> str:
        done = ", ".join(f"{k} {v}" for k, v in self.buckets.items() if v) or "nothing new"
        gone = ", ".join(f"{k} {v}" for k, v in self.deleted.items() if v) or "none"
        return f"aggregated: {done}; deleted: {gone}"


def floor_time(at: dt.datetime, width: dt.timedelta, offset: dt.timedelta = dt.timedelta(0)) -> dt.datetime:
    w = int(width.total_seconds())
    seconds = int((at - EPOCH).total_seconds() + offset.total_seconds()) // w * w - offset.total_seconds()
    return EPOCH + dt.timedelta(seconds=seconds)


def bucket_sql(dialect: str, column, width: dt.timedelta, offset: dt.timedelta = dt.timedelta(0)):
    """SQL for the start of the bucket `column` falls in, stored as the backend stores datetimes."""
    w, off = int(width.total_seconds()), int(offset.total_seconds())
    if dialect == "sqlite":
        epoch = cast(func.strftime("%s", column), Integer)
        return func.strftime(SQLITE_FORMAT, (epoch + off) // w * w - off, "unixepoch")
    if dialect == "postgresql":
        return func.to_timestamp(func.floor((func.extract("epoch", column) + off) / w) * w - off)
    raise ValueError(f"no bucket arithmetic for {dialect}")


class RollupJob:
    """Runs the steps in order, then the retentions. `now` is injectable for tests."""

    def __init__(self, db: Database, steps: Sequence[Step], retentions: Sequence[Retention] = (), *,
                 grace: dt.timedelta = dt.timedelta(minutes=5), clock: Callable[[], dt.datetime] = utcnow) -> None:
        names = [s.name for s in steps]
        for s in steps:
            if s.upstream and s.upstream not in names[:names.index(s.name)]:
                raise ValueError(f"step {s.name}: upstream {s.upstream} must come before it")
        self.db, self.steps, self.retentions, self.grace, self.clock = db, list(steps), list(retentions), grace, clock
        self.stop_requested = threading.Event()  # set to end a long run between transactions

    def run_once(self) -> RunReport:
        now = self.clock()
        report = RunReport()
        for step in self.steps:
            report.buckets[step.name] = self._run_step(step, now)
        for retention in self.retentions:
            report.deleted[retention.table.name] = self._delete_old(retention, now)
        return report

    def done_until(self, name: str) -> dt.datetime | None:
        with self.db.session() as s:
            row = s.get(RollupState, name)
            return row.done_until if row else None

    def _run_step(self, step: Step, now: dt.datetime) -> int:
        closed = floor_time(now - self.grace, step.width, step.offset)
        if step.upstream:
            upstream = self.done_until(step.upstream)
            if upstream is None:
                return 0
            closed = min(closed, floor_time(upstream, step.width, step.offset))
        mark = self.done_until(step.name)
        if mark is None:
            mark = self._start(step)
            if mark is None:
                return 0
        done = 0
        width = step.width * step.chunk
        while mark < closed and not self.stop_requested.is_set():
            end = min(mark + width, closed)
            rows = self._aggregate(step, mark, end)  # read only: no write lock while it scans
            with self.db.session() as s:
                moved = s.execute(update(RollupState).where(RollupState.name == step.name, RollupState.done_until == mark)
                                  .values(done_until=end)).rowcount
                if moved:
                    target = step.target
                    s.execute(delete(target).where(target.c[step.bucket] >= mark, target.c[step.bucket] < end))
                    if rows:
                        s.execute(insert(target), rows)
                    done += int((end - mark) / step.width)
            if not moved:  # another process got there first: go on from where it is
                mark = self.done_until(step.name) or end
                continue
            mark = end
        return done

    def _start(self, step: Step) -> dt.datetime | None:
        """The first bucket with source rows (None: no rows yet), recorded as the start."""
        src = step.source
        query = select(func.min(src.c[step.time]))
        if step.where is not None:
            query = query.where(step.where(src))
        with self.db.session() as s:
            first = _as_utc(s.scalar(query))
        if first is None:
            return None
        start = floor_time(first, step.width, step.offset)
        try:
            with self.db.session() as s:
                s.add(RollupState(name=step.name, done_until=start))
        except IntegrityError:
            pass  # another process started it
        return self.done_until(step.name)

    def _aggregate(self, step: Step, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """The target rows of the buckets in [start, end), computed in SQL (GROUP BY) in a
        read transaction of its own. Safe outside the writing one: those buckets are closed
        (nothing new arrives there) and their source rows are not deleted (deletion stops
        at this step's progress, which is at most `start`)."""
        src, dst = step.source, step.target
        bucket = type_coerce(bucket_sql(self.db.backend, src.c[step.time], step.width, step.offset),
                             dst.c[step.bucket].type).label(step.bucket)
        aggregates = step.columns(src)
        query = (select(bucket, *(src.c[k] for k in step.keys), *(expr.label(name) for name, expr in aggregates.items()))
                 .where(src.c[step.time] >= start, src.c[step.time] < end)
                 .group_by(bucket, *(src.c[k] for k in step.keys)))
        if step.where is not None:
            query = query.where(step.where(src))
        with self.db.session() as s:
            return [dict(row) for row in s.execute(query).mappings()]

    def _delete_old(self, retention: Retention, now: dt.datetime) -> int:
        """Delete slice by slice up to the horizon. How far it got is kept in rollup_state
        (`delete:<table>`), so a slice is a range delete from there — cheap on a BRIN or
        B-tree index — and the oldest row is looked up only once, the first time."""
        horizon = now - retention.keep
        for name in retention.after:
            mark = self.done_until(name)
            if mark is None:
                return 0  # nothing aggregated yet: nothing may go
            horizon = min(horizon, mark)
        table, col = retention.table, retention.table.c[retention.time]
        state = f"delete:{table.name}"
        mark = self.done_until(state)
        if mark is None:
            query = select(func.min(col))
            if retention.where is not None:
                query = query.where(retention.where(table))
            with self.db.session() as s:
                oldest = _as_utc(s.scalar(query))
            if oldest is None or oldest >= horizon:
                return 0
            try:
                with self.db.session() as s:
                    s.add(RollupState(name=state, done_until=oldest))
            except IntegrityError:
                pass
            mark = self.done_until(state)
        deleted = 0
        while mark < horizon and not self.stop_requested.is_set():
            until = min(horizon, mark + retention.slice)
            with self.db.session() as s:
                moved = s.execute(update(RollupState).where(RollupState.name == state, RollupState.done_until == mark)
                                  .values(done_until=until)).rowcount
                if moved:
                    statement = delete(table).where(col < until)
                    if retention.where is not None:
                        statement = statement.where(retention.where(table))
                    deleted += s.execute(statement).rowcount
            mark = until if moved else (self.done_until(state) or until)
        return deleted


def _as_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    """A MIN() of a datetime column: text on SQLite, naive or aware elsewhere."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


class RollupThread:
    """Runs a RollupJob every `every_s` seconds in a daemon thread; stop() ends it between
    transactions (what is committed stays; the rest is done by the next run)."""

    def __init__(self, job: RollupJob, every_s: float = 300.0, name: str = "fleet-rollup") -> None:
        self.job, self.every_s = job, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)
        self.last: RunReport | None = None

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = self.job.run_once()
                log.debug("rollup: %s", self.last)
            except Exception:  # a database hiccup must not end the thread; the next run redoes it
                log.exception("rollup run failed")
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        self.job.stop_requested.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
