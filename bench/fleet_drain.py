"""`bench/fleet.py --drain`: one ingest worker's CPU per message when nothing else competes.

The broker queues `--messages` health messages for the worker's persistent session while
it is away (QoS 1, the shipped Mosquitto config); then the worker is started and drains
the queue as fast as it can into PostgreSQL. The publishers are idle by then, so the
figure is the worker's own cost — paho, TLS, decoding, validation, database writes and
acknowledgements — measured as the worker process's CPU time (user + system, from
/proc) over the drain divided by the rows stored in that window. Startup (imports,
connecting) is left out by measuring from the first stored row.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from fleet.broker.certs import CertificateAuthority
from fleet.broker.runner import MosquittoBroker
from fleet_saturate import Fleet, cpu_seconds, postgres_pids


def drain(args) -> int:
    from fleet.server.db import Database
    from fleet.server.models import HealthSample, Kiosk
    from fleet.server.mqtt import MqttSettings
    from fleet.server.testing import PostgresServer, wait_until
    from fleet.server.workers import WorkerPool, identity_name, parse_stats

    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    ca = CertificateAuthority(work / "pki")
    ca.init()
    ca.issue_service(identity_name(1))
    ids = [f"drain-{i:05d}" for i in range(args.kiosks)]
    for kiosk_id in ids:
        ca.issue_kiosk(kiosk_id)
    pg = PostgresServer.start()
    try:
        url = pg.create_database("drain")
        db = Database(url)
        with db.session() as session:
            session.execute(insert(Kiosk), [dict(kiosk_id=k, online=True, session=1, config_desired_version=0)
                                            for k in ids])

        def stored() -> int:
            with db.session() as session:
                return session.scalar(select(func.count()).select_from(HealthSample))

        with MosquittoBroker(work / "broker", ca) as broker:
            mqtt = MqttSettings(host=broker.host, port=broker.port, ca=str(ca.ca_cert_path))
            pool = WorkerPool(1, url, mqtt, ca.dir, log_dir=work / "workers")
            pool.start()  # once, so that the broker keeps a session (and queue) for it
            wait_until(lambda: f"{identity_name(1)} 1 $share/fleet-ingest/kiosk/+/health" in broker.log(), 60,
                       what="the worker subscribed")
            pool.stop()
            fleet = Fleet(ids, ca, broker, args.publishers)
            published, offered_s = fleet.run(args.messages / 5.0, 5.0)  # queued for the absent worker
            fleet.stop()
            pg_pids = postgres_pids(int((pg.data_dir / "postmaster.pid").read_text().split()[0]))
            pool.start()
            pid = pool.pids[0]
            wait_until(lambda: stored() > 0, 60, interval=0.01, what="the first stored row")
            n0, cpu0, t0 = stored(), cpu_seconds([pid]), time.perf_counter()
            pg0 = cpu_seconds(postgres_pids(pg_pids[0]))
            n1, last_change = n0, time.perf_counter()
            while n1 < published and time.perf_counter() - last_change < 5:
                time.sleep(0.05)
                n = stored()
                if n != n1:
                    n1, last_change = n, time.perf_counter()
            n1, cpu1, t1 = stored(), cpu_seconds([pid]), time.perf_counter()
            pg1 = cpu_seconds(postgres_pids(pg_pids[0]))
            pool.stop()
            stats = parse_stats([line for line in (work / "workers" / f"{identity_name(1)}.log").read_text().splitlines()
                                 if " stats: " in line][-1])
            drops = broker.log().count("Outgoing messages are being dropped")
        db.close()
    finally:
        pg.stop()
    window = n1 - n0
    print(f"drain: {published} health messages queued by {args.kiosks} TLS kiosks for one absent worker "
          f"(shipped Mosquitto, PostgreSQL, {os.cpu_count()} CPUs)")
    print(f"stored {n1}/{published} (lost {published - n1}, broker drops {drops}); "
          f"{window} in the measured window of {t1 - t0:.2f} s = {window / (t1 - t0):,.0f} msg/s")
    if window:
        print(f"one worker: {(cpu1 - cpu0) / window * 1e6:.0f} µs per message (worker process CPU, DB writes included), "
              f"{(cpu1 - cpu0 + pg1 - pg0) / window * 1e6:.0f} µs with PostgreSQL's CPU")
        handled = stats["handled"] or 1
        writer, decode = stats["writer_cpu"] / handled * 1e6, stats["decode_cpu"] / handled * 1e6
        print(f"  over the whole drain: writer thread {writer:.0f} µs per message (decoding {decode:.0f}, "
              f"database and acks {writer - decode:.0f}); the rest of the process (MQTT/TLS thread, start-up) "
              f"{stats['process_cpu'] / handled * 1e6 - writer:.0f} µs")
    return 0 if n1 == published else 1
