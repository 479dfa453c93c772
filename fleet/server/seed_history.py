"""A year of health history for a big fleet, as the retention job would have left it:

    python -m fleet.server.seed_history sqlite:///fleet-10k.db --kiosks 10000 --days 365 \
        [--raw-days 7 --raw-interval-s 600 --hourly-days 90]

- daily buckets (`health_daily`) from a year ago up to 90 days ago,
- hourly buckets (`health_hourly`) from 90 days ago up to 7 days ago,
- raw samples (`health_samples`) for the last 7 days, one per kiosk every
  `raw_interval_s` (600 s by default; real kiosks send every 30 s — raw volume does not
  change what the charts read: they use raw rows only for one kiosk's last 12 h),
- and the job's progress (`rollup_state`) at those boundaries, so that one run of the
  health retention job (which the bench times) makes the rest: raw → hourly for the last
  week, hourly → daily, and the fleet and version tables for the whole year.

Rows are generated inside the database (a recursive CTE on SQLite, generate_series on
PostgreSQL) with deterministic figures and five releases rolled out over the year (each
kiosk adopts release r on day 70·r + kiosk % 14), so seeding 30 M rows takes minutes,
not hours. Kiosks already in `kiosks` (e.g. from `fleet.server.seed`) are used; missing
ones are created as `hist-00001`….
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text

from fleet.server.db import Database
from fleet.server.models import Kiosk, utcnow
from fleet.server.models_history import RollupState
from fleet.server.rollup import floor_time

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
FIGURE_COLUMNS = ("samples, cpu_min, cpu_max, cpu_sum, cpu_n, mem_min, mem_max, mem_sum, mem_n, disk_min, disk_max, "
                  "disk_sum, disk_n, temp_min, temp_max, temp_sum, temp_n, dev_ok_min, dev_ok_max, dev_ok_sum, dev_ok_n, "
                  "dev_total_max")


@dataclass
class SeedReport:
    kiosks: int
    daily: int
    hourly: int
    raw: int
    seconds: float


def _kiosk_ids(db: Database, wanted: int) -> None:
    """Make sure `kiosks` has at least `wanted` rows; the history uses the first `wanted` ids."""
    with db.session() as s:
        have = s.scalar(select(func.count()).select_from(Kiosk))
        if have < wanted:
            now = utcnow()
            s.execute(insert(Kiosk), [dict(kiosk_id=f"hist-{i:05d}", first_seen=now, online=True, session=1,
                                           config_desired_version=0) for i in range(have, wanted)])


def _series(backend: str, count: int) -> str:
    """A row source of n = 0 .. count-1."""
    if backend == "sqlite":
        return f"(WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < {count - 1}) SELECT n FROM seq)"
    return f"(SELECT generate_series(0, {count - 1}) AS n)"


def _time(backend: str, epoch_sql: str) -> str:
    if backend == "sqlite":
        return f"strftime('%Y-%m-%d %H:%M:%S.000000', {epoch_sql}, 'unixepoch')"
    return f"to_timestamp({epoch_sql})"


def _version(backend: str, day_sql: str) -> str:
    clamp = ("MIN(4, MAX(0, ({d} - (k.i % 14)) / 70))" if backend == "sqlite"
             else "LEAST(4, GREATEST(0, ({d} - (k.i % 14)) / 70))").format(d=day_sql)
    return f"'1.' || CAST({clamp} AS TEXT) || '.0'" if backend == "sqlite" else f"'1.' || ({clamp})::text || '.0'"


def _kiosks_sql(backend: str, count: int) -> str:
    number = "ROW_NUMBER() OVER (ORDER BY kiosk_id) - 1"
    return f"(SELECT kiosk_id, {number} AS i FROM kiosks ORDER BY kiosk_id LIMIT {count})"


def _figures(per: int, t: str) -> str:
    """Bucket figures for kiosk k.i at time index t (hours), `per` samples in the bucket."""
    cpu = f"(10 + ((k.i * 7 + {t} * 13) % 50))"
    mem = f"(40 + (k.i % 20) + ({t} % 7))"
    disk = f"(50 + (k.i % 30) + {t} / 2000.0)"
    temp = f"(40 + (k.i % 10) + ({t} % 24) / 3.0)"
    fault = f"(CASE WHEN (k.i + {t}) % 97 = 0 THEN 1 ELSE 0 END)"
    return (f"{per}, {cpu} - 8, {cpu} + 25, {cpu} * {per}, {per}, "
            f"{mem} - 5, {mem} + 5, {mem} * {per}, {per}, "
            f"{disk}, {disk}, {disk} * {per}, {per}, "
            f"{temp} - 2, {temp} + 2, {temp} * {per}, {per}, "
            f"5 - {fault}, 5, (5 - {fault} * 0.1) * {per}, {per}, 5")


def seed_history(db: Database, kiosks: int = 10_000, days: int = 365, *, raw_days: float = 7.0,
                 raw_interval_s: int = 600, hourly_days: float = 90.0, now: dt.datetime | None = None,
                 progress=None) -> SeedReport:
    started = time.perf_counter()
    backend = db.backend
    now = now or utcnow()
    raw_start = floor_time(now - dt.timedelta(days=raw_days), HOUR)
    hourly_start = floor_time(now - dt.timedelta(days=hourly_days), DAY)
    daily_start = floor_time(now - dt.timedelta(days=days), DAY)
    hourly_start = max(hourly_start, daily_start)
    _kiosk_ids(db, kiosks)
    epoch0 = int(daily_start.timestamp())
    n_days = int((hourly_start - daily_start) / DAY)
    n_hours = int((raw_start - hourly_start) / HOUR)
    n_raw = int((now - raw_start).total_seconds() // raw_interval_s)
    hour0 = n_days * 24  # the time index t (hours since daily_start) where hourly rows begin
    raw_hour0 = hour0 + n_hours
    say = progress or (lambda _msg: None)
    with db.engine.begin() as conn:
        say(f"daily buckets: {kiosks} kiosks x {n_days} days")
        conn.execute(text("SELECT 1") if not n_days else text(
            f"INSERT INTO health_daily (kiosk_id, bucket, app_version, {FIGURE_COLUMNS}) "
            f"SELECT k.kiosk_id, {_time(backend, f'{epoch0} + s.n * 86400')}, {_version(backend, 's.n')}, "
            f"{_figures(2880, 's.n * 24')} FROM {_kiosks_sql(backend, kiosks)} AS k CROSS JOIN {_series(backend, n_days)} AS s"))
    for chunk in range(0, n_hours, 24 * 7):  # a week per transaction
        hours = min(24 * 7, n_hours - chunk)
        say(f"hourly buckets: {kiosks} kiosks x hours {chunk}..{chunk + hours} of {n_hours}")
        with db.engine.begin() as conn:
            t = f"({hour0 + chunk} + s.n)"
            conn.execute(text(
                f"INSERT INTO health_hourly (kiosk_id, bucket, app_version, {FIGURE_COLUMNS}) "
                f"SELECT k.kiosk_id, {_time(backend, f'{epoch0} + {t} * 3600')}, {_version(backend, f'{t} / 24')}, "
                f"{_figures(120, t)} FROM {_kiosks_sql(backend, kiosks)} AS k CROSS JOIN {_series(backend, hours)} AS s"))
    if 3600 % raw_interval_s:
        raise ValueError("raw_interval_s must divide an hour")
    per_hour = 3600 // raw_interval_s
    payload = ("json_object('app_version', {v})" if backend == "sqlite" else "json_build_object('app_version', {v})")
    for chunk in range(0, n_raw, per_hour * 24):  # a day per transaction
        samples = min(per_hour * 24, n_raw - chunk)
        say(f"raw samples: {kiosks} kiosks x samples {chunk}..{chunk + samples} of {n_raw}")
        t = f"({raw_hour0} + ({chunk} + s.n) / {per_hour})"
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO health_samples (kiosk_id, received_at, cpu_percent, memory_percent, disk_percent, "
                "temperature_c, devices_ok, devices_total, payload) "
                f"SELECT k.kiosk_id, {_time(backend, f'{int(raw_start.timestamp())} + ({chunk} + s.n) * {raw_interval_s} + k.i % {raw_interval_s}')}, "
                f"10 + ((k.i * 7 + {t} * 13 + s.n) % 50), 40 + (k.i % 20) + ({t} % 7), 50 + (k.i % 30) + {t} / 2000.0, "
                f"40 + (k.i % 10) + ({t} % 24) / 3.0, 5 - (CASE WHEN (k.i + {t}) % 97 = 0 THEN 1 ELSE 0 END), 5, "
                f"{payload.format(v=_version(backend, f'{t} / 24'))} "
                f"FROM {_kiosks_sql(backend, kiosks)} AS k CROSS JOIN {_series(backend, samples)} AS s"))
    with db.session() as s:
        for name, mark in (("health.hourly", raw_start), ("health.daily", hourly_start)):
            row = s.get(RollupState, name) or RollupState(name=name)
            row.done_until = mark
            s.add(row)
    return SeedReport(kiosks=kiosks, daily=kiosks * n_days, hourly=kiosks * n_hours, raw=kiosks * n_raw,
                      seconds=time.perf_counter() - started)


def seed_raw_hour(db: Database, hour: dt.datetime, kiosks: int, interval_s: int = 30) -> int:
    """One hour of raw samples for `kiosks` kiosks every `interval_s` (a real heartbeat):
    what the retention job aggregates every hour in steady state. Returns the rows."""
    backend, per_kiosk = db.backend, 3600 // interval_s
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO health_samples (kiosk_id, received_at, cpu_percent, memory_percent, disk_percent, "
            "temperature_c, devices_ok, devices_total, payload) "
            f"SELECT k.kiosk_id, {_time(backend, f'{int(hour.timestamp())} + s.n * {interval_s} + k.i % {interval_s}')}, "
            f"10 + ((k.i * 7 + s.n) % 50), 40 + (k.i % 20), 50 + (k.i % 30), 40 + (k.i % 10), 5, 5, "
            + ("json_object('app_version', '1.4.0') " if backend == "sqlite" else "json_build_object('app_version', '1.4.0') ")
            + f"FROM {_kiosks_sql(backend, kiosks)} AS k CROSS JOIN {_series(backend, per_kiosk)} AS s"))
    return kiosks * per_kiosk


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fleet.server.seed_history", description=__doc__.splitlines()[0])
    p.add_argument("url", help="SQLAlchemy URL of an empty (or kiosks-only) fleet database")
    p.add_argument("--kiosks", type=int, default=10_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--raw-days", type=float, default=7.0)
    p.add_argument("--raw-interval-s", type=int, default=600)
    p.add_argument("--hourly-days", type=float, default=90.0)
    args = p.parse_args(argv)
    db = Database(args.url)
    try:
        report = seed_history(db, args.kiosks, args.days, raw_days=args.raw_days, raw_interval_s=args.raw_interval_s,
                              hourly_days=args.hourly_days, progress=lambda m: print(m, file=sys.stderr))
    finally:
        db.close()
    print(f"seeded {report.kiosks} kiosks: {report.daily:,} daily, {report.hourly:,} hourly, {report.raw:,} raw rows "
          f"in {report.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
