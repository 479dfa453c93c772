"""Ingest workers: N processes that share the kiosk channels and one PostgreSQL.

    python -m fleet.server.workers --index 1 --db postgresql+psycopg://... \
        --mqtt broker:8883 --pki /etc/kiosk-fleet/pki

Each worker connects with its own certificate (``fleet-ingest.<index>``: the broker binds
the client id to the CN, so workers cannot share one) and subscribes to
``$share/fleet-ingest/kiosk/+/<channel>`` (MQTT 5 shared subscriptions, in Mosquitto and
EMQX alike): the broker hands each message to one worker of the group. A worker is the
ordinary `Ingest` (batched, acknowledged after commit, bulk health path) without the
sweeps, which the main server keeps. `WorkerPool` starts and stops them for
`FleetServer` (`ServerSettings.ingest_workers`).

Persistent sessions (clean start off) mean a worker restarted with the same index gets
what was queued for it meanwhile. A worker that stays away has its share queued by the
broker until its session expires; see docs/fleet-server.md "Scale-out".
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from fleet.broker.runner import terminate
from fleet.server.db import Database
from fleet.server.ingest import Ingest
from fleet.server.mqtt import MqttLink, MqttSettings

SHARE_GROUP = "fleet-ingest"
log = logging.getLogger(__name__)
# Cyclic GC: a batch of 1,000 messages makes ~100,000 short-lived containers (parsed JSON,
# models) and none of them cycles, yet with CPython's default thresholds (700, 10, 10)
# the collector kept re-walking them and the long-lived heap (SQLAlchemy, pydantic):
# ~40 µs per message, a third of a worker's CPU. What the process holds after start-up is
# frozen out of collection, and collections come every 50,000 allocations instead.
GC_THRESHOLDS = (50_000, 20, 100)
LINGER_S = 0.5


def tune_gc() -> None:
    """After start-up: freeze what is there, collect rarely (see GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def identity_name(index: int) -> str:
    return f"{SHARE_GROUP}.{index}"


def run(index: int, db_url: str, mqtt: MqttSettings, *, batch_size: int = 1000,
        stop: threading.Event | None = None) -> None:
    """One worker until `stop` is set (or SIGTERM, when run as a process)."""
    stop = stop or threading.Event()
    db = Database(db_url, run_migrations=False)  # the main server migrated the schema
    link: MqttLink | None = None
    # linger: a batch costs ~1.5 ms of fixed CPU (connection, lookup, two COPYs, the
    # INSERT + lock + UPDATE, commit); at a few hundred messages a second per worker, short
    # batches would spend most of the CPU on that. 500 ms bounds the added latency
    # (heartbeats are 30 s apart; a command's result reaches the console ≤ 0.5 s later).
    ingest = Ingest(db, lambda batch: link.ack(batch), batch_size=batch_size, sweeps=False, linger_s=LINGER_S)
    link = MqttLink(mqtt, ingest.submit, kiosk_channels=True, share_group=SHARE_GROUP, presence=False)
    tune_gc()
    ingest.start()
    link.start()
    log.info("ingest worker %d on %s:%d", index, mqtt.host, mqtt.port)
    while not stop.wait(0.5):
        if _stats_asked.is_set():
            _stats_asked.clear()
            log.info("ingest worker %d stats: %s", index, stats_line(ingest))
    link.stop()
    ingest.stop()
    process_cpu = sum(os.times()[:2])
    log.info("ingest worker %d: %d messages in %d batches; writer CPU %.2f s (decoding %.2f s), process CPU %.2f s",
             index, ingest.stored, ingest.batches, ingest.cpu_s, ingest.decode_cpu_s, process_cpu)
    log.info("ingest worker %d stats: %s", index, stats_line(ingest))
    db.close()


_stats_asked = threading.Event()  # SIGUSR1: log the counters (bench/fleet.py --saturate reads them)


def stats_line(ingest: Ingest) -> str:
    """The worker's counters as ``key=value`` pairs (see `parse_stats`)."""
    cpu = os.times()
    return (f"handled={ingest.stored} rejected={ingest.rejected} batches={ingest.batches} "
            f"writer_cpu={ingest.cpu_s:.3f} decode_cpu={ingest.decode_cpu_s:.3f} process_cpu={cpu[0] + cpu[1]:.3f}")


def parse_stats(line: str) -> dict[str, float]:
    return {k: float(v) for k, v in (pair.split("=", 1) for pair in line.rsplit("stats: ", 1)[1].split())}


class WorkerPool:
    """`count` worker processes for a FleetServer; their certificates in `pki/services/`."""

    def __init__(self, count: int, db_url: str, mqtt: MqttSettings, pki: Path, log_dir: Path | None = None) -> None:
        self.count, self.db_url, self.mqtt, self.pki = count, db_url, mqtt, Path(pki)
        self.log_dir = Path(log_dir) if log_dir else None
        self.procs: list[subprocess.Popen] = []

    def argv(self, index: int) -> list[str]:
        name = identity_name(index)
        return [sys.executable, "-m", "fleet.server.workers", "--index", str(index), "--db", self.db_url,
                "--mqtt", f"{self.mqtt.host}:{self.mqtt.port}", "--ca", self.mqtt.ca or str(self.pki / "ca.crt"),
                "--cert", str(self.pki / "services" / f"{name}.crt"), "--key", str(self.pki / "services" / f"{name}.key")]

    def start(self) -> None:
        for index in range(1, self.count + 1):
            out = subprocess.DEVNULL
            if self.log_dir:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = open(self.log_dir / f"{identity_name(index)}.log", "ab")
            self.procs.append(subprocess.Popen(self.argv(index), stdout=out, stderr=subprocess.STDOUT,
                                               cwd=Path(__file__).resolve().parents[2]))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self, timeout: float = 10.0) -> None:
        for proc in self.procs:
            terminate(proc, timeout)
        self.procs = []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fleet.server.workers", description=__doc__.split("\n\n")[0])
    p.add_argument("--index", type=int, required=True, help="1..N; the certificate is fleet-ingest.<index>")
    p.add_argument("--db", required=True, help="SQLAlchemy URL of the shared database (PostgreSQL)")
    p.add_argument("--mqtt", required=True, metavar="HOST:PORT")
    p.add_argument("--pki", type=Path, help="directory with ca.crt and services/fleet-ingest.<index>.{crt,key}")
    p.add_argument("--ca", type=Path)
    p.add_argument("--cert", type=Path)
    p.add_argument("--key", type=Path)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    name = identity_name(args.index)
    ca = args.ca or (args.pki / "ca.crt" if args.pki else None)
    cert = args.cert or (args.pki / "services" / f"{name}.crt" if args.pki else None)
    key = args.key or (args.pki / "services" / f"{name}.key" if args.pki else None)
    missing = [n for n, path in (("--ca", ca), ("--cert", cert), ("--key", key)) if path is None or not path.is_file()]
    if missing:
        print(f"ingest worker: certificate files missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    mqtt = MqttSettings.parse_address(args.mqtt, ca=str(ca), cert=str(cert), key=str(key), client_id=name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGUSR1, lambda *a: _stats_asked.set())
    run(args.index, args.db, mqtt, batch_size=args.batch_size, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
