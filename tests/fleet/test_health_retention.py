"""Health retention (fleet/server/health_retention.py over fleet/server/rollup.py) on a small
seeded database, SQLite and PostgreSQL: the hourly / daily / fleet / version numbers
against the same figures computed in Python, raw rows past retention deleted only once
aggregated, a second run changing nothing, and a job killed with SIGKILL in the middle of
a transaction (aggregating, then deleting) ending, after a rerun, exactly where a clean
run ends.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from fleet.server.db import Database
from fleet.server.health_retention import RetentionSettings, health_job
from fleet.server.models import HealthSample, Kiosk
from fleet.server.models_history import (
    HealthDaily,
    HealthFleetDaily,
    HealthFleetHourly,
    HealthHourly,
    RollupState,
    VersionsDaily,
    VersionsHourly,
)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 10, 12, 7, tzinfo=UTC)
START = dt.datetime(2026, 5, 31, 0, 0, tzinfo=UTC)  # 10.5 days of raw history before NOW
STEP = dt.timedelta(minutes=10)
KIOSKS = ("k1", "k2")
SWITCH = dt.datetime(2026, 6, 5, 9, 30, tzinfo=UTC)  # k1 moves from 1.0.0 to 1.1.0
TABLES = (HealthHourly, HealthDaily, HealthFleetHourly, HealthFleetDaily, VersionsHourly, VersionsDaily)


def figures(kiosk: str, at: dt.datetime) -> dict:
    """Deterministic, varied figures; k2 has no temperature sensor and a NULL now and then."""
    i = int((at - START) / STEP)
    k = KIOSKS.index(kiosk)
    return dict(cpu_percent=float((i * 7 + k * 13) % 100), memory_percent=40.0 + (i % 5) + k,
                disk_percent=None if (k == 1 and i % 9 == 0) else 60.0 + k,
                temperature_c=(45.0 + i % 11) if k == 0 else None, devices_ok=5 - (i % 4 == 0), devices_total=5)


def version(kiosk: str, at: dt.datetime) -> str:
    return "1.1.0" if kiosk == "k1" and at >= SWITCH else "1.0.0"


def seed(db: Database) -> list[dict]:
    rows = []
    at = START
    while at < NOW:
        for kiosk in KIOSKS:
            rows.append(dict(kiosk_id=kiosk, received_at=at, payload={"app_version": version(kiosk, at)},
                             **figures(kiosk, at)))
        at += STEP
    with db.session() as s:
        s.add_all(Kiosk(kiosk_id=k) for k in KIOSKS)
        s.flush()
        s.execute(insert(HealthSample), rows)
    return rows


def snapshot(db: Database) -> dict:
    with db.session() as s:
        out = {}
        for model in TABLES:
            table = model.__table__
            out[table.name] = sorted(tuple(str(v) for v in row) for row in s.execute(select(table)))
        out["raw"] = s.scalar(select(func.count()).select_from(HealthSample))
        out["state"] = sorted((r.name, r.done_until) for r in s.scalars(select(RollupState)))
        return out


def expected(rows: list[dict], start: dt.datetime, end: dt.datetime, kiosk: str | None = None) -> dict:
    chosen = [r for r in rows if start <= r["received_at"] < end and (kiosk is None or r["kiosk_id"] == kiosk)]
    cpu = [r["cpu_percent"] for r in chosen]
    disk = [r["disk_percent"] for r in chosen if r["disk_percent"] is not None]
    temp = [r["temperature_c"] for r in chosen if r["temperature_c"] is not None]
    return dict(samples=len(chosen), cpu=(min(cpu), sum(cpu) / len(cpu), max(cpu)), disk_n=len(disk),
                disk_mean=sum(disk) / len(disk), temp_n=len(temp), temp=(min(temp), max(temp)) if temp else (None, None),
                dev_ok=(min(r["devices_ok"] for r in chosen), sum(r["devices_ok"] for r in chosen) / len(chosen)))


def check_bucket(row, want: dict) -> None:
    assert row.samples == want["samples"]
    assert (row.cpu_min, row.cpu_sum / row.cpu_n, row.cpu_max) == pytest.approx(want["cpu"])
    assert row.disk_n == want["disk_n"] and row.disk_sum / row.disk_n == pytest.approx(want["disk_mean"])
    assert row.temp_n == want["temp_n"] and (row.temp_min, row.temp_max) == want["temp"]
    assert (row.dev_ok_min, row.dev_ok_sum / row.dev_ok_n) == pytest.approx(want["dev_ok"])
    assert row.dev_total_max == 5


def test_downsampling_numbers_retention_and_a_second_run(db_url):
    db = Database(db_url)
    try:
        rows = seed(db)
        job = health_job(db, RetentionSettings(), clock=lambda: NOW)
        report = job.run_once()
        last_hour = dt.datetime(2026, 6, 10, 11, tzinfo=UTC)  # 12:00–13:00 is not closed at 12:07
        assert report.buckets["health.hourly"] == int((last_hour + dt.timedelta(hours=1) - START) / dt.timedelta(hours=1))
        assert job.done_until("health.hourly") == dt.datetime(2026, 6, 10, 12, tzinfo=UTC)
        assert job.done_until("health.daily") == dt.datetime(2026, 6, 10, tzinfo=UTC)

        with db.session() as s:
            hour = dt.datetime(2026, 6, 5, 9, tzinfo=UTC)  # k1 switched version inside this hour
            for kiosk in KIOSKS:
                row = s.get(HealthHourly, (kiosk, hour))
                check_bucket(row, expected(rows, hour, hour + dt.timedelta(hours=1), kiosk))
            assert s.get(HealthHourly, ("k1", hour)).app_version == "1.1.0"  # the highest in the bucket
            day = dt.datetime(2026, 6, 2, tzinfo=UTC)  # a day whose raw rows are gone by now
            for kiosk in KIOSKS:
                check_bucket(s.get(HealthDaily, (kiosk, day)), expected(rows, day, day + dt.timedelta(days=1), kiosk))
            fleet_day = s.get(HealthFleetDaily, day)
            assert fleet_day.kiosks == 2
            check_bucket(fleet_day, expected(rows, day, day + dt.timedelta(days=1)))
            fleet_hour = s.get(HealthFleetHourly, hour)
            assert fleet_hour.kiosks == 2
            check_bucket(fleet_hour, expected(rows, hour, hour + dt.timedelta(hours=1)))
            versions = dict(s.execute(select(VersionsDaily.app_version, VersionsDaily.kiosks)
                                      .where(VersionsDaily.bucket == dt.datetime(2026, 6, 7, tzinfo=UTC))).all())
            assert versions == {"1.0.0": 1, "1.1.0": 1}
            before = dict(s.execute(select(VersionsHourly.app_version, VersionsHourly.kiosks)
                                    .where(VersionsHourly.bucket == dt.datetime(2026, 6, 5, 8, tzinfo=UTC))).all())
            assert before == {"1.0.0": 2}
            assert s.scalar(select(func.count()).select_from(HealthDaily)) == 2 * 10  # May 31 .. June 9
            assert s.scalar(select(func.count()).select_from(HealthFleetDaily)) == 10

            oldest_raw = s.scalar(select(func.min(HealthSample.received_at)))
            cutoff = NOW - dt.timedelta(days=7)
            kept = [r for r in rows if r["received_at"] >= cutoff]
            assert s.scalar(select(func.count()).select_from(HealthSample)) == len(kept)
            assert oldest_raw.replace(tzinfo=UTC) >= cutoff  # raw past 7 days deleted ...
            assert s.get(HealthHourly, ("k1", START)) is not None  # ... after their hours were made

        first = snapshot(db)
        again = job.run_once()
        assert sum(again.buckets.values()) == 0 and sum(again.deleted.values()) == 0
        assert snapshot(db) == first  # run twice: the same result
    finally:
        db.close()


def test_raw_rows_are_deleted_only_once_aggregated(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'fleet.db'}")
    try:
        rows = seed(db)
        early = START + dt.timedelta(days=2, hours=5, minutes=30)
        health_job(db, clock=lambda: early).run_once()  # the job last ran long ago
        with db.session() as s:
            done = s.get(RollupState, "health.hourly").done_until
        assert done == START + dt.timedelta(days=2, hours=5)
        # now only the deletion runs (as if aggregation kept failing): the horizon is the
        # job's progress, not now - 7 days
        settings = RetentionSettings()
        from fleet.server.health_retention import retentions
        from fleet.server.rollup import RollupJob

        report = RollupJob(db, [], retentions(settings), clock=lambda: NOW).run_once()
        assert report.deleted["health_samples"] == sum(1 for r in rows if r["received_at"] < done)
        with db.session() as s:
            assert s.scalar(select(func.min(HealthSample.received_at))) == done
            hours = s.scalar(select(func.count()).select_from(HealthHourly))
        assert hours == 2 * int((done - START) / dt.timedelta(hours=1))  # every deleted hour is aggregated
    finally:
        db.close()


KILLER = r"""
import os, signal, sys, datetime as dt
from fleet.server.db import Database
from fleet.server.health_retention import health_job

