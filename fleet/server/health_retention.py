"""Health history retention: raw samples for 7 days, hourly buckets for 90 days, daily
buckets for ever (all configurable, `RetentionSettings`), by the generic job in
fleet/server/rollup.py.

    health_samples ──hourly──▶ health_hourly ──daily──▶ health_daily          (per kiosk)
                                   ├──▶ health_fleet_hourly      health_daily ──▶ health_fleet_daily
                                   └──▶ health_versions_hourly   health_daily ──▶ health_versions_daily

The fleet tables hold one row per bucket for the whole fleet (kiosks reporting, the
figures' min/max/sum/n over all of them), and the version tables how many kiosks ran
each app version — so a year-long fleet chart or a rollout's adoption curve reads a few
hundred rows, not millions. A kiosk's version in a bucket is the highest (as text) it
reported there.

`python -m fleet.server.health_retention --db URL [--raw-days 7 --hourly-days 90
--daily-days 0 --day-offset-hours 8]` runs the job once and prints what it did (cron,
or after seeding a database); the fleet server runs it every `every_s` seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass

from sqlalchemy import func

from fleet.server.db import Database
from fleet.server.models import HealthSample
from fleet.server.models_history import (
    HealthDaily,
    HealthFleetDaily,
    HealthFleetHourly,
    HealthHourly,
    VersionsDaily,
    VersionsHourly,
)
from fleet.server.rollup import Measure, Retention, RollupJob, Step, combine_level, first_level

MEASURES = (Measure("cpu_percent", "cpu"), Measure("memory_percent", "mem"), Measure("disk_percent", "disk"),
            Measure("temperature_c", "temp"), Measure("devices_ok", "dev_ok"))
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


@dataclass
class RetentionSettings:
    raw_days: float = 7.0
    hourly_days: float = 90.0
    daily_days: float | None = None  # None: for ever
    every_s: float = 300.0  # how often the server runs the job
    day_offset_hours: float = 0.0  # days start at local midnight of UTC+this (8: China); fix it before data exists
    grace_s: float = 300.0  # an hour is aggregated this long after it ended


def _raw_columns(src):
    columns = first_level(MEASURES)(src)
    columns["dev_total_max"] = func.max(src.c.devices_total)
    columns["app_version"] = func.coalesce(func.max(src.c.payload["app_version"].as_string()), "")
    return columns


def _kiosk_bucket_columns(src):
    columns = combine_level(MEASURES)(src)
    columns["dev_total_max"] = func.max(src.c.dev_total_max)
    columns["app_version"] = func.max(src.c.app_version)
    return columns


def _fleet_columns(src):
    columns = combine_level(MEASURES)(src)
    columns["dev_total_max"] = func.max(src.c.dev_total_max)
    columns["kiosks"] = func.count()
    return columns


def _version_columns(src):
    return {"kiosks": func.count()}


def steps(settings: RetentionSettings) -> list[Step]:
    day_offset = dt.timedelta(hours=settings.day_offset_hours)
    raw, hourly, daily = HealthSample.__table__, HealthHourly.__table__, HealthDaily.__table__
    return [
        Step("health.hourly", raw, "received_at", hourly, "bucket", HOUR, ("kiosk_id",), _raw_columns),
        Step("health.daily", hourly, "bucket", daily, "bucket", DAY, ("kiosk_id",), _kiosk_bucket_columns,
             upstream="health.hourly", chunk=7, offset=day_offset),
        Step("health.fleet_hourly", hourly, "bucket", HealthFleetHourly.__table__, "bucket", HOUR, (), _fleet_columns,
             upstream="health.hourly", chunk=24),
        Step("health.versions_hourly", hourly, "bucket", VersionsHourly.__table__, "bucket", HOUR, ("app_version",),
             _version_columns, upstream="health.hourly", chunk=24),
        Step("health.fleet_daily", daily, "bucket", HealthFleetDaily.__table__, "bucket", DAY, (), _fleet_columns,
             upstream="health.daily", chunk=31, offset=day_offset),
        Step("health.versions_daily", daily, "bucket", VersionsDaily.__table__, "bucket", DAY, ("app_version",),
             _version_columns, upstream="health.daily", chunk=31, offset=day_offset),
    ]


def retentions(settings: RetentionSettings) -> list[Retention]:
    raw_keep, hourly_keep = dt.timedelta(days=settings.raw_days), dt.timedelta(days=settings.hourly_days)
    out = [
        Retention(HealthSample.__table__, "received_at", raw_keep, after=("health.hourly",), slice=HOUR),
        Retention(HealthHourly.__table__, "bucket", hourly_keep,
                  after=("health.daily", "health.fleet_hourly", "health.versions_hourly"), slice=DAY),
        Retention(HealthFleetHourly.__table__, "bucket", hourly_keep, slice=30 * DAY),
        Retention(VersionsHourly.__table__, "bucket", hourly_keep, slice=30 * DAY),
    ]
    if settings.daily_days:
        daily_keep = dt.timedelta(days=settings.daily_days)
        out += [Retention(HealthDaily.__table__, "bucket", daily_keep,
                          after=("health.fleet_daily", "health.versions_daily"), slice=7 * DAY),
                Retention(HealthFleetDaily.__table__, "bucket", daily_keep, slice=365 * DAY),
                Retention(VersionsDaily.__table__, "bucket", daily_keep, slice=365 * DAY)]
    return out


def health_job(db: Database, settings: RetentionSettings | None = None, **kwargs) -> RollupJob:
    settings = settings or RetentionSettings()
    return RollupJob(db, steps(settings), retentions(settings), grace=dt.timedelta(seconds=settings.grace_s), **kwargs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fleet.server.health_retention", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", required=True, help="SQLAlchemy URL of the fleet database")
    p.add_argument("--raw-days", type=float, default=7.0)
    p.add_argument("--hourly-days", type=float, default=90.0)
    p.add_argument("--daily-days", type=float, default=0.0, help="0: keep daily buckets for ever")
    p.add_argument("--day-offset-hours", type=float, default=0.0, help="8: days from local midnight at UTC+8")
    args = p.parse_args(argv)
    db = Database(args.db)
    try:
        settings = RetentionSettings(raw_days=args.raw_days, hourly_days=args.hourly_days,
                                     daily_days=args.daily_days or None, day_offset_hours=args.day_offset_hours)
        print(health_job(db, settings).run_once())
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
