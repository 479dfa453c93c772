"""Server time of the health-history charts on a year of data for 10,000 kiosks.

    .venv/bin/python bench/history.py [--kiosks 10000] [--days 365] [--runs 5] [--db URL | --keep PATH] [--steady-hour]

Seeds a database with `fleet.server.seed_history` (daily buckets a year back, hourly for
90 days, raw samples for the last 7 days; SQLite in a temporary directory by default,
`--keep PATH` keeps that file and reuses it next time, `--db` takes an empty PostgreSQL
database), runs the health retention job once (timed: it makes the last week's hourly
buckets from raw, the daily ones from hourly, and the fleet and version tables), then
asks the real ASGI app, logged in, for each chart — the JSON API and the console page —
`--runs` times, for random kiosks, in process (no network in the figure). Prints the
median and worst server time per request, the points each returned, and whether every
median is within the goal. `--steady-hour` also times the job on one hour of raw samples
at a real 30 s heartbeat (1.2 M rows for 10,000 kiosks), its hourly work in steady state.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHARTS = [  # (what, path with {k} for a kiosk id)
    ("kiosk 6 h (raw)", "/api/kiosks/{k}/history?range=6h"),
    ("kiosk 7 d (hourly)", "/api/kiosks/{k}/history?range=7d"),
    ("kiosk 90 d (daily)", "/api/kiosks/{k}/history?range=90d"),
    ("kiosk 1 y (daily)", "/api/kiosks/{k}/history?range=1y"),
    ("fleet 24 h (hourly)", "/api/history/fleet?range=24h"),
    ("fleet 7 d (hourly)", "/api/history/fleet?range=7d"),
    ("fleet 90 d (daily)", "/api/history/fleet?range=90d"),
    ("fleet 1 y (daily)", "/api/history/fleet?range=1y"),
    ("versions 7 d (hourly)", "/api/history/versions?range=7d"),
    ("versions 1 y (daily)", "/api/history/versions?range=1y"),
    ("page: kiosk 1 y", "/console/kiosks/{k}/history?range=1y"),
    ("page: kiosk 7 d", "/console/kiosks/{k}/history?range=7d"),
    ("page: fleet 1 y", "/console/history?range=1y"),
    ("page: fleet 7 d", "/console/history?range=7d"),
    ("page: fleet 30 d", "/console/history?range=30d"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--raw-interval-s", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="an empty PostgreSQL database (default: a temporary SQLite file)")
    parser.add_argument("--keep", type=Path, help="SQLite file to keep and reuse (seeded and aggregated once)")
    parser.add_argument("--goal-ms", type=float, default=200.0)
    parser.add_argument("--steady-hour", action="store_true",
                        help="also time the job on one hour of raw samples at a 30 s heartbeat (adds them)")
    args = parser.parse_args()

    from sqlalchemy import func, select
    from starlette.testclient import TestClient

    from fleet.server.auth import hash_password
    from fleet.server.health_retention import health_job
    from fleet.server.models import HealthSample, Kiosk, LoginSession, Operator, utcnow
    from fleet.server.models_history import HealthDaily, HealthHourly
    from fleet.server.rollup import floor_time
    from fleet.server.seed_history import seed_history, seed_raw_hour
    from fleet.server.service import FleetServer, ServerSettings
    from fleet.server.webapp import create_app

    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        reuse = bool(args.keep and args.keep.exists())
        url = args.db or f"sqlite:///{args.keep or Path(tmp) / 'fleet.db'}"
        server = FleetServer(ServerSettings(db_url=url, artifact_dir=Path(tmp) / "artifacts"))
        if reuse:
            print(f"reusing {args.keep}")
        else:
            report = seed_history(server.db, args.kiosks, args.days, raw_interval_s=args.raw_interval_s,
                                  progress=lambda m: print(f"  seeding {m}", file=sys.stderr))
            print(f"seeded {report.kiosks:,} kiosks, {args.days} days: {report.daily:,} daily + {report.hourly:,} "
                  f"hourly bucket rows, {report.raw:,} raw samples ({args.raw_interval_s} s apart) in {report.seconds:.0f} s")
            started = time.perf_counter()
            done = health_job(server.db).run_once()
            print(f"retention job, first run: {time.perf_counter() - started:.1f} s ({done})")
        started = time.perf_counter()
        again = health_job(server.db).run_once()
        print(f"retention job, next run: {(time.perf_counter() - started) * 1000:.0f} ms ({again})")
        with server.db.session() as s:
            counts = {name: s.scalar(select(func.count()).select_from(model))
                      for name, model in (("raw", HealthSample), ("hourly", HealthHourly), ("daily", HealthDaily))}
            kiosk_ids = list(s.scalars(select(Kiosk.kiosk_id).limit(args.kiosks)))
        print(f"database {server.db.backend}: {len(kiosk_ids):,} kiosks; rows: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

        if args.steady_hour:  # what the job does every hour for real: one hour at a 30 s heartbeat
            done_until = health_job(server.db).done_until("health.hourly")  # a fresh hour, even on a reused file
            hour = max(floor_time(utcnow(), dt.timedelta(hours=1)), done_until or utcnow())
            rows = seed_raw_hour(server.db, hour, len(kiosk_ids))
            later = hour + dt.timedelta(hours=1, minutes=6)
            started = time.perf_counter()
            done = health_job(server.db, clock=lambda: later).run_once()
            print(f"retention job, one hour of {len(kiosk_ids):,} kiosks at 30 s ({rows:,} samples) aggregated "
                  f"and an hour of raw deleted: {time.perf_counter() - started:.1f} s ({done})")
        token = secrets.token_urlsafe(32)
        with server.db.session() as session:
            if session.get(Operator, "bench") is None:
                session.add(Operator(username="bench", password_hash=hash_password(secrets.token_hex(8)), role="viewer"))
                session.flush()
            session.add(LoginSession(token_sha256=hashlib.sha256(token.encode()).hexdigest(), username="bench",
                                     created_at=utcnow(), expires_at=utcnow() + dt.timedelta(hours=1)))
        client = TestClient(create_app(server), cookies={"fleet_session": token})
        client.get("/console/history")  # templates compiled, statements cached: as a server that has been up
        rng = random.Random(7)
        worst_median = 0.0
        print(f"{'request':24s} {'points':>7s} {'median ms':>9s} {'worst ms':>8s}")
        for what, path in CHARTS:
            times, points = [], "?"
            for _ in range(args.runs):
                target = path.format(k=rng.choice(kiosk_ids))
                started = time.perf_counter()
                response = client.get(target)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                if target.startswith("/api/"):
                    body = response.json()
                    points = str(len(body.get("points", body.get("buckets", []))))
            median = statistics.median(times)
            worst_median = max(worst_median, median)
            print(f"{what:24s} {points:>7s} {median:9.1f} {max(times):8.1f}")
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        verdict = "met" if worst_median <= args.goal_ms else "NOT met"
        print(f"slowest median {worst_median:.1f} ms: goal ≤ {args.goal_ms:.0f} ms {verdict} ({args.runs} runs each, "
              f"server time in process: query + JSON/HTML; load average {load})")
        client.close()
        server.close()


if __name__ == "__main__":
    main()
