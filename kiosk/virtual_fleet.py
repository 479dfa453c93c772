"""The fleet side of the virtual kiosk: a broker, the fleet server and this kiosk's agent.

`kiosk run --virtual` adds this `Extra` so the main-job command shows the whole system
of DESIGN.md on one machine: Mosquitto with the shipped TLS + per-kiosk ACL config and
certificates made for the occasion, `kiosk-fleet-server` on SQLite with its web console,
and `kiosk-agent` reporting this kiosk over MQTT through the app's control socket.
Everything lives under `STATE/fleet/`; the operator password is made once and kept in
`STATE/fleet/admin-password` (0600).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from fleet.broker.certs import CertificateAuthority
from fleet.broker.runner import MosquittoBroker, find_mosquitto, free_port, terminate
from fleet.broker.testing import AgentProcess
from lifecycle.children import child_options
from lifecycle.secrets import write_secret_file

log = logging.getLogger(__name__)

KIOSK_ID = "kiosk-virtual-01"
# Where the virtual kiosk stands (the fleet's site registry): a post-office hall in Yuzhong.
VIRTUAL_SITE = {"name": "虚拟自助机 1号", "hall": "重庆渝中区解放碑邮政支局", "district": "渝中区",
                "region": "主城都市区·中心城区"}


def _wait_listening(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


class VirtualFleet:
    """Broker + fleet server + agent for one virtual kiosk; `start()` / `stop()`."""

    def __init__(self, state_dir: Path, control_socket: Path, *, kiosk_id: str = KIOSK_ID) -> None:
        self.dir = Path(state_dir) / "fleet"
        self.control_socket = Path(control_socket)
        self.kiosk_id = kiosk_id
        self.broker: MosquittoBroker | None = None
        self.server: subprocess.Popen | None = None
        self.agent: AgentProcess | None = None
        self.http_port = 0

    @staticmethod
    def available() -> bool:
        return find_mosquitto() is not None

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/console"

    def admin_password_file(self) -> Path:
        """The operator password, made once (0600); the server reads it from the file, not argv."""
        path = self.dir / "admin-password"
        if not path.exists():
            write_secret_file(path, secrets.token_urlsafe(12))
        return path

    def start(self) -> "VirtualFleet":
        ca = CertificateAuthority(self.dir / "pki")
        if not ca.ca_cert_path.exists():
            ca.init()
            ca.issue_server()
        self.broker = MosquittoBroker(self.dir / "broker", ca)
        self.broker.spawn_options = child_options()  # a kill -9 of the kiosk leaves no broker behind
        self.broker.start()
        os.environ["KIOSK_BROKER_ADDRESS"] = f"{self.broker.host}:{self.broker.port}"  # diagnostics' network tab
        self.http_port = free_port()
        server_log = open(self.dir / "fleet-server.log", "ab")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "fleet.server.main", "--db", f"sqlite:///{self.dir / 'fleet.sqlite3'}",
             "--mqtt", f"{self.broker.host}:{self.broker.port}", "--pki", str(ca.dir),
             "--http", str(self.http_port), "--admin-password-file", str(self.admin_password_file()),
             "--artifact-dir", str(self.dir / "artifacts"), "--heartbeat-s", "10"],
            stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True, **child_options(),
        )
        server_log.close()
        _wait_listening(self.http_port, self.server, "the fleet server")
        self._register_site()
        self.agent = AgentProcess(
            self.kiosk_id, self.broker, ca, self.dir / "agent", control_socket=self.control_socket,
            health_interval_s=2.0, poll_interval_s=0.5, keepalive_s=30, reconnect_min_s=1.0, reconnect_max_s=10.0,
        )
        self.agent.spawn_options = child_options()
        self.agent.start()
        log.info("virtual fleet: broker %s:%s, console %s, kiosk %s",
                 self.broker.host, self.broker.port, self.console_url, self.kiosk_id)
        print(f"Fleet console: {self.console_url}  (user admin, password in {self.dir / 'admin-password'})",
              file=sys.stderr, flush=True)
        return self

    def _register_site(self) -> None:
        """Say where the virtual kiosk stands, as an operator would for a new kiosk, so the
        console's kiosk list and service statistics group it under a district. Best effort:
        the kiosk runs without it."""
        import httpx

        base = f"http://127.0.0.1:{self.http_port}"
        try:
            with httpx.Client(base_url=base, timeout=10) as client:
                login = client.post("/api/login", json={"username": "admin",
                                                        "password": self.admin_password_file().read_text().strip()})
                login.raise_for_status()
                client.put(f"/api/kiosks/{self.kiosk_id}/site", json=VIRTUAL_SITE,
                           headers={"Authorization": f"Bearer {login.json()['token']}"}).raise_for_status()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("virtual fleet: could not register the kiosk's site: %s", exc)

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
        if self.server is not None:
            terminate(self.server, 10)
            self.server = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
