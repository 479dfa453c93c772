"""`bench/fleet.py --saturate`: the highest offered health rate ingested with 0 loss, for
1, 2 and N ingest workers on a shared subscription, with PostgreSQL as the shared store.

For each worker count: a fresh database, the fleet server with that many ingest worker
processes (`fleet.server.workers`), the shipped Mosquitto, and K kiosks — each its own
TLS connection and certificate — in publisher processes. Steps of `--step-s` seconds at
an offered rate that doubles until a step loses anything (stored rows < PUBACKed
publishes, or the broker reports a queue overflow) or the publishers cannot offer more;
then bisection. A step counts as 0-loss only if nothing was lost *and* ingest kept up
(the last message stored within `KEEP_UP_S` of the last publish): Mosquitto's deep queue
would absorb a short burst above capacity and hide a backlog that grows for ever. Loss
is counted in the database (health_samples rows, one per publish: each has its own
`ts`); where messages went missing is said per step — the broker's queue (its drop log
lines), the workers (rejected, from their counters), the database (committed vs rows).
Prints per worker count the highest 0-loss rate, the ingest throughput measured in that
step, the workers' CPU per stored message (user + system of the worker processes,
decoding, validation and their database writes included) — plus the same with
PostgreSQL's own CPU added — and each worker's own CPU per message it handled (SIGUSR1
counters), which shows scaling independent of how busy the machine is.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from fleet.broker.certs import CertificateAuthority
from fleet.broker.runner import MosquittoBroker
from fleet.protocol import outgoing  # noqa: F401 (used by publisher processes)

CLK = os.sysconf("SC_CLK_TCK")
# Ingest kept up with a step if its last message was stored within this long of the last
# publish (workers batch for up to 200 ms): a deep broker queue would otherwise absorb a
# burst above capacity and hide a backlog that grows for ever.
KEEP_UP_S = 1.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (after the command name)
        except (OSError, IndexError):
            pass
    return total / CLK


def postgres_pids(postmaster: int) -> list[int]:
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def publisher(ids: list[str], pki_dir: str, host: str, port: int, commands: mp.Queue, results: mp.Queue) -> None:
    """Connect `ids`; then for each ("run", rate, seconds): publish round-robin at `rate`
    per second (paced), wait for every PUBACK, report the count."""
    from fleet.server.testing import SimKiosk

    ca = CertificateAuthority(pki_dir)
    kiosks = []
    for kiosk_id in ids:
        identity = ca.kiosk_identity(kiosk_id)
        kiosk = SimKiosk(kiosk_id, host, port, ca=identity.ca, cert=identity.cert, key=identity.key, heartbeat_s=30)
        kiosk.client.max_inflight_messages_set(100)
        kiosks.append(kiosk.connect())
    messages = [outgoing(k.health()) for k in kiosks]
    # every publish its own `ts` (a kiosk writes a new health each time; ingest keeps one
    # sample per kiosk and ts, so repeating one payload would store it once)
    templates = []
    for out in messages:
        at = out.payload.index(b'"ts":"') + 6
        templates.append((out.payload[:at], out.payload[at + 27:]))  # 2026-12-07T01:45:49.072855Z
    results.put(("ready", len(kiosks)))
    while True:
        command = commands.get()
        if command[0] == "stop":
            break
        _, rate, seconds = command
        total = int(rate * seconds)
        last = {}
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            k = i % len(kiosks)
            out, (head, tail) = messages[k], templates[k]
            ts = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
            last[k] = kiosks[k].client.publish(out.topic, head + ts + tail, qos=1, properties=out.properties)
        offered_s = time.perf_counter() - start
        for info in last.values():
            info.wait_for_publish(60)
        results.put(("done", total, offered_s))
    for kiosk in kiosks:
        kiosk.close(goodbye=False)


class Fleet:
    """Publisher processes driving `kiosks` kiosks."""

    def __init__(self, ids: list[str], ca: CertificateAuthority, broker: MosquittoBroker, processes: int) -> None:
        ctx = mp.get_context("spawn")
        self.commands = [ctx.Queue() for _ in range(processes)]
        self.results = ctx.Queue()
        chunks = [ids[i::processes] for i in range(processes)]
        self.procs = [ctx.Process(target=publisher, args=(chunk, str(ca.dir), broker.host, broker.port, q, self.results))
                      for chunk, q in zip(chunks, self.commands)]
        for proc in self.procs:
            proc.start()
        for _ in self.procs:
            assert self.results.get(timeout=120)[0] == "ready"

    def run(self, rate: float, seconds: float) -> tuple[int, float]:
        for q in self.commands:
            q.put(("run", rate / len(self.commands), seconds))
        done = [self.results.get(timeout=300) for _ in self.commands]
        return sum(d[1] for d in done), max(d[2] for d in done)

    def stop(self) -> None:
        for q in self.commands:
            q.put(("stop",))
        for proc in self.procs:
            proc.join(30)


def stored_samples(server) -> int:
    from fleet.server.models import HealthSample

    with server.db.session() as session:
        return session.scalar(select(func.count()).select_from(HealthSample))


def worker_stats(server) -> list[dict[str, float]]:
    """Every worker's counters: SIGUSR1 makes it log a stats line (fleet.server.workers)."""
    from fleet.server.workers import identity_name, parse_stats

    logs = [server.workers.log_dir / f"{identity_name(i + 1)}.log" for i in range(len(server.workers.procs))]

    def lines(log: Path) -> list[str]:
        return [line for line in log.read_text().splitlines() if " stats: " in line] if log.exists() else []

    seen = [len(lines(log)) for log in logs]
    for pid in server.workers.pids:
        os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(lines(log)) <= n for log, n in zip(logs, seen)):
        time.sleep(0.05)
    return [parse_stats(lines(log)[-1]) if lines(log) else {} for log in logs]