url, where, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls = [0]

def dying_execute(self, statement, *args, **kwargs):
    result = real_execute(self, statement, *args, **kwargs)
    table = getattr(statement, "table", None)
    if where == "_aggregate" and getattr(statement, "is_insert", False) and table.name == "health_hourly":
        calls[0] += 1
        if calls[0] == after:
            os.kill(os.getpid(), signal.SIGKILL)  # inside the transaction, after its writes
    if where == "delete" and getattr(statement, "is_delete", False) and table.name == "health_samples":
        calls[0] += 1
        if calls[0] == after:
            os.kill(os.getpid(), signal.SIGKILL)  # a delete slice executed, not committed
    return result

from sqlalchemy.orm import Session
real_execute = Session.execute
Session.execute = dying_execute

now = dt.datetime.fromisoformat(sys.argv[4])
health_job(Database(url), clock=lambda: now).run_once()
print("finished without being killed")
"""


def _killed_run(url: str, where: str, after: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", KILLER, url, where, str(after), NOW.isoformat()], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)


def test_a_job_killed_midway_ends_where_a_clean_run_ends(tmp_path):
    clean, killed = Database(f"sqlite:///{tmp_path / 'clean.db'}"), Database(f"sqlite:///{tmp_path / 'killed.db'}")
    try:
        seed(clean)
        seed(killed)
        health_job(clean, clock=lambda: NOW).run_once()
        url = f"sqlite:///{tmp_path / 'killed.db'}"
        _killed_run(url, "_aggregate", 40)  # in the middle of the hourly step
        with killed.session() as s:
            partial = s.get(RollupState, "health.hourly").done_until
        assert START < partial < NOW  # it got somewhere, and not to the end
        _killed_run(url, "delete", 3)  # the rerun is killed again, deleting raw rows
        with killed.session() as s:
            assert s.get(RollupState, "health.daily") is not None
        health_job(killed, clock=lambda: NOW).run_once()
        assert snapshot(killed) == snapshot(clean)
    finally:
        clean.close()
        killed.close()


def test_history_api_and_console_pages_read_the_buckets(tmp_path):
    from fastapi.testclient import TestClient

    from fleet.server.service import FleetServer, ServerSettings
    from fleet.server.webapp import create_app

    server = FleetServer(ServerSettings(db_url=f"sqlite:///{tmp_path / 'fleet.db'}", artifact_dir=tmp_path / "a"))
    try:
        rows = seed(server.db)
        health_job(server.db, clock=lambda: NOW).run_once()
        server.auth.create_operator("viewer", "viewer-pass-1", "viewer")
        web = TestClient(create_app(server))
        assert web.post("/api/login", json={"username": "viewer", "password": "viewer-pass-1"}).status_code == 200
        fleet = web.get("/api/history/fleet", params={"range": "1y"}).json()
        assert fleet["resolution"] == "daily" and len(fleet["points"]) == 10
        june2 = next(p for p in fleet["points"] if p["at"].startswith("2026-06-02"))
        day = dt.datetime(2026, 6, 2, tzinfo=UTC)
        want = expected(rows, day, day + dt.timedelta(days=1))
        assert june2["kiosks"] == 2 and june2["samples"] == want["samples"]
        assert (june2["cpu"]["min"], june2["cpu"]["mean"], june2["cpu"]["max"]) == pytest.approx(want["cpu"])
        versions = web.get("/api/history/versions", params={"range": "1y"}).json()
        assert set(versions["versions"]) == {"1.0.0", "1.1.0"} and len(versions["buckets"]) == 10
        assert versions["versions"]["1.1.0"][-1] == 1 and versions["versions"]["1.0.0"][0] == 2
        kiosk = web.get("/api/kiosks/k2/history", params={"range": "90d"}).json()
        assert kiosk["resolution"] == "daily" and all(p["temp"] is None for p in kiosk["points"])
        assert web.get("/api/history/fleet", params={"range": "2y"}).status_code == 422

        page = web.get("/console/history", params={"range": "1y"})
        assert page.status_code == 200 and page.text.count('class="series"') == 4 + 1 + 2  # figures, kiosks, versions
        assert 'data-version="1.1.0"' in page.text and 'class="band"' in page.text
        kiosk_page = web.get("/console/kiosks/k1/history", params={"range": "1y"})
        assert kiosk_page.status_code == 200 and kiosk_page.text.count('class="series"') == 4
    finally:
        server.close()
