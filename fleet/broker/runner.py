"""Start and stop a real Mosquitto with the shipped fleet config.

Used by the tests (``tests/fleet/conftest.py``) and by ``kiosk run --virtual``. The
broker is a child process on a loopback port with its own persistence directory, so
`stop()` then `start()` again keeps retained messages and persistent sessions — which is
what an outage test needs.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path
from string import Template

from fleet.broker.certs import CertificateAuthority

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


def find_mosquitto() -> str | None:
    for candidate in (os.environ.get("MOSQUITTO"), shutil.which("mosquitto"), *MOSQUITTO_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def shipped_file(name: str) -> str:
    return resources.files("fleet.broker").joinpath(name).read_text()


def render_config(*, port: int, certs: Path, acl_file: Path, persistence_dir: Path,
                  bind: str = "127.0.0.1", log_dest: str = "stderr", run_as: str | None = None) -> str:
    """The shipped ``mosquitto.conf.template`` with paths and port filled in."""
    return Template(shipped_file("mosquitto.conf.template")).substitute(
        port=port, bind=bind, certs=str(certs), acl_file=str(acl_file),
        persistence_dir=str(persistence_dir), log_dest=log_dest,
        run_as=run_as or pwd.getpwuid(os.geteuid()).pw_name,
    )


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A free port *below* the ephemeral range.

    A broker that is stopped and started again on the same port (outage tests) must
    find it free: a port from the ephemeral range can meanwhile be taken as the source
    port of a client's reconnect attempt — even by a TCP self-connect to that very port.
    """
    low, _ = _ephemeral_range()
    candidates = list(range(10000, max(10001, low - 1)))
    random.shuffle(candidates)
    for port in candidates[:200]:
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # everything below the range is taken: fall back
        s.bind((host, 0))
        return s.getsockname()[1]


def terminate(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (the child shuts down cleanly), SIGKILL if it lingers past `timeout`."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class LoggedProcess:
    """A child process whose stdout and stderr go to `log_path`; subclasses say how it
    starts and stops. Shared by the broker here and `fleet.broker.testing.AgentProcess`."""

    log_path: Path
    proc: subprocess.Popen | None = None
    # extra Popen options for every start, e.g. lifecycle.children.child_options() so that the
    # child dies with a parent that owns it for good (the virtual kiosk); tests leave it empty
    spawn_options: dict = {}

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def _spawn(self, argv: list[str], **popen) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **{**self.spawn_options, **popen})
        return self.proc

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class MosquittoBroker(LoggedProcess):
    """One mosquitto process with the fleet TLS + ACL config in `workdir`."""

    def __init__(self, workdir: Path, ca: CertificateAuthority, *, port: int | None = None,
                 host: str = "127.0.0.1", executable: str | None = None, extra_acl: str = "") -> None:
        self.workdir = Path(workdir)
        self.ca = ca
        self.host = host
        self.port = port or free_port(host)
        self.executable = executable or find_mosquitto()
        if not self.executable:
            raise FileNotFoundError("mosquitto not found (install the mosquitto package or set MOSQUITTO)")
        self.conf_path = self.workdir / "mosquitto.conf"
        self.acl_path = self.workdir / "acl"
        self.log_path = self.workdir / "mosquitto.log"
        self.extra_acl = extra_acl  # appended to the shipped ACL (tests: watching probe identities)
        self.proc: subprocess.Popen | None = None

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        self.acl_path.write_text(shipped_file("acl") + self.extra_acl)
        self.conf_path.write_text(
            render_config(port=self.port, bind=self.host, certs=self.ca.dir, acl_file=self.acl_path,
                          persistence_dir=self.workdir / "data")
        )

    def start(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            return
        if not self.conf_path.exists():
            self.write_config()
        self._spawn([self.executable, "-c", str(self.conf_path)], start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"mosquitto did not listen on {self.host}:{self.port}:\n{self.log()}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (mosquitto saves its persistence file), SIGKILL if it lingers."""
        proc, self.proc = self.proc, None
        if proc is not None:
            terminate(proc, timeout)

    def __enter__(self) -> "MosquittoBroker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