def step(server, fleet: Fleet, rate: float, seconds: float, pg_pids: list[int]) -> dict:
    before = stored_samples(server)
    drops_before = sum(server.broker_watch.drops.values())
    pg_pids = postgres_pids(pg_pids[0])  # backends are forked per connection: look again
    stats0 = worker_stats(server)
    cpu0 = [cpu_seconds([pid]) for pid in server.workers.pids]
    pg_cpu0 = cpu_seconds(pg_pids)
    started = time.perf_counter()
    published, offered_s = fleet.run(rate, seconds)
    published_at = time.perf_counter()  # every publish PUBACKed by the broker
    stored, last_change, seen, done_at = before, time.perf_counter(), before, None
    while time.perf_counter() - last_change < 3.0:
        stored = stored_samples(server)
        if stored - before >= published:
            done_at = time.perf_counter()
            break
        if stored != seen:
            seen, last_change = stored, time.perf_counter()
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    got = stored - before
    cpu = [cpu_seconds([pid]) - c for pid, c in zip(server.workers.pids, cpu0)]
    stats1 = worker_stats(server)
    pg_cpu = cpu_seconds(pg_pids) - pg_cpu0
    handled = [b.get("handled", 0) - a.get("handled", 0) for a, b in zip(stats0, stats1)]
    rejected = sum(b.get("rejected", 0) - a.get("rejected", 0) for a, b in zip(stats0, stats1))
    drops = sum(server.broker_watch.drops.values()) - drops_before
    worker_cpu = sum(cpu)
    return dict(rate=rate, published=published, offered=published / offered_s if offered_s else 0.0,
                stored=got, lost=published - got, broker_drops=drops,
                throughput=got / ((done_at or started + elapsed) - started),
                # kept up: the last message stored within KEEP_UP_S of the last publish
                lag_s=(done_at - published_at) if done_at else None,
                handled=handled, rejected=int(rejected),
                per_worker=[c / h * 1e6 if h else 0.0 for c, h in zip(cpu, handled)],
                us_worker=worker_cpu / got * 1e6 if got else 0.0,
                us_total=(worker_cpu + pg_cpu) / got * 1e6 if got else 0.0)


def where_lost(r: dict) -> str:
    """Where the step's missing messages went: broker queue, worker, database, or not yet."""
    if r["lost"] <= 0:
        return ""
    handled = sum(r["handled"])
    places = []
    if r["broker_drops"]:
        places.append(f"broker queue overflowed ({r['broker_drops']} drop notices in its log)")
    if r["rejected"]:
        places.append(f"workers rejected {r['rejected']} (undecodable or unstorable, logged)")
    if handled - r["rejected"] > r["stored"]:
        places.append(f"database: workers committed {handled - r['rejected']:.0f}, {r['stored']} rows")
    if handled < r["published"] and not r["broker_drops"]:
        places.append(f"{r['published'] - handled:.0f} not yet handled (still queued in the broker or a worker)")
    return "; ".join(places) or "unaccounted"


