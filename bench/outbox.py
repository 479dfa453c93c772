"""Outbox benchmark: queue N submissions while the back office is down, then drain them into it.

    .venv/bin/python bench/outbox.py [--count 1000] [--window 8]

Each "session" queues what an offline licence renewal queues: the application, the
waybill and the payment order, in the journal database with the kiosk's real settings
(WAL, synchronous=FULL, AES-GCM bodies). The reference back office then runs as its own
process (`python -m backoffice.cli`, SQLite) and `Forwarder.drain` sends everything.
Prints the journal write (enqueue) latency p50/p95/p99 and the drain rate, and checks
that the back office holds each submission exactly once. Goals (issue #14): journal
write ≤ 5 ms p95, drain ≥ 200 per second on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backoffice import seed  # noqa: E402
from backoffice.testing import address, make_id, medical, submissions  # noqa: E402
from flows.outbox import CircuitBreaker, Forwarder, OutboxStore  # noqa: E402
from flows.services import HttpBackOffice  # noqa: E402
from flows.services.models import LicenceRenewalRequest, PaymentOrderRequest, WaybillRequest  # noqa: E402
from kiosk.runflow import ManagedBackOffice  # noqa: E402


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def queue(store: OutboxStore, count: int) -> list[float]:
    """Enqueue `count` writes (renewal, waybill, order per session); returns each write's seconds."""
    times: list[float] = []
    session = 0
    examined = dt.datetime.now(dt.timezone.utc)
    while len(times) < count:
        session += 1
        lane = f"bench-{session:06d}"
        ref = store.issue_reference(f"{lane}-reference")
        id_number = make_id(f"50010319{70 + session % 20:02d}0{1 + session % 9}1{session % 10}{session % 1000:03d}")
        licence = seed.licence_for(id_number, dt.date.today())
        assert licence is not None
        writes = [
            ("renew_licence", LicenceRenewalRequest(id_number=id_number, licence_class=licence.licence_class,
                                                    medical=medical(examined_at=examined), provisional_reference=ref)),
            ("create_waybill", WaybillRequest(address=address(), contents="机动车驾驶证", reference=ref)),
            ("create_order", PaymentOrderRequest(amount_fen=2500, description="驾驶证换证工本费及邮费", reference=ref)),
        ]
        for kind, body in writes[: count - len(times)]:
            t0 = time.perf_counter()
            store.enqueue(kind, body, f"{lane}-{kind}", lane=lane, reference=ref)
            times.append(time.perf_counter() - t0)
    return times


async def drain(store: OutboxStore, url: str) -> tuple[float, object]:
    async with HttpBackOffice(url, retries=2, timeout=10) as backoffice:
        forwarder = Forwarder(store, backoffice, breaker=CircuitBreaker(base_s=0.1, max_s=1.0))
        t0 = time.perf_counter()
        report = await forwarder.drain(max_failures=20)
        return time.perf_counter() - t0, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        root = Path(tmp)
        with OutboxStore(root / "state", kiosk_id="bench-1") as store:
            writes = queue(store, args.count)
            depth = store.stats().depth
            server = ManagedBackOffice(root / "bo.sqlite3", pay_after=0).start()
            try:
                elapsed, report = asyncio.run(drain(store, server.url))
                held = submissions(server.url)
            finally:
                server.stop()
            left = store.stats().depth
    ms = [t * 1000 for t in writes]
    kinds: dict[str, int] = {}
    for s in held:
        kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    once = len(held) == depth and len({s["idempotency_key"] for s in held}) == len(held)
    print(f"queued {depth} submissions (back office down)")
    print(f"journal write (enqueue, fsync'd): p50 {statistics.median(ms):.2f} ms  p95 {_percentile(ms, 95):.2f} ms  "
          f"p99 {_percentile(ms, 99):.2f} ms  max {max(ms):.2f} ms   goal p95 <= 5 ms")
    print(f"drain: {report.delivered} delivered in {elapsed:.2f} s = {report.delivered / elapsed:.0f} per second   "
          f"goal >= 200/s   ({report.failures} failed attempts, {report.parked} parked, {left} left)")
    print(f"back office holds {len(held)}: {dict(sorted(kinds.items()))}; each exactly once: {once}")
    return 0 if once and left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
