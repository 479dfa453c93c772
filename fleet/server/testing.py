"""Helpers for tests and the benchmark: simulated kiosks on a real broker, a throwaway
PostgreSQL server, and the web app on a real HTTP port.

`SimKiosk` is a kiosk as the fleet server sees it, driven by paho-mqtt 2.x with the
kiosk's own client certificate: it publishes presence (with a matching last will),
health and events as `fleet.protocol` says, answers commands (accepted, then a final
result, echoing the Correlation Data) and applies desired configuration (reporting
applied or rejected). It is not the agent (`fleet.agent`); it is scripted so tests can
make a kiosk do exactly one thing at a time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from fleet.protocol import (
    Channel,
    Command,
    CommandResult,
    CommandStatus,
    ConfigDesired,
    ConfigReported,
    ConfigStatus,
    DeviceHealth,
    Event,
    Health,
    Presence,
    SystemHealth,
    correlation_id,
    decode,
    kiosk_topic,
    outgoing,
    result_outgoing,
    will_for,
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; AssertionError on timeout
    (naming `what` was awaited, when given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" if what else f"condition not met within {timeout} s")
        time.sleep(interval)


def default_devices() -> list[DeviceHealth]:
    return [DeviceHealth(kind=kind, state="ready") for kind in ("idcard", "bp", "eye", "camera")] + [
        DeviceHealth(kind="printer", state="ready", consumables={"paper": "ok"})]


class SimKiosk:
    """A scripted kiosk on MQTT 5 + TLS with its own certificate (CN = kiosk id)."""

    def __init__(self, kiosk_id: str, host: str, port: int, *, ca: str | Path, cert: str | Path, key: str | Path,
                 session: int = 1, heartbeat_s: float = 0.0, answer_commands: bool = True,
                 command_delay_s: float = 0.0) -> None:
        self.kiosk_id = kiosk_id
        self.host, self.port = host, port
        self.session = session
        self.heartbeat_s = heartbeat_s
        self.answer_commands = answer_commands
        self.command_delay_s = command_delay_s
        self.devices = default_devices()
        self.system = SystemHealth(disk_total_bytes=64 << 30, disk_free_bytes=40 << 30, load_1m=0.4, cpu_count=2,
                                   memory_total_bytes=4 << 30, memory_available_bytes=3 << 30, temperature_c=48.0)
        self.session_active = False
        self.config_version = 0
        self.commands: list[Command] = []
        self.command_properties: list[Properties | None] = []
        self.configs: list[ConfigDesired] = []
        self.connected = threading.Event()
        self.killed = False
        self._ca, self._cert, self._key = str(ca), str(cert), str(key)
        self._beat_stop = threading.Event()
        self._beat_thread: threading.Thread | None = None
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.kiosk_id, protocol=mqtt.MQTTv5)
        client.tls_set(ca_certs=self._ca, certfile=self._cert, keyfile=self._key, cert_reqs=ssl.CERT_REQUIRED,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
        will = will_for(self.presence(True))
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain, properties=will.properties)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = lambda *a: self.connected.clear()
        return client

    # -------------------------------------------------------------- connection
    def connect(self, timeout: float = 10.0, *, birth: bool = True) -> SimKiosk:
        self._birth = birth
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise TimeoutError(f"{self.kiosk_id} could not connect")
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        client.subscribe([(kiosk_topic(self.kiosk_id, Channel.CMD_REQ), 1),
                          (kiosk_topic(self.kiosk_id, Channel.CONFIG_DESIRED), 1)])
        if self._birth:
            self.publish(self.presence(True))
        self.connected.set()

    def reconnect_new_session(self) -> None:
        """Drop the connection silently (no will: paho disconnects cleanly, so we first
        say nothing) and connect again with session + 1 — the case a late will must not spoil."""
        self.client.disconnect()
        self.client.loop_stop()
        self.session += 1
        self.client = self._make_client()
        self.connect()

    def kill(self) -> None:
        """Lose the connection without DISCONNECT, so the broker publishes the will."""
        self.stop_heartbeat()
        self.killed = True
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the broker sees the TCP connection end now
            except OSError:
                pass
        # paho's thread may sit in its reconnect delay for up to a second: stop it aside.
        threading.Thread(target=self.client.loop_stop, daemon=True).start()

    def close(self, goodbye: bool = True) -> None:
        self.stop_heartbeat()
        if self.killed:
            return
        if goodbye and self.connected.is_set():
            self.publish(self.presence(False, reason="shutdown")).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    # -------------------------------------------------------------- publishing
    def presence(self, online: bool, reason: str = "") -> Presence:
        return Presence(kiosk_id=self.kiosk_id, online=online, session=self.session, app_version="1.4.2",
                        agent_version="0.3.0", reason=reason)

    def publish(self, message, *, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return outgoing(message, qos=qos).publish(self.client)

    def health(self) -> Health:
        return Health(kiosk_id=self.kiosk_id, app_version="1.4.2", agent_version="0.3.0", uptime_s=1234.0,
                      session_active=self.session_active, config_version=self.config_version,
                      heartbeat_s=self.heartbeat_s, devices=self.devices, system=self.system)

    def send_health(self) -> mqtt.MQTTMessageInfo:
        return self.publish(self.health())

    def set_device(self, kind: str, state: str = "ready", reason: str = "", **consumables: str) -> None:
        self.devices = [d for d in self.devices if d.kind.value != kind] + [
            DeviceHealth(kind=kind, state=state, reason=reason, consumables=consumables)]

    def send_event(self, **fields: Any) -> Event:
        event = Event(kiosk_id=self.kiosk_id, **fields)
        self.publish(event)
        return event

    def start_heartbeat(self, interval_s: float | None = None) -> None:
        interval = interval_s or self.heartbeat_s
        self._beat_stop.clear()

        def beat() -> None:
            while not self._beat_stop.is_set():
                self.send_health()
                self._beat_stop.wait(interval)

        self._beat_thread = threading.Thread(target=beat, daemon=True, name=f"beat-{self.kiosk_id}")
        self._beat_thread.start()

    def stop_heartbeat(self) -> None:
        self._beat_stop.set()
        if self._beat_thread is not None:
            self._beat_thread.join(timeout=2)
            self._beat_thread = None

    # -------------------------------------------------------------- receiving
    def _on_message(self, client, userdata, message) -> None:
        properties = getattr(message, "properties", None)
        if message.topic.endswith("/cmd/req"):
            command = decode(Command, message.payload)
            self.commands.append(command)
            self.command_properties.append(properties)
            if self.answer_commands:
                threading.Thread(target=self._answer, args=(command, properties), daemon=True).start()
        elif message.topic.endswith("/config/desired") and message.payload:
            desired = decode(ConfigDesired, message.payload)
            self.configs.append(desired)
            self._apply_config(desired)

    def _answer(self, command: Command, properties: Properties | None) -> None:
        assert correlation_id(properties) == command.id
        self._result(command, properties, CommandStatus.ACCEPTED)
        if self.command_delay_s:
            time.sleep(self.command_delay_s)
        name = command.name.value
        if name == "screenshot" and self.session_active:
            self._result(command, properties, CommandStatus.REFUSED, "a citizen session is on screen")
        elif name == "self_test":
            device = command.args.get("device") or "all"
            self._result(command, properties, CommandStatus.SUCCEEDED, f"self-test of {device} passed",
                         payload={"passed": True, "device": device})
        elif name == "fetch_logs":
            self._result(command, properties, CommandStatus.SUCCEEDED, "2 lines",
                         payload={"lines": ["app started", "printer ready"]})
        else:
            self._result(command, properties, CommandStatus.SUCCEEDED, f"{name} done")

    def _result(self, command: Command, properties, status: CommandStatus, detail: str = "",
                payload: dict | None = None) -> None:
        result = CommandResult(kiosk_id=self.kiosk_id, id=command.id, name=command.name, status=status,
                               detail=detail, payload=payload or {})
        result_outgoing(result, properties).publish(self.client)

    def _apply_config(self, desired: ConfigDesired) -> None:
        try:
            desired.validated_settings()
        except (ValidationError, ValueError) as exc:
            report = ConfigReported(kiosk_id=self.kiosk_id, version=desired.version, status=ConfigStatus.REJECTED,
                                    reason=str(exc).splitlines()[0], applied_version=self.config_version)
        else:
            self.config_version = desired.version
            report = ConfigReported(kiosk_id=self.kiosk_id, version=desired.version, status=ConfigStatus.APPLIED,
                                    applied_version=desired.version)
        self.publish(report)


def publish_raw(client: mqtt.Client, topic: str, payload: bytes, *, retain: bool = False, qos: int = 1,
                correlation: bytes | None = None) -> None:
    """Publish bytes as they are (for malformed-message and late-will tests)."""
    props = None
    if correlation is not None:
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = correlation
    client.publish(topic, payload, qos=qos, retain=retain, properties=props).wait_for_publish(5)


# ------------------------------------------------------------------ PostgreSQL


def find_postgres_bin() -> Path | None:
    """The bin directory of an installed PostgreSQL (Debian's postgresql package)."""
    env = os.environ.get("FLEET_PG_BIN")
    candidates = [Path(env)] if env else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        candidates += sorted((p / "bin" for p in root.iterdir()), key=lambda p: p.parent.name, reverse=True)
    if shutil.which("pg_ctl"):
        candidates.append(Path(shutil.which("pg_ctl")).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in a temporary directory on a free loopback port."""

    bin_dir: Path
    data_dir: Path
    port: int
    user: str | None  # OS user that owns and runs it (postgres refuses to run as root)

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://fleet@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://fleet@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        command = list(args)
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)

    @classmethod
    def start(cls, bin_dir: Path | None = None) -> PostgresServer:
        """initdb + pg_ctl start in a fresh directory under the system temp dir (which the
        `postgres` user can reach when we are root: PostgreSQL refuses to run as root)."""
        bin_dir = bin_dir or find_postgres_bin()
        if bin_dir is None:
            raise FileNotFoundError("no PostgreSQL found (Debian: apt-get install postgresql)")
        workdir = Path(tempfile.mkdtemp(prefix="fleet-pg-"))
        user = "postgres" if os.geteuid() == 0 else None
        server = cls(bin_dir, workdir / "pgdata", free_port(), user)
        if user:
            shutil.chown(workdir, user)
            os.chmod(workdir, 0o700)
        server._run(str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", "fleet", "--auth=trust",
                    "--no-sync", "-E", "UTF8", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={workdir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        server._run(str(bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-l", str(workdir / "postgres.log"),
                    "-o", options, "-w", "-t", "30", "start")
        return server

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="fleet", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pid_file = self.data_dir / "postmaster.pid"
            if pid_file.exists():
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


# ------------------------------------------------------------------ HTTP


class HttpServer:
    """The ASGI app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, app, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="fleet-http")

    def start(self) -> HttpServer:
        self._thread.start()
        wait_until(lambda: self._server.started, timeout=10)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


# ------------------------------------------------------------------ the whole server


PASSWORDS = {"admin": "admin-pass-1", "operator": "operator-pass-1", "viewer": "viewer-pass-1"}
_HASHES: dict[str, str] = {}


class FleetHarness:
    """A FleetServer on `db_url` connected to a running broker, served over HTTP, with one
    operator account per role (username = role, password in PASSWORDS)."""

    def __init__(self, ca, broker_host: str, broker_port: int, db_url: str, *, heartbeat_s: float = 0.3,
                 missed_heartbeats: int = 3, sweep_every_s: float = 0.05) -> None:
        from fleet.server.mqtt import MqttSettings
        from fleet.server.service import ServerSettings

        self.ca = ca
        self.broker_host, self.broker_port = broker_host, broker_port
        identity = ca.server_identity() if ca.server_identity().cert.exists() else ca.issue_server()
        self.settings = ServerSettings(
            db_url=db_url, default_heartbeat_s=heartbeat_s, missed_heartbeats=missed_heartbeats,
            sweep_every_s=sweep_every_s,
            mqtt=MqttSettings(host=broker_host, port=broker_port, ca=str(identity.ca), cert=str(identity.cert),
                              key=str(identity.key)))
        self.server = None
        self.http: HttpServer | None = None
        self.kiosks: list[SimKiosk] = []
        self.clients: list = []

    def start(self) -> FleetHarness:
        from fleet.server.auth import hash_password
        from fleet.server.models import Operator
        from fleet.server.service import FleetServer
        from fleet.server.webapp import create_app

        self.server = FleetServer(self.settings)
        with self.server.db.session() as session:
            for role, password in PASSWORDS.items():
                if role not in _HASHES:
                    _HASHES[role] = hash_password(password)
                session.add(Operator(username=role, password_hash=_HASHES[role], role=role))
        self.server.start()
        self.http = HttpServer(create_app(self.server)).start()
        return self

    @property
    def url(self) -> str:
        return self.http.url

    def client(self, role: str | None = None, *, real_login: bool = False):
        """An httpx client with a session of `role` (None: not logged in). The session is
        written straight into the database unless `real_login` (each Argon2 verification
        costs ~0.2 s, and most tests are about something else)."""
        import hashlib
        import secrets

        import httpx

        from fleet.server.models import LoginSession, utcnow

        client = httpx.Client(base_url=self.url, timeout=10)
        if role is not None and real_login:
            client.post("/api/login", json={"username": role, "password": PASSWORDS[role]}).raise_for_status()
        elif role is not None:
            token = secrets.token_urlsafe(32)
            with self.server.db.session() as session:
                session.add(LoginSession(token_sha256=hashlib.sha256(token.encode()).hexdigest(), username=role,
                                         created_at=utcnow(), expires_at=utcnow() + dt.timedelta(hours=1)))
            client.headers["Authorization"] = f"Bearer {token}"
        self.clients.append(client)
        return client

    def kiosk_identity(self, kiosk_id: str):
        identity = self.ca.kiosk_identity(kiosk_id)
        return identity if identity.cert.exists() else self.ca.issue_kiosk(kiosk_id)

    def kiosk(self, kiosk_id: str, *, connect: bool = True, **options) -> SimKiosk:
        identity = self.kiosk_identity(kiosk_id)
        kiosk = SimKiosk(kiosk_id, self.broker_host, self.broker_port, ca=identity.ca, cert=identity.cert,
                         key=identity.key, **options)
        self.kiosks.append(kiosk)
        return kiosk.connect() if connect else kiosk

    def stored(self) -> int:
        return self.server.ingest.stored

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        for kiosk in self.kiosks:
            try:
                kiosk.close(goodbye=False)
            except Exception:
                pass
        if self.http:
            self.http.stop()
        if self.server:
            self.server.close()
