"""Server time of the console's kiosk list on a 10,000-kiosk fleet (goal: ≤ 200 ms each).

    .venv/bin/python bench/console_kiosks.py [--kiosks 10000] [--runs 5] [--url postgresql+psycopg://...]

Seeds a fresh database with `fleet.server.seed` (SQLite in a temporary directory by
default; the given PostgreSQL URL otherwise, which must point at an empty database),
then asks the real ASGI app (`fleet.server.webapp`, logged in as an operator) for each
page / filter / sort / paging request of the list, `--runs` times, in process (no
network in the figure). Prints per request the median and worst of the server's own
`Server-Timing` total (query + render) and the rows matched; the last line says whether
every median is within the goal. Also times `GET /api/kiosks/search` for the same filters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REQUESTS = [  # (what, query string)
    ("first page", ""),
    ("search id", "q=cq-yubei-01"),
    ("search hall (zh)", "q=解放碑"),
    ("search name (zh)", "q=观音桥2号机"),
    ("status offline", "status=offline"),
    ("status silent, by last seen", "status=silent&sort=last_seen&order=desc"),
    ("version", "version=1.4.2"),
    ("district", "region=主城都市区·中心城区&district=渝北区"),
    ("label tag", "label=pilot"),
    ("label group", "label=group:wanzhou"),
    ("device fault", "device=any:fault"),
    ("printer paper low", "device=printer:paper_low"),
    ("open critical alerts", "alerts=critical"),
    ("no open alert", "alerts=none"),
    ("sort by alerts", "sort=alerts&order=desc"),
    ("sort by status", "sort=status"),
    ("sort by hall", "sort=hall"),
    ("sort by version desc", "sort=version&order=desc"),
    ("page 2", "page=2"),
    ("page 100", "page=100"),
    ("last page, 100 per page", "per_page=100&page=100"),
    ("combined", "q=邮政&status=online&version=1.5.0&label=medical-check&device=any:fault&sort=alerts&order=desc"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a temporary SQLite file)")
    parser.add_argument("--goal-ms", type=float, default=200.0)
    args = parser.parse_args()

    from starlette.testclient import TestClient

    from fleet.server.auth import hash_password
    from fleet.server.models import LoginSession, Operator, utcnow
    from fleet.server.seed import seed
    from fleet.server.service import FleetServer, ServerSettings
    from fleet.server.webapp import create_app

    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'fleet.db'}"
        server = FleetServer(ServerSettings(db_url=url, artifact_dir=Path(tmp) / "artifacts"))
        report = seed(server.db, args.kiosks)
        print(f"database {server.db.backend}: {report.kiosks} kiosks in {report.halls} halls, "
              f"{report.alerts_open} open alerts (seeded in {report.seconds:.1f} s)")
        token = secrets.token_urlsafe(32)
        with server.db.session() as session:
            session.add(Operator(username="bench", password_hash=hash_password(secrets.token_hex(8)), role="operator"))
            session.flush()
            session.add(LoginSession(token_sha256=hashlib.sha256(token.encode()).hexdigest(), username="bench",
                                     created_at=utcnow(), expires_at=utcnow() + dt.timedelta(hours=1)))
        client = TestClient(create_app(server), cookies={"fleet_session": token})
        client.get("/console/")  # templates compiled, statements cached: as a server that has been up
        worst_median = 0.0
        print(f"{'request':32s} {'matched':>7s} {'median ms':>9s} {'(query)':>8s} {'worst ms':>8s} {'cpu ms':>7s}  {'api median ms':>13s}")
        for what, qs in REQUESTS:
            totals, dbs, cpus, api = [], [], [], []
            matched = "?"
            for _ in range(args.runs):
                response = client.get(f"/console/?{qs}")
                response.raise_for_status()
                timing = dict(re.findall(r"(\w+);dur=([\d.]+)", response.headers["server-timing"]))
                totals.append(float(timing["total"]))
                dbs.append(float(timing["db"]))
                cpus.append(float(timing["cpu"]))
                found = re.search(r'id="match-count">(\d+)', response.text)
                matched = found.group(1) if found else "?"
                started = time.perf_counter()
                client.get(f"/api/kiosks/search?{qs}").raise_for_status()
                api.append((time.perf_counter() - started) * 1000)
            median = statistics.median(totals)
            worst_median = max(worst_median, median)
            print(f"{what:32s} {matched:>7s} {median:9.1f} {statistics.median(dbs):8.1f} {max(totals):8.1f} {statistics.median(cpus):7.1f}  {statistics.median(api):13.1f}")
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        verdict = "met" if worst_median <= args.goal_ms else "NOT met"
        print(f"slowest median {worst_median:.1f} ms: goal ≤ {args.goal_ms:.0f} ms {verdict} "
              f"({args.runs} runs each, server time = query + render, from Server-Timing; "
              f"cpu = the request thread's CPU time; load average {load})")
        client.close()
        server.close()


if __name__ == "__main__":
    main()
