"""`kiosk-fleet-server` and `kiosk-fleet` as real processes: the server entry point on
SQLite with the broker's TLS identity from --pki, the operator CLI over its REST API
(login, kiosks, kiosk, command, config, audit), a simulated kiosk answering."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fleet.server.testing import SimKiosk, free_port, wait_until
from lifecycle.secrets import write_secret_file

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "first-start-secret"


@pytest.fixture
def server_process(fleet_pki, mosquitto, tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet.server.main", "--db", f"sqlite:///{tmp_path / 'fleet.db'}",
         "--mqtt", f"{mosquitto.host}:{mosquitto.port}", "--pki", str(fleet_pki.dir), "--http", str(port),
         "--admin-password-file", str(write_secret_file(tmp_path / "admin-password", ADMIN_PASSWORD)),
         "--heartbeat-s", "30", "--log-level", "warning"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError((tmp_path / "server.log").read_text())
        try:
            return httpx.get(f"{url}/api/healthz", timeout=1).json()["mqtt_connected"]
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=20, interval=0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture
def cli(server_process, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_FLEET_")}
    env["KIOSK_FLEET_TOKEN_FILE"] = str(tmp_path / "cli" / "session.json")

    def run(*args: str, password: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        run_env = dict(env, **({"KIOSK_FLEET_PASSWORD": password} if password else {}))
        done = subprocess.run([sys.executable, "-m", "fleet.server.cli", *args], cwd=REPO, env=run_env,
                              capture_output=True, text=True, timeout=30)
        if check:
            assert done.returncode == 0, done.stderr + done.stdout
        return done

    run.session_file = Path(env["KIOSK_FLEET_TOKEN_FILE"])
    return run


def test_operator_cli_over_the_server_entry_point(fleet_pki, mosquitto, server_process, cli, tmp_path):
    identity = fleet_pki.kiosk_identity("kiosk-a")
    kiosk = SimKiosk("kiosk-a", mosquitto.host, mosquitto.port, ca=identity.ca, cert=identity.cert, key=identity.key)
    kiosk.set_device("printer", "ready", paper="near_end")
    kiosk.connect()
    kiosk.send_health()
    try:
        assert cli("kiosks", check=False).returncode == 2  # not logged in yet
        done = cli("--url", server_process, "login", "--username", "admin", password=ADMIN_PASSWORD)
        assert "logged in as admin (admin)" in done.stdout
        assert stat.S_IMODE(cli.session_file.stat().st_mode) == 0o600

        listing = wait_until(lambda: "kiosk-a" in (out := cli("kiosks").stdout) and out)
        assert "online" in listing and "printer:ready" in listing
        detail = cli("kiosk", "kiosk-a").stdout
        assert "paper near_end" in detail and "[warning] paper_low printer" in detail

        done = cli("command", "kiosk-a", "self_test", "device=printer")
        assert "succeeded — self-test of printer passed" in done.stdout
        as_json = json.loads(cli("--json", "command", "kiosk-a", "fetch_logs", '{"lines": 2}').stdout)
        assert as_json["status"] == "succeeded" and as_json["result"]["payload"]["lines"] == ["app started", "printer ready"]

        settings = tmp_path / "settings.yaml"
        settings.write_text("volume: 45\nlanguage: en\n")
        done = cli("config", "kiosk-a", str(settings))
        assert "desired v1, reported v1 — applied" in done.stdout
        assert kiosk.configs[-1].settings["volume"] == 45

        settings.write_text("volume: 450\n")
        refused = cli("config", "kiosk-a", str(settings), check=False)
        assert refused.returncode == 2 and "422" in refused.stderr and "volume" in refused.stderr

        refused = cli("command", "kiosk-a", "self_test", "device=toaster", check=False)
        assert refused.returncode == 2 and "422" in refused.stderr

        audit = cli("audit").stdout
        lines = [line.split()[2] for line in audit.splitlines()[2:]]
        assert lines[:4] == ["config", "command", "command", "login"]
        assert "kiosk-a" in audit
    finally:
        kiosk.close()


def test_server_refuses_to_start_without_any_operator_or_certificates(fleet_pki, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    command = [sys.executable, "-m", "fleet.server.main", "--db", f"sqlite:///{tmp_path / 'empty.db'}"]
    done = subprocess.run([*command, "--pki", str(fleet_pki.dir)], cwd=REPO, capture_output=True, text=True,
                          timeout=30, env=env)
    assert done.returncode == 2
    assert "no operator exists; start once with --admin-password-file" in done.stderr
    done = subprocess.run([*command, "--ca", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode != 0 and "certificate files missing or not found: --ca, --cert, --key" in done.stderr


def test_the_admin_password_comes_from_a_private_file_never_from_argv(fleet_pki, tmp_path):
    readable = write_secret_file(tmp_path / "admin-password", "hunter2-hunter2")
    readable.chmod(0o644)
    done = subprocess.run([sys.executable, "-m", "fleet.server.main", "--db", f"sqlite:///{tmp_path / 'x.db'}",
                           "--pki", str(fleet_pki.dir), "--admin-password-file", str(readable)],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "readable by others" in done.stderr and "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr
    usage = subprocess.run([sys.executable, "-m", "fleet.server.main", "--admin-password", "x"], cwd=REPO,
                           capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "unrecognized arguments" in usage.stderr
