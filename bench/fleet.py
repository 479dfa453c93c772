"""Fleet server ingest throughput: N simulated kiosks heartbeating through Mosquitto.

    .venv/bin/python bench/fleet.py [--kiosks 300] [--beats 20] [--interval 0.25] [--db URL]
    .venv/bin/python bench/fleet.py --saturate [--kiosks 200] [--workers-max 4]   # see bench/fleet_saturate.py
    .venv/bin/python bench/fleet.py --drain [--kiosks 100] [--messages 20000]    # see bench/fleet_drain.py

Starts Mosquitto with the shipped TLS + ACL config, the fleet server (SQLite in a temp
directory unless --db), a raw paho subscriber beside it (same `fleet-server` identity,
another client id, QoS 1 on kiosk/+/health, counting and nothing else), and N kiosks
— each its own TLS connection with its own certificate — spread over worker processes.
Every kiosk publishes `--beats` health messages (QoS 1), `--interval` seconds apart
(0 = as fast as the connection takes them). The default (1,200 messages/s: 300 kiosks
every 0.25 s, i.e. 9,000 kiosks on a 30 s heartbeat) is what this 2-core machine drives
while also running the 300 TLS publishers in Python; much more and the broker's
per-client queue (the shipped `max_queued_messages 1000`) overflows and drops messages
for every subscriber, the raw one included — the bench says so when it happens.

Prints the raw subscriber's receive rate and the server's ingest rate (messages decoded,
validated and committed to the database per second), both over the same run, and their
ratio (goal ≥ 0.8: the database costs the server at most a fifth of what a bare
subscriber manages). Also whether every message was stored.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from fleet.broker.certs import CertificateAuthority  # noqa: E402
from fleet.broker.runner import MosquittoBroker  # noqa: E402
from fleet.protocol import Channel, kiosk_filter, outgoing  # noqa: E402
from fleet.server.mqtt import RECEIVE_MAXIMUM  # noqa: E402


def kiosk_worker(ids: list[str], pki_dir: str, host: str, port: int, beats: int, interval: float,
                 ready: mp.Barrier, go: mp.Event, done: mp.Queue) -> None:
    """One process driving several kiosks (threads): connect all, wait for go, beat."""
    from fleet.server.testing import SimKiosk

    ca = CertificateAuthority(pki_dir)
    kiosks = []
    for kiosk_id in ids:
        identity = ca.kiosk_identity(kiosk_id)
        kiosk = SimKiosk(kiosk_id, host, port, ca=identity.ca, cert=identity.cert, key=identity.key, heartbeat_s=interval or 1.0)
        kiosk.client.max_inflight_messages_set(20)
        kiosks.append(kiosk.connect())
    ready.wait()
    go.wait()

    def beat(kiosk) -> None:
        out = outgoing(kiosk.health())
        last = None
        for _ in range(beats):
            last = out.publish(kiosk.client)
            if interval:
                time.sleep(interval)
        last.wait_for_publish(60)

    threads = [threading.Thread(target=beat, args=(k,)) for k in kiosks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.put(len(ids) * beats)
    for kiosk in kiosks:
        kiosk.close(goodbye=False)


class RawCounter:
    """A bare paho subscriber: counts health messages, records first and last arrival."""

    def __init__(self, ca: CertificateAuthority, host: str, port: int) -> None:
        identity = ca.ensure_service("fleet-ingest.8")  # the broker binds client ids to CNs: not fleet-server
        self.count = 0
        self.first = self.last = 0.0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5)
        self.client.tls_set(ca_certs=str(identity.ca), certfile=str(identity.cert), keyfile=str(identity.key),
                            cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_message = self._message
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = RECEIVE_MAXIMUM  # the same window the server asks for
        self.client.connect(host, port, properties=props)
        self.client.subscribe(kiosk_filter(Channel.HEALTH), qos=1)
        self.client.loop_start()
        self.subscribed.wait(10)

    def _message(self, client, userdata, message) -> None:
        now = time.perf_counter()
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class ServerClock:
    """Times the server's ingest: first health received, last health committed."""

    def __init__(self, server) -> None:
        self.first = self.last = 0.0
        self.stored = 0
        self.written = 0  # every message, births included
        self.cpu_s = 0.0  # CPU time of the writer thread (decode, validate, store)
        ingest = server.ingest
        submit = ingest.submit

        def timed_submit(message) -> None:
            if not self.first and message.topic.endswith("/health"):
                self.first = time.perf_counter()
            submit(message)

        ingest.submit = timed_submit
        write = ingest._write

        def timed_write(batch) -> None:
            cpu = time.thread_time()
            write(batch)
            self.cpu_s += time.thread_time() - cpu
            self.written += len(batch)
            health = sum(1 for m in batch if m.topic.endswith("/health"))
            if health:
                self.stored += health
                self.last = time.perf_counter()

        ingest._write = timed_write


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kiosks", type=int, default=300)
    p.add_argument("--beats", type=int, default=20, help="health messages per kiosk")
    p.add_argument("--interval", type=float, default=0.25, help="seconds between a kiosk's beats (0: flood)")
    p.add_argument("--workers", type=int, default=2, help="processes driving the kiosks")
    p.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    p.add_argument("--saturate", action="store_true",
                   help="find the highest 0-loss rate for 1, 2 and --workers-max ingest workers (bench/fleet_saturate.py)")
    p.add_argument("--workers-max", type=int, default=4, help="--saturate: the N of 1, 2 and N workers")
    p.add_argument("--publishers", type=int, default=2, help="--saturate: publisher processes")
    p.add_argument("--step-s", type=float, default=3.0, help="--saturate: seconds per offered-rate step")
    p.add_argument("--start-rate", type=float, default=1000.0, help="--saturate: first offered rate, msg/s")
    p.add_argument("--max-steps", type=int, default=6, help="--saturate: steps per worker count at most")
    p.add_argument("--drain", action="store_true",
                   help="one worker's CPU per message draining a queue it was away for (bench/fleet_drain.py)")
    p.add_argument("--messages", type=int, default=20000, help="--drain: messages queued for the worker")
    args = p.parse_args(argv)
    if args.drain:
        from fleet_drain import drain

        return drain(args)
    if args.saturate:
        from fleet_saturate import saturate

        return saturate(args)

    from fleet.server.service import FleetServer, ServerSettings
    from fleet.server.mqtt import MqttSettings

    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    ca = CertificateAuthority(work / "pki")
    ca.init()
    server_identity = ca.issue_server()
    ids = [f"bench-{i:05d}" for i in range(args.kiosks)]
    for kiosk_id in ids:
        ca.issue_kiosk(kiosk_id)
    total = args.kiosks * args.beats

    with MosquittoBroker(work / "broker", ca) as broker:
        settings = ServerSettings(
            db_url=args.db or f"sqlite:///{work / 'fleet.db'}", default_heartbeat_s=3600,
            mqtt=MqttSettings(host=broker.host, port=broker.port, ca=str(server_identity.ca),
                              cert=str(server_identity.cert), key=str(server_identity.key)))
        server = FleetServer(settings)
        clock = ServerClock(server)
        server.start()
        raw = RawCounter(ca, broker.host, broker.port)

        ctx = mp.get_context("spawn")
        ready, go, done = ctx.Barrier(args.workers + 1), ctx.Event(), ctx.Queue()
        chunks = [ids[i::args.workers] for i in range(args.workers)]
        workers = [ctx.Process(target=kiosk_worker, args=(chunk, str(ca.dir), broker.host, broker.port, args.beats,
                                                           args.interval, ready, go, done)) for chunk in chunks]
        for w in workers:
            w.start()
        ready.wait(120)
        births = sum(1 for _ in ids)
        deadline = time.monotonic() + 60
        while server.ingest.stored < births and time.monotonic() < deadline:
            time.sleep(0.05)  # every birth stored before the clock starts
        started = time.perf_counter()
        go.set()
        published = sum(done.get(timeout=600) for _ in workers)
        publish_s = time.perf_counter() - started
        progress, quiet_since = (-1, -1), time.monotonic()
        while (clock.stored < total or raw.count < total) and time.monotonic() - quiet_since < 5:
            time.sleep(0.05)  # until everything arrived, or nothing more did for 5 s
            if (clock.stored, raw.count) != progress:
                progress, quiet_since = (clock.stored, raw.count), time.monotonic()
        for w in workers:
            w.join(30)
        raw.close()
        server.close()
        dropped = broker.log().count("Outgoing messages are being dropped")
    shutil.rmtree(work, ignore_errors=True)

    raw_rate = raw.count / (raw.last - raw.first) if raw.count > 1 else 0.0
    server_rate = clock.stored / (clock.last - clock.first) if clock.stored > 1 else 0.0
    print(f"kiosks {args.kiosks}, beats each {args.beats}, interval {args.interval:g} s, "
          f"database {server.db.backend}, broker mosquitto (TLS, ACL)")
    print(f"published           {published} health messages in {publish_s:.2f} s ({published / publish_s:,.0f}/s offered)")
    print(f"raw paho subscriber {raw.count} received       {raw_rate:10,.0f} msg/s")
    print(f"fleet server ingest {clock.stored} stored         {server_rate:10,.0f} msg/s (decoded, validated, committed)")
    if clock.written:
        per_message = clock.cpu_s / clock.written
        print(f"ingest thread CPU   {per_message * 1e6:,.0f} µs per message (one core could take {1 / per_message:,.0f} msg/s)")
    ratio = server_rate / raw_rate if raw_rate else 0.0
    print(f"ratio server/raw    {ratio:.2f} (goal >= 0.8) {'OK' if ratio >= 0.8 else 'BELOW GOAL'}")
    complete = clock.stored == total and raw.count == total
    print(f"all {total} stored: {'yes' if clock.stored == total else f'NO ({clock.stored})'}; "
          f"raw got all: {'yes' if raw.count == total else f'NO ({raw.count})'}; rejected {server.ingest.rejected}")
    if dropped:
        print("the broker dropped messages (its per-client queue, max_queued_messages, overflowed): "
              "the offered load is above what the subscribers drain; use a longer --interval")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
