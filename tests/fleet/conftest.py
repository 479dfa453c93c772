"""Fixtures for fleet tests: a real Mosquitto with the shipped TLS + ACL config.

- ``fleet_pki``   a fresh CA in tmp_path: broker cert (localhost/127.0.0.1), the
                  ``fleet-server`` client cert, kiosk certs ``kiosk-a`` and ``kiosk-b``;
                  `fleet_pki.issue_kiosk("id")` for more. (`fleet.broker.certs.CertificateAuthority`)
- ``mosquitto``   a running `fleet.broker.runner.MosquittoBroker` on a free loopback port
                  using that PKI; ``.host``, ``.port``, ``.stop()``, ``.start()`` (keeps
                  retained messages and persistent sessions across a restart), ``.log()``.
- ``mqtt_probe``  factory: ``mqtt_probe("probe" | "fleet-server" | kiosk_id, client_id=None,
                  clean_start=True, session_expiry_s=0)`` → a connected
                  `fleet.broker.testing.MqttProbe` (subscribe/publish wait for acks,
                  ``wait_for(topic, where, count, timeout)``); closed after the test.
                  "probe" (the default): the next test-only identity ``fleet-probe.N``
                  with the server's rights — the broker binds the client id to the CN,
                  so watchers beside a running server must not use ``fleet-server``.
- ``kiosk_app``   the kiosk app's control socket served by `kiosk.control.BasicControlHandler`
                  over simulated printer + BP monitor (``.handler``, ``.socket``, ``.call(coro)``).
- ``agent_process`` factory: ``agent_process(kiosk_id="kiosk-a", **settings)`` →
                  `fleet.broker.testing.AgentProcess` (started; ``kill9()``, ``stop()``,
                  ``start()``); settings are AgentSettings fields. Stopped after the test.
- ``db_url``      the fleet server's database, parametrized: a fresh SQLite file and a
                  fresh database on ``postgres`` (one real PostgreSQL server for the
                  session, `fleet.server.testing.PostgresServer`; skipped with the reason
                  when PostgreSQL is not installed).

Skipped as a whole when no mosquitto binary is installed.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from pathlib import Path

import pytest

from fleet.broker.certs import CertificateAuthority
from fleet.broker.runner import MosquittoBroker, find_mosquitto
from fleet.broker.testing import PROBE_ACL, PROBES, AgentProcess, MqttProbe
from fleet.protocol.topics import SERVER_USERNAME
from fleet.server.testing import PostgresServer, find_postgres_bin

KIOSK_A = "kiosk-a"
KIOSK_B = "kiosk-b"

_db_numbers = itertools.count()


@pytest.fixture
def fleet_pki(tmp_path: Path) -> CertificateAuthority:
    ca = CertificateAuthority(tmp_path / "pki")
    ca.init()
    ca.issue_server()
    ca.issue_kiosk(KIOSK_A)
    ca.issue_kiosk(KIOSK_B)
    return ca


@pytest.fixture
def mosquitto(fleet_pki: CertificateAuthority, tmp_path: Path):
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = MosquittoBroker(tmp_path / "broker", fleet_pki, extra_acl=PROBE_ACL)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mqtt_probe(mosquitto: MosquittoBroker, fleet_pki: CertificateAuthority):
    probes: list[MqttProbe] = []
    numbers = itertools.count(1)

    def connect(identity: str = "probe", client_id: str | None = None, *, connect: bool = True,
                **options) -> MqttProbe:
        if identity == "probe":
            number = next(numbers)
            assert number <= PROBES, "more watching probes than PROBE_ACL grants"
            ident = fleet_pki.ensure_service(f"fleet-probe.{number}")
        elif identity == SERVER_USERNAME:
            ident = fleet_pki.server_identity()
        else:
            ident = fleet_pki.kiosk_identity(identity)
            if not ident.cert.exists():
                fleet_pki.issue_kiosk(identity)
        probe = MqttProbe(mosquitto.host, mosquitto.port, ident, client_id, **options)
        probes.append(probe)
        return probe.connect() if connect else probe

    yield connect
    for probe in probes:
        probe.close()


class KioskApp:
    def __init__(self, socket: Path, config_path: Path) -> None:
        from peripherals.base import DeviceKind
        from peripherals.config import simulated_devices
        from peripherals.supervisor import Supervisor

        from kiosk.control import BasicControlHandler, ControlServerThread

        devices = {k: v for k, v in simulated_devices().items() if k in (DeviceKind.PRINTER, DeviceKind.BP)}
        self.supervisor = Supervisor(devices, backoff_initial=0.1)
        self.supervisor.start(wait=5)
        self.handler = BasicControlHandler(self.supervisor, app_version="1.2.3", config_path=config_path)
        self.log_handler = self.handler.log_buffer
        logging.getLogger().addHandler(self.log_handler)
        self.socket = socket
        self.server = ControlServerThread(socket, self.handler).start()

    def call(self, coro):
        return self.server.call(coro)

    def close(self) -> None:
        logging.getLogger().removeHandler(self.log_handler)
        self.server.stop()
        self.supervisor.stop()


@pytest.fixture
def kiosk_app(tmp_path: Path):
    app = KioskApp(tmp_path / "run" / "control.sock", tmp_path / "agent-a" / "fleet-config.json")
    yield app
    app.close()


@pytest.fixture
def agent_process(mosquitto: MosquittoBroker, fleet_pki: CertificateAuthority, tmp_path: Path):
    agents: list[AgentProcess] = []

    def start(kiosk_id: str = KIOSK_A, *, control_socket: Path | None = None, **settings) -> AgentProcess:
        agent = AgentProcess(kiosk_id, mosquitto, fleet_pki, tmp_path / f"agent-{kiosk_id.removeprefix('kiosk-')}",
                             control_socket=control_socket or tmp_path / "run" / "control.sock", **settings)
        agents.append(agent)
        return agent.start()

    yield start
    for agent in agents:
        agent.stop()


@pytest.fixture(scope="session")
def postgres():
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL not installed: no /usr/lib/postgresql/*/bin/initdb (Debian: apt-get install postgresql)")
    server = PostgresServer.start(bin_dir)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Every test that asks for it runs on both backends (row locks, JSON columns, cursors)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    return request.getfixturevalue("postgres").create_database(f"fleet_{next(_db_numbers)}_{uuid.uuid4().hex[:6]}")
