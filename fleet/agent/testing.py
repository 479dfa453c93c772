"""Test helpers for the agent's update path: a stand-in kiosk app that answers the control
socket, signed releases of it, and kiosks with real release directories running it.

Used by tests/fleet/test_agent_updates.py (one agent, the server played by an MQTT probe)
and tests/fleet/test_rollout_e2e.py (five agents under the real fleet server), so both
exercise the agent's own health probe (`ControlStatusProbe`) and session gate against
the same app. Nothing here is imported by the agent itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fleet.agent.control_client import ControlClient, ControlUnavailable
from fleet.protocol.control import AppStatus
from fleet.updates.health import ControlStatusProbe
from fleet.updates.models import UpdateOutcome
from fleet.updates.testing import UpdateLab, stop_fake_app

# A kiosk app that speaks the control socket protocol (fleet.protocol.control) with the
# standard library only: it runs from the release's own venv, where `kiosk` is not
# installed. An unhealthy release supervises no devices, which ControlStatusProbe refuses;
# ``session_active`` is true while the file <run>/session_active exists.
CONTROL_APP_MAIN = '''\
"""Stand-in kiosk app: answers status/events on <run>/control.sock like kiosk.control."""
import json, os, signal, socket, sys, threading, time
from fakekiosk import HEALTHY, __version__

STARTED = time.monotonic()


def answer(request, run):
    op = request.get("op")
    if op == "status":
        devices = [{"kind": "printer", "state": "ready"}, {"kind": "bp", "state": "ready"}] if HEALTHY else []
        return {"ok": True, "result": {
            "app_version": __version__, "uptime_s": time.monotonic() - STARTED, "devices": devices,
            "session_active": os.path.exists(os.path.join(run, "session_active"))}}
    if op == "events":
        return {"ok": True, "result": {"instance": str(os.getpid()), "events": []}}
    return {"ok": False, "error": "unsupported", "detail": str(op)}


def serve(conn, run):
    with conn:
        data = b""
        while not data.endswith(b"\\n"):
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        request = json.loads(data)
        response = dict(answer(request, run), v=1, rid=request.get("rid", 0))
        conn.sendall(json.dumps(response).encode() + b"\\n")


def main():
    status = sys.argv[1]
    run = os.path.dirname(status)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    path = os.path.join(run, "control.sock")
    tmp = "%s.%d" % (path, os.getpid())
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(tmp)
    server.listen(16)
    os.replace(tmp, path)  # the new app takes the socket path over in one step
    with open(status + ".tmp", "w") as fh:
        json.dump({"version": __version__, "healthy": HEALTHY, "pid": os.getpid()}, fh)
    os.replace(status + ".tmp", status)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, run), daemon=True).start()


main()
'''


class ControlAppLab(UpdateLab):
    """`UpdateLab` whose releases are the control-socket app above (same key, restart hook)."""

    app_main = CONTROL_APP_MAIN


def short_dir(prefix: str) -> Path:
    """A fresh directory in /tmp: a socket path must stay under 108 bytes; pytest's tmp_path may not."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def install_first_release(lab: ControlAppLab, root: Path, version: str = "1.0.0") -> UpdateOutcome:
    """Install and commit `version` into an empty kiosk root with the real installer and the
    agent's probe, then stop the app: a template to copy per kiosk (venvs are slow)."""
    run = short_dir("kt-")
    probe = ControlStatusProbe(ControlClient(run / "control.sock", timeout=2.0))
    outcome = lab.updater(root, run, probe=probe).apply(lab.request(version))
    stop_fake_app(run)
    shutil.rmtree(run, ignore_errors=True)
    return outcome


class ReleaseKiosk:
    """A kiosk's release root copied from `template`, its app started by the lab's restart
    hook (as kiosk.service would) with its control socket in `run`."""

    def __init__(self, lab: ControlAppLab, template: Path, root: Path, run: Path) -> None:
        self.lab = lab
        self.root, self.run = root, run
        shutil.copytree(template, self.root, symlinks=True)
        self.restart_hook = [sys.executable, str(lab.service_script), str(self.root), str(self.run)]
        subprocess.run(self.restart_hook, check=True, timeout=20)

    def update_settings(self, **overrides) -> dict:
        """AgentSettings fields (as KIOSK_AGENT_* values) for updates of this kiosk, quick for tests."""
        values = {
            "update_trusted_keys": json.dumps([self.lab.public_key]),
            "update_root": self.root,
            "update_restart_command": json.dumps(self.restart_hook),
            "update_health_deadline_s": 8.0,
            "update_health_interval_s": 0.05,
            "update_retry_s": 0.3,
            "update_venv_with_pip": "false",  # ensurepip costs seconds per venv; the installer tests keep it
        }
        values.update(overrides)
        return values

    @property
    def current(self) -> str:
        return (self.root / "current").readlink().name

    @property
    def releases(self) -> set[str]:
        return {p.name for p in (self.root / "releases").iterdir()}

    @property
    def app_pid(self) -> int:
        return int((self.run / "app.pid").read_text())

    def app_status(self, timeout: float = 10.0) -> AppStatus:
        """The running app's status over its control socket, waiting while it (re)starts."""
        client = ControlClient(self.run / "control.sock", timeout=2.0)
        end = time.monotonic() + timeout
        while True:
            try:
                return client.status()
            except ControlUnavailable:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        stop_fake_app(self.run)
        shutil.rmtree(self.run, ignore_errors=True)
