"""`kiosk run --virtual` stops like a service, and puts no secret on any command line: SIGTERM / SIGINT end it in order with exit 0 and
take every child with it; after SIGKILL its children die too (PR_SET_PDEATHSIG), so nothing is
left in /proc. systemd is played by a datagram socket (NOTIFY_SOCKET): READY=1 after the first
frame, WATCHDOG=1 from the UI loop, STOPPING=1 when the stop begins.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .argv_secrets import cmdline, scan_argv, secret_values

REPO = Path(__file__).resolve().parents[2]
HAS_BROKER = shutil.which("mosquitto") is not None or os.path.exists("/usr/sbin/mosquitto")


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`, from /proc/<pid>/task/*/children."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.add(kid)
                    todo.append(kid)
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids that still run (a zombie has exited: only its parent's wait is missing)."""
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            out.add(pid)
    return out


def at_least(n: int, pids: set[int]) -> set[int] | None:
    return pids if len(pids) >= n else None


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Systemd:
    """The notify socket systemd would listen on; collects what the service says."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sd", dir="/tmp")  # AF_UNIX paths are short
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[str] = []

    def silent_for(self, line: str, seconds: float) -> bool:
        """True when `line` does not arrive for `seconds` (what systemd's watchdog waits for)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                return True
            self.messages.append(message)
            if line in message.splitlines():
                return False
        return True

    def wait_for(self, line: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(line in m.splitlines() for m in self.messages):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {line} from the service; it said {self.messages}")
            self.sock.settimeout(remaining)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def systemd():
    sd = Systemd()
    yield sd
    sd.close()


def start_kiosk(tmp_path: Path, systemd: Systemd, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "2000000"}
    env.pop("KIOSK_CONTROL_SOCKET", None)
    log = open(tmp_path / "kiosk.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--virtual", "--headless", "--mute",
                             "--state-dir", str(tmp_path / "state"), *extra],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return proc


def kiosk_log(tmp_path: Path) -> str:
    return (tmp_path / "kiosk.log").read_text(errors="replace")[-4000:]


@pytest.mark.timeout(240)
@pytest.mark.skipif(not HAS_BROKER, reason="mosquitto is not installed")
def test_sigterm_stops_the_kiosk_and_every_child_in_order(tmp_path, systemd):
    proc = start_kiosk(tmp_path, systemd, "--fleet")
    try:
        systemd.wait_for("READY=1", 150)
        systemd.wait_for("WATCHDOG=1", 20)  # from the UI loop, every WatchdogSec / 2
        # broker, fleet server, agent, back office (python children may have helpers of their own)
        children = wait_until(lambda: at_least(4, alive(descendants(proc.pid))), 60,
                              "the four children of the virtual kiosk")
        secrets = secret_values(tmp_path / "state")  # the admin password and every private key
        assert len(secrets) >= 3, "the scan must know the secrets it looks for"
        for pid in {proc.pid, *children, *descendants(proc.pid)}:  # `ps` shows every local user these
            argv = cmdline(pid)
            assert not scan_argv(argv, secrets), (scan_argv(argv, secrets), argv)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        assert code == 0, kiosk_log(tmp_path)
        systemd.wait_for("STOPPING=1", 1)
        assert alive(children) == set(), f"left running: {alive(children)}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.timeout(240)
@pytest.mark.skipif(not HAS_BROKER, reason="mosquitto is not installed")
def test_sigkill_of_the_kiosk_leaves_no_orphan(tmp_path, systemd):
    proc = start_kiosk(tmp_path, systemd, "--fleet")
    children: set[int] = set()
    try:
        systemd.wait_for("READY=1", 150)
        children = wait_until(lambda: at_least(4, alive(descendants(proc.pid))), 60,
                              "the four children of the virtual kiosk")
        proc.kill()
        proc.wait(10)
        wait_until(lambda: not alive(children), 30, f"the orphans {alive(children)} to go")
    finally:
        for pid in alive(children):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(180)
def test_a_frozen_kiosk_stops_pinging_and_sigint_stops_it(tmp_path, systemd):
    proc = start_kiosk(tmp_path, systemd, "--no-fleet")
    try:
        systemd.wait_for("READY=1", 150)
        systemd.wait_for("WATCHDOG=1", 20)
        proc.send_signal(signal.SIGSTOP)  # frozen, as a hung UI loop looks to systemd
        systemd.messages.clear()
        assert systemd.silent_for("WATCHDOG=1", 4.0), "pings went on from a frozen kiosk"  # WatchdogSec is 2 s
        proc.send_signal(signal.SIGCONT)
        systemd.wait_for("WATCHDOG=1", 20)  # thawed: the UI loop pings again
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, kiosk_log(tmp_path)
        systemd.wait_for("STOPPING=1", 1)
        assert alive(descendants(proc.pid)) == set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