def saturate(args) -> int:
    from fleet.server.mqtt import MqttSettings
    from fleet.server.service import FleetServer, ServerSettings
    from fleet.server.testing import PostgresServer
    from fleet.server.workers import identity_name

    counts = sorted({1, 2, args.workers_max})
    work = Path(tempfile.mkdtemp(prefix="bench-saturate-"))
    ca = CertificateAuthority(work / "pki")
    ca.init()
    server_identity = ca.issue_server()
    for index in range(1, max(counts) + 1):
        ca.issue_service(identity_name(index))
    ids = [f"sat-{i:05d}" for i in range(args.kiosks)]
    for kiosk_id in ids:
        ca.issue_kiosk(kiosk_id)
    pg = PostgresServer.start()
    pg_pids = postgres_pids(int((pg.data_dir / "postmaster.pid").read_text().split()[0]))
    results: dict[int, dict] = {}
    print(f"saturation: {args.kiosks} kiosks (TLS, own certificates) in {args.publishers} publisher processes, "
          f"steps of {args.step_s:g} s, Mosquitto (shipped config), PostgreSQL {pg.bin_dir.parent.name}, "
          f"{os.cpu_count()} CPUs")
    try:
        with MosquittoBroker(work / "broker", ca) as broker:
            for n in counts:
                url = pg.create_database(f"saturate_{n}")
                settings = ServerSettings(
                    db_url=url, default_heartbeat_s=3600, ingest_workers=n, pki_dir=ca.dir,
                    ingest_log_dir=work / f"workers-{n}",
                    mqtt=MqttSettings(host=broker.host, port=broker.port, ca=str(server_identity.ca),
                                      cert=str(server_identity.cert), key=str(server_identity.key)))
                server = FleetServer(settings)
                server.start()
                fleet = Fleet(ids, ca, broker, args.publishers)
                deadline = time.monotonic() + 60
                from fleet.server.models import Kiosk
                while time.monotonic() < deadline:  # every birth stored before measuring
                    with server.db.session() as session:
                        if session.scalar(select(func.count()).select_from(Kiosk)) >= len(ids):
                            break
                    time.sleep(0.1)
                good, bad, rate = None, None, args.start_rate
                steps = []
                while True:
                    r = step(server, fleet, rate, args.step_s, pg_pids)
                    steps.append(r)
                    # 0 loss *sustained*: nothing lost, and ingest kept up with the offer (the
                    # broker's deep queue would otherwise hide a backlog that grows for ever)
                    r["kept_up"] = r["lag_s"] is not None and r["lag_s"] <= KEEP_UP_S
                    ok = r["lost"] == 0 and r["broker_drops"] == 0 and r["kept_up"]
                    per_worker = " ".join(f"{us:.0f}" for us in r["per_worker"])
                    behind = "" if r["kept_up"] else (
                        f"  (fell behind: all stored {r['lag_s']:.1f} s after the last publish)" if r["lag_s"] is not None
                        else "  (fell behind: not all stored)")
                    print(f"  {n} worker(s): offered {r['offered']:8,.0f}/s (asked {rate:,.0f}) stored {r['stored']:6d}"
                          f"/{r['published']:<6d} lost {r['lost']:5d} "
                          f"ingest {r['throughput']:7,.0f} msg/s  {r['us_worker']:5.0f} µs/msg workers "
                          f"(each: {per_worker}), {r['us_total']:5.0f} with PostgreSQL"
                          f"{behind}")
                    if r["lost"]:
                        print(f"      lost {r['lost']}: {where_lost(r)}")
                    if ok and r["offered"] < 0.9 * rate:  # the publishers cannot offer more
                        good = r
                        break
                    if ok:
                        good = r
                        if bad is None:
                            rate *= 2
                        else:
                            rate = (rate + bad["rate"]) / 2
                    else:
                        bad = r
                        if good is None:
                            rate /= 2
                        else:
                            rate = (good["rate"] + rate) / 2
                    if bad is not None and good is not None and (bad["rate"] - good["rate"]) / good["rate"] < 0.15:
                        break
                    if len(steps) >= args.max_steps:
                        break
                # what stopped the search: the publishers could not offer more, a faster step
                # lost messages, or ingest fell behind (nothing lost; the broker queued it)
                bound = "steps"
                if good and good["offered"] < 0.9 * good["rate"]:
                    bound = "publishers"
                elif bad:
                    bound = "loss" if bad["lost"] or bad["broker_drops"] else "fell behind"
                results[n] = dict(best=good, bound=bound)
                fleet.stop()
                server.close()
                for log in sorted((work / f"workers-{n}").glob("*.log")):
                    lines = [line for line in log.read_text().splitlines() if "writer CPU" in line]  # at stop
                    print("   ", lines[-1].split(": ", 1)[-1] if lines else f"{log.name}: no summary")
    finally:
        pg.stop()
    print()
    print(f"{'workers':>7} {'0-loss rate':>12} {'ingest msg/s':>13} {'µs per message':>15} {'with PostgreSQL':>16}"
          f"  {'each worker (µs/msg)':<22} limit")
    for n, res in results.items():
        best = res["best"]
        if best is None:
            print(f"{n:>7} {'none':>12}")
            continue
        each = " ".join(f"{us:.0f}" for us in best["per_worker"])
        print(f"{n:>7} {best['offered']:>10,.0f}/s {best['throughput']:>13,.0f} {best['us_worker']:>9.0f} µs per message"
              f" {best['us_total']:>8.0f} µs  {each:<22} {res['bound']}")
    worst = max((r["best"]["us_worker"] for r in results.values() if r["best"]), default=0.0)
    print(f"goal <= 100 µs per message (workers' CPU, DB writes included): {'OK' if 0 < worst <= 100 else 'NOT MET'} "
          f"(worst {worst:.0f} µs)")
    return 0
