"""Service statistics on a 10,000-kiosk fleet: folding a day of flow events in, and the
statistics page / CSV answering from the aggregates.

    .venv/bin/python bench/console_stats.py [--kiosks 10000] [--sessions 5] [--days 7] [--runs 3] [--url URL]

Seeds a fresh database (`fleet.server.seed`: kiosks in Chongqing's districts), then
`--sessions` flow events per kiosk for today (stored as the ingest stores them) and
`--days` − 1 earlier days of aggregate rows, then times `StatsAggregator.tick` over
today's events (events per second) and the real ASGI app's `/console/stats` and
`/console/stats.csv` for several selections, `--runs` times each, in process (no network
in the figure). Prints the median and worst wall time per request.
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

FLOWS = (("licence-renewal", 9, 240), ("tax-invoice", 5, 45), ("fine-payment", 4, 60), ("vehicle-licence", 7, 180),
         ("card-top-up", 3, 40))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=5, help="flow events per kiosk today")
    parser.add_argument("--days", type=int, default=7, help="days of data, today included")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a temporary SQLite file)")
    args = parser.parse_args()

    from sqlalchemy import insert, select
    from starlette.testclient import TestClient

    from fleet.protocol import Event as EventMessage
    from fleet.server.auth import hash_password
    from fleet.server.models import Event, KioskSite, LoginSession, Operator, ServiceDaily, utcnow
    from fleet.server.seed import seed
    from fleet.server.service import FleetServer, ServerSettings
    from fleet.server.stats import HIST, bucket_of
    from fleet.server.webapp import create_app

    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'fleet.db'}"
        server = FleetServer(ServerSettings(db_url=url, artifact_dir=Path(tmp) / "artifacts"))
        report = seed(server.db, args.kiosks)
        with server.db.session() as session:
            kiosks = list(session.scalars(select(KioskSite.kiosk_id)))
            district = dict(session.execute(select(KioskSite.kiosk_id, KioskSite.district)).all())
        now = utcnow()
        started = time.perf_counter()
        events = []
        for kiosk_id in kiosks:
            for _ in range(args.sessions):
                flow, steps, typical = rng.choice(FLOWS)
                at = now - dt.timedelta(seconds=rng.uniform(0, 3600 * 6))
                duration = rng.lognormvariate(0, 0.4) * typical
                if rng.random() < 0.15:
                    step_no = rng.randint(1, steps)
                    msg = EventMessage(kiosk_id=kiosk_id, ts=at, kind="flow_aborted", flow=flow, count=1,
                                       step=f"step_{step_no}", step_no=step_no, duration_s=duration / 2,
                                       reason=rng.choice(("cancelled", "idle_timeout", "device_fault")))
                else:
                    msg = EventMessage(kiosk_id=kiosk_id, ts=at, kind="flow_completed", flow=flow, count=1,
                                       step="done", step_no=steps, duration_s=duration)
                payload = msg.model_dump(mode="json")
                events.append(dict(kiosk_id=kiosk_id, event_id=payload["id"], received_at=at, kind=payload["kind"],
                                   severity="info", payload=payload))
        with server.db.session() as session:
            for i in range(0, len(events), 5000):
                session.execute(insert(Event), events[i:i + 5000])
        today = server.stats.today()
        rows = []
        for back in range(1, args.days):
            day = today - dt.timedelta(days=back)
            for kiosk_id in kiosks:
                for flow, _, typical in rng.sample(FLOWS, 3):
                    n = rng.randint(1, 8)
                    hist = {h: 0 for h in HIST}
                    hist[HIST[bucket_of(typical)]] = n
                    rows.append(dict(period="day", day=day, kiosk_id=kiosk_id, flow=flow, sessions=n, completed=n - 1,
                                     aborted=1, duration_n=n, duration_sum_s=float(n * typical), **hist))
        with server.db.session() as session:
            for i in range(0, len(rows), 5000):
                session.execute(insert(ServiceDaily), rows[i:i + 5000])
        print(f"database {server.db.backend}: {report.kiosks} kiosks in {len(set(district.values()))} districts; "
              f"{len(events)} flow events today, {len(rows)} daily rows for {args.days - 1} earlier days "
              f"(seeded in {time.perf_counter() - started:.1f} s)")

        started = time.perf_counter()
        folded = server.stats.tick()
        seconds = time.perf_counter() - started
        print(f"fold in: {folded} events in {seconds:.2f} s = {folded / seconds:,.0f} events/s")

        token = secrets.token_urlsafe(32)
        with server.db.session() as session:
            session.add(Operator(username="bench", password_hash=hash_password(secrets.token_hex(8)), role="viewer"))
            session.flush()
            session.add(LoginSession(token_sha256=hashlib.sha256(token.encode()).hexdigest(), username="bench",
                                     created_at=utcnow(), expires_at=utcnow() + dt.timedelta(hours=1)))
        client = TestClient(create_app(server), cookies={"fleet_session": token})
        some_district = rng.choice(sorted(set(district.values())))
        week = f"start={(today - dt.timedelta(days=args.days - 1)).isoformat()}&end={today.isoformat()}"
        requests = [("today", "/console/stats"), ("today, one district", f"/console/stats?district={some_district}"),
                    ("today, one service", "/console/stats?flow=licence-renewal"),
                    (f"{args.days} days", f"/console/stats?{week}"),
                    ("CSV districts, today", "/console/stats.csv?table=districts"),
                    (f"CSV every kiosk, {args.days} days", f"/console/stats.csv?table=kiosks&{week}")]
        client.get("/console/stats").raise_for_status()  # templates compiled: as a server that has been up
        print(f"{'request':32s} {'median ms':>9s} {'worst ms':>8s} {'bytes':>9s}")
        for what, path in requests:
            times, size = [], 0
            for _ in range(args.runs):
                t0 = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                response.raise_for_status()
                size = len(response.content)
            print(f"{what:32s} {statistics.median(times):9.0f} {max(times):8.0f} {size:9d}")
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        print(f"({args.runs} runs each, wall time in process incl. render; load average {load}; "
              f"the district: {some_district})")
        client.close()
        server.close()


if __name__ == "__main__":
    main()
