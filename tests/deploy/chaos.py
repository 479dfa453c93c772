"""A bounded chaos run on loopback: kiosk sessions while the broker, the back office, the agent
and the kiosk's own flow process are killed (-9) or restarted at random.

Everything is a real process: the reference back office (`kiosk-backoffice`, restarted on the
same port and database), Mosquitto with the shipped TLS + ACL config, the fleet server, this
kiosk's agent, and the kiosk's sessions as `kiosk run-flow licence-renewal` processes on one
state directory (the flow engine, the encrypted journal and the submission outbox of the app;
the touch screen is left out so that a session takes seconds). At the end the back office is
up, `kiosk outbox flush` drains what waits, and the run counts:

- lost: a session that ended completed (the citizen holds a reference) whose application the
  back office does not hold;
- doubled: an application the back office holds twice for one session (one reference);
- orphans: processes of the run still alive after teardown;
- fleet: whether the fleet server sees the kiosk online at the end, as it is.

`bench/chaos.py` runs it for minutes and prints the counts; tests/deploy/test_chaos.py for one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fleet.broker.certs import CertificateAuthority
from fleet.broker.runner import MosquittoBroker, free_port, terminate
from fleet.broker.testing import AgentProcess
from lifecycle.secrets import write_secret_file

REPO = Path(__file__).resolve().parents[2]
KIOSK_ID = "kiosk-chaos-01"
ANSWERS = REPO / "examples" / "answers" / "licence-renewal.yaml"


@dataclass
class ChaosCounts:
    sessions: int = 0  # kiosk processes started
    killed_sessions: int = 0
    completed: int = 0
    aborted: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    applications: int = 0
    lost: int = 0
    doubled: int = 0
    orphans: int = 0
    fleet_online: bool = False
    flush_attempts: int = 0

    def line(self) -> str:
        acts = ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items()))
        return (f"chaos: {self.sessions} sessions ({self.completed} completed, {self.aborted} aborted, "
                f"{self.killed_sessions} killed), {self.applications} applications held, {self.lost} lost, "
                f"{self.doubled} doubled, {self.orphans} orphans, fleet {'matches' if self.fleet_online else 'WRONG'}"
                f" [{acts}]")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "KIVY_"))}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    return env


class BackOffice:
    """`kiosk-backoffice` on a fixed port and database, so a restart is the same back office."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "backoffice.sqlite3"
        self.log = workdir / "backoffice.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "backoffice.cli", "--port", str(self.port),
                                          "--db", str(self.db), "--pay-after", "0"],
                                         cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/v1/submissions", timeout=0.5)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"back office exited: {self.log.read_text()[-2000:]}")
                time.sleep(0.1)
        raise RuntimeError("back office did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Chaos:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.state = self.dir / "kiosk-state"
        self.counts = ChaosCounts()
        self.references: set[str] = set()  # provisional references of sessions that ended completed
        self.children: list[subprocess.Popen] = []

    # -- the system -----------------------------------------------------------------------
    def start(self) -> None:
        ca = CertificateAuthority(self.dir / "pki")
        ca.init()
        ca.issue_server()
        self.broker = MosquittoBroker(self.dir / "broker", ca)
        self.broker.start()
        self.backoffice = BackOffice(self.dir)
        self.backoffice.start()
        self.http_port = free_port()
        with open(self.dir / "fleet-server.log", "ab") as log:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "fleet.server.main", "--db", f"sqlite:///{self.dir / 'fleet.sqlite3'}",
                 "--mqtt", f"{self.broker.host}:{self.broker.port}", "--pki", str(ca.dir), "--http", str(self.http_port),
                 "--admin-password-file", str(write_secret_file(self.dir / "admin-password", "chaos-admin-1")),
                 "--artifact-dir", str(self.dir / "artifacts"), "--heartbeat-s", "2", "--log-level", "warning"],
                cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        self.agent = AgentProcess(KIOSK_ID, self.broker, ca, self.dir / "agent", control_socket=self.dir / "none.sock",
                                  health_interval_s=1.0).start()

    def stop(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        self.agent.stop()
        terminate(self.server, 10)
        self.backoffice.kill()
        self.broker.stop()

    # -- what happens -----------------------------------------------------------------------
    def session(self, kill_after: float | None) -> None:
        """One kiosk session (`kiosk run-flow`); killed -9 after `kill_after` s when given."""
        self.counts.sessions += 1
        out = self.dir / f"session-{self.counts.sessions:04d}.jsonl"
        with open(out, "wb") as stdout, open(self.dir / "sessions.log", "ab") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kiosk.cli", "run-flow", "licence-renewal", "--answers", str(ANSWERS),
                 "--devices", "sim", "--state-dir", str(self.state), "--backoffice", self.backoffice.url,
                 "--kiosk-id", KIOSK_ID, "--sim", "bp.duration=0.05", "--sim", "eye.answer_delay=0.003"],
                cwd=REPO, env=_env(), stdout=stdout, stderr=stderr)
        self.children.append(proc)
        try:
            proc.wait(kill_after if kill_after is not None else 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            self.counts.killed_sessions += 1
            return
        finally:
            self.children.remove(proc)
        for line in out.read_text(errors="replace").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("kind") == "outcome":
                if item.get("status") == "completed":
                    self.counts.completed += 1
                    ref = (item.get("outcome") or {}).get("provisional_reference")
                    if ref:
                        self.references.add(ref)
                else:
                    self.counts.aborted += 1

    def disturb(self) -> None:
        action = self.rng.choice(["kill_backoffice", "restart_broker", "kill_agent", "none"])
        self.counts.actions[action] = self.counts.actions.get(action, 0) + 1
        if action == "kill_backoffice" and self.backoffice.up():
            self.backoffice.kill()
        elif action == "restart_broker":
            self.broker.stop()
            self.broker.start()
        elif action == "kill_agent":
            self.agent.kill9()
            self.agent.start()
        if not self.backoffice.up() and self.rng.random() < 0.5:
            self.backoffice.start()  # the line comes back (or stays down for the next session)

    def run(self, seconds: float) -> ChaosCounts:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.disturb()
            kill = self.rng.random() < 0.35
            self.session(self.rng.uniform(0.5, 3.0) if kill else None)
        return self.finish()

    # -- the end: drain, count -----------------------------------------------------------------
    def finish(self) -> ChaosCounts:
        if not self.backoffice.up():
            self.backoffice.start()
        for _ in range(20):
            self.counts.flush_attempts += 1
            done = subprocess.run([sys.executable, "-m", "kiosk.cli", "outbox", "flush", "--state-dir", str(self.state),
                                   "--backoffice", self.backoffice.url], cwd=REPO, env=_env(), capture_output=True,
                                  timeout=120)
            if done.returncode == 0:
                break
            time.sleep(0.5)
        with sqlite3.connect(self.backoffice.db) as db:
            apps = db.execute("SELECT COUNT(*) FROM submissions WHERE kind = 'licence_renewal'").fetchone()[0]
            per_ref = dict(db.execute("SELECT reference, COUNT(*) FROM provisional WHERE kind = 'licence_renewal'"
                                      " GROUP BY reference").fetchall())
        self.counts.applications = apps
        self.counts.doubled = sum(n - 1 for n in per_ref.values() if n > 1) + max(0, apps - len(per_ref))
        self.counts.lost = len(self.references - set(per_ref))
        self.counts.fleet_online = self._fleet_sees_kiosk_online()
        return self.counts

    def _fleet_sees_kiosk_online(self) -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(self.dir / "fleet.sqlite3") as db:
                    row = db.execute("SELECT online FROM kiosks WHERE kiosk_id = ?", (KIOSK_ID,)).fetchone()
                if row and row[0]:
                    return True
            except sqlite3.Error:
                pass
            time.sleep(0.5)
        return False


def leftover_processes(workdir: Path) -> list[int]:
    """Processes whose command line names the run's directory (all of them should be gone)."""
    mark = str(workdir)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark in cmd and state != "Z":
            found.append(int(entry.name))
    return found


def run_chaos(workdir: Path, seconds: float, seed: int) -> ChaosCounts:
    chaos = Chaos(workdir, seed)
    chaos.start()
    try:
        counts = chaos.run(seconds)
    finally:
        chaos.stop()
    deadline = time.monotonic() + 15
    while (left := leftover_processes(workdir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    counts.orphans = len(left)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return counts
