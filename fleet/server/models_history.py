"""Tables of the downsampled health history (fleet/server/health_retention.py fills them).

Beside models.py (same `Base`, so the same migrations and metadata) to keep that module
small. Importers of `Base.metadata` that need every table (the Alembic environment, the
schema test) import this module too.

Each bucket row keeps min / max / sum / n of every charted figure: the mean is sum / n,
so hours combine into days exactly, and a chart can draw a min–max band around the mean.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fleet.server.models import Base


class HealthFigures:
    """min / max / sum / n of each charted figure over a bucket; `samples` health
    messages went into it."""

    samples: Mapped[int] = mapped_column(Integer)
    cpu_min: Mapped[float | None] = mapped_column(Float)
    cpu_max: Mapped[float | None] = mapped_column(Float)
    cpu_sum: Mapped[float | None] = mapped_column(Float)
    cpu_n: Mapped[int] = mapped_column(Integer)
    mem_min: Mapped[float | None] = mapped_column(Float)
    mem_max: Mapped[float | None] = mapped_column(Float)
    mem_sum: Mapped[float | None] = mapped_column(Float)
    mem_n: Mapped[int] = mapped_column(Integer)
    disk_min: Mapped[float | None] = mapped_column(Float)
    disk_max: Mapped[float | None] = mapped_column(Float)
    disk_sum: Mapped[float | None] = mapped_column(Float)
    disk_n: Mapped[int] = mapped_column(Integer)
    temp_min: Mapped[float | None] = mapped_column(Float)
    temp_max: Mapped[float | None] = mapped_column(Float)
    temp_sum: Mapped[float | None] = mapped_column(Float)
    temp_n: Mapped[int] = mapped_column(Integer)
    dev_ok_min: Mapped[float | None] = mapped_column(Float)
    dev_ok_max: Mapped[float | None] = mapped_column(Float)
    dev_ok_sum: Mapped[float | None] = mapped_column(Float)
    dev_ok_n: Mapped[int] = mapped_column(Integer)
    dev_total_max: Mapped[int | None] = mapped_column(Integer)


class _KioskBucket(HealthFigures):
    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[dt.datetime] = mapped_column(primary_key=True)  # start of the bucket (UTC)
    app_version: Mapped[str] = mapped_column(String(64), default="")  # highest reported in the bucket


class HealthHourly(_KioskBucket, Base):
    """One kiosk's health over one hour."""

    __tablename__ = "health_hourly"
    __table_args__ = (Index("ix_health_hourly_bucket", "bucket"),)


class HealthDaily(_KioskBucket, Base):
    """One kiosk's health over one day, made from its hourly rows; kept for ever by default."""

    __tablename__ = "health_daily"
    __table_args__ = (Index("ix_health_daily_bucket", "bucket"),)


class _FleetBucket(HealthFigures):
    bucket: Mapped[dt.datetime] = mapped_column(primary_key=True)
    kiosks: Mapped[int] = mapped_column(Integer)  # kiosks that reported in the bucket


class HealthFleetHourly(_FleetBucket, Base):
    """The whole fleet's health over one hour, from the kiosks' hourly rows (the fleet
    chart reads one row per bucket, however many kiosks there are)."""

    __tablename__ = "health_fleet_hourly"


class HealthFleetDaily(_FleetBucket, Base):
    __tablename__ = "health_fleet_daily"


class _VersionBucket:
    bucket: Mapped[dt.datetime] = mapped_column(primary_key=True)
    app_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosks: Mapped[int] = mapped_column(Integer)


class VersionsHourly(_VersionBucket, Base):
    """How many kiosks ran each app version in an hour: rollout progress over time."""

    __tablename__ = "health_versions_hourly"


class VersionsDaily(_VersionBucket, Base):
    __tablename__ = "health_versions_daily"


class RollupState(Base):
    """How far a downsampling step has aggregated: every bucket before `done_until` is in
    its target table (fleet/server/rollup.py advances it in the same transaction)."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    done_until: Mapped[dt.datetime]
