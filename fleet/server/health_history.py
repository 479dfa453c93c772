"""Read models of the health history over a time range, for the API and the console charts.

Each query picks the coarsest table that still gives enough points, so the work is
bounded by the number of points drawn, not by the fleet size or the length of history:

| range      | one kiosk                  | the fleet, app versions            |
|------------|----------------------------|------------------------------------|
| ≤ 12 h     | raw samples                | hourly fleet / version buckets     |
| ≤ 14 days  | hourly buckets (≤ 336)     | hourly (≤ 336 rows)                |
| longer     | daily buckets (≤ 366/year) | daily (≤ 366 rows a year)          |

Buckets exist up to the last hour the retention job closed (it runs every few minutes),
so the newest hour of an hourly chart appears a little after it ends.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.server.models import HealthSample
from fleet.server.models_history import (
    HealthDaily,
    HealthFleetDaily,
    HealthFleetHourly,
    HealthHourly,
    VersionsDaily,
    VersionsHourly,
)

RANGES = {"6h": dt.timedelta(hours=6), "24h": dt.timedelta(days=1), "7d": dt.timedelta(days=7),
          "30d": dt.timedelta(days=30), "90d": dt.timedelta(days=90), "1y": dt.timedelta(days=365)}
RAW_UP_TO, HOURLY_UP_TO = dt.timedelta(hours=12), dt.timedelta(days=14)
FIGURES = (("cpu", "cpu_percent"), ("mem", "memory_percent"), ("disk", "disk_percent"), ("temp", "temperature_c"),
           ("dev_ok", "devices_ok"))


class Stat(BaseModel):
    mean: float
    min: float
    max: float


class HistoryPoint(BaseModel):
    at: dt.datetime  # start of the bucket (the sample's time for raw points)
    samples: int
    kiosks: int | None = None  # fleet points: kiosks that reported in the bucket
    cpu: Stat | None = None
    mem: Stat | None = None
    disk: Stat | None = None
    temp: Stat | None = None
    dev_ok: Stat | None = None
    dev_total: int | None = None


class History(BaseModel):
    resolution: str  # raw | hourly | daily
    start: dt.datetime
    end: dt.datetime
    points: list[HistoryPoint]


class VersionHistory(BaseModel):
    resolution: str
    start: dt.datetime
    end: dt.datetime
    buckets: list[dt.datetime]
    versions: dict[str, list[int]]  # version -> kiosks in each bucket (0 where none)


def parse_range(name: str) -> dt.timedelta:
    try:
        return RANGES[name]
    except KeyError:
        raise ValueError(f"range must be one of {', '.join(RANGES)}") from None


def _stat(row: Any, prefix: str) -> Stat | None:
    n = getattr(row, f"{prefix}_n")
    if not n:
        return None
    return Stat(mean=getattr(row, f"{prefix}_sum") / n, min=getattr(row, f"{prefix}_min"), max=getattr(row, f"{prefix}_max"))


def _bucket_point(row: Any, kiosks: int | None = None) -> HistoryPoint:
    return HistoryPoint(at=row.bucket, samples=row.samples, kiosks=kiosks, dev_total=row.dev_total_max,
                        **{prefix: _stat(row, prefix) for prefix, _ in FIGURES})


def _raw_point(row: HealthSample) -> HistoryPoint:
    stats = {}
    for prefix, column in FIGURES:
        value = getattr(row, column)
        stats[prefix] = None if value is None else Stat(mean=value, min=value, max=value)
    return HistoryPoint(at=row.received_at, samples=1, dev_total=row.devices_total, **stats)


def kiosk_history(session: Session, kiosk_id: str, span: dt.timedelta, now: dt.datetime | None = None) -> History:
    now = now or dt.datetime.now(dt.timezone.utc)
    start = now - span
    if span <= RAW_UP_TO:
        rows = session.scalars(select(HealthSample).where(HealthSample.kiosk_id == kiosk_id,
                                                          HealthSample.received_at >= start)
                               .order_by(HealthSample.received_at))
        return History(resolution="raw", start=start, end=now, points=[_raw_point(r) for r in rows])
    model, resolution = (HealthHourly, "hourly") if span <= HOURLY_UP_TO else (HealthDaily, "daily")
    rows = session.scalars(select(model).where(model.kiosk_id == kiosk_id, model.bucket >= start).order_by(model.bucket))
    return History(resolution=resolution, start=start, end=now, points=[_bucket_point(r) for r in rows])


def fleet_history(session: Session, span: dt.timedelta, now: dt.datetime | None = None) -> History:
    now = now or dt.datetime.now(dt.timezone.utc)
    start = now - span
    model, resolution = (HealthFleetHourly, "hourly") if span <= HOURLY_UP_TO else (HealthFleetDaily, "daily")
    rows = session.scalars(select(model).where(model.bucket >= start).order_by(model.bucket))
    return History(resolution=resolution, start=start, end=now, points=[_bucket_point(r, r.kiosks) for r in rows])


def version_history(session: Session, span: dt.timedelta, now: dt.datetime | None = None) -> VersionHistory:
    """Kiosks per app version over time: how a rollout spread through the fleet."""
    now = now or dt.datetime.now(dt.timezone.utc)
    start = now - span
    model, resolution = (VersionsHourly, "hourly") if span <= HOURLY_UP_TO else (VersionsDaily, "daily")
    rows = session.execute(select(model.bucket, model.app_version, model.kiosks).where(model.bucket >= start)
                           .order_by(model.bucket)).all()
    buckets = sorted({r.bucket for r in rows})
    index = {b: i for i, b in enumerate(buckets)}
    versions: dict[str, list[int]] = {}
    for r in rows:
        versions.setdefault(r.app_version or "unknown", [0] * len(buckets))[index[r.bucket]] += r.kiosks
    return VersionHistory(resolution=resolution, start=start, end=now, buckets=buckets, versions=versions)
