"""`kiosk run --virtual --fleet`: the whole system on one machine — simulators, back office,
UI, broker, fleet server and agent — and the kiosk's health reaching the fleet server."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"),
                                reason="mosquitto is not installed (scripts/setup.sh installs it)")


def test_virtual_kiosk_reports_to_its_fleet_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "KIVY_"))}
    env.update(KIVY_NO_ARGS="1", KIVY_NO_CONFIG="1", KIVY_NO_FILELOG="1", KIVY_HOME=str(tmp_path / "kivy"))
    state = tmp_path / "s"  # short: the control socket path must fit in sun_path
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "run", "--virtual", "--headless", "--fleet",
         "--autopilot", "licence-reissue", "--state-dir", str(state)],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Fleet console: http://127.0.0.1:" in result.stderr

    with sqlite3.connect(state / "fleet" / "fleet.sqlite3") as db:
        kiosks = [r[0] for r in db.execute("select kiosk_id from kiosks")]
        samples = [json.loads(r[0]) for r in db.execute("select payload from health_samples order by id")]
        events = dict(db.execute("select kind, count(*) from events group by kind").fetchall())
    # (app events still in the agent's on-disk outbox when the run ends are sent at its next start)
    assert kiosks == ["kiosk-virtual-01"]
    # while the app ran, the agent reported it with every device ready (samples before the
    # app opened its control socket say app_reachable false; that is the agent being honest)
    live = [h for h in samples if h["app_reachable"]]
    assert live, samples
    assert all(h["app_version"] for h in live)
    kinds = {"idcard", "bp", "eye", "printer", "camera", "height", "cardreader", "doccam"}

    def all_working(h):  # a sample taken mid-measurement shows that device busy
        return {d["kind"] for d in h["devices"]} == kinds and all(d["state"] in ("ready", "busy") for d in h["devices"])

    assert any(all_working(h) for h in live), [[(d["kind"], d["state"]) for d in h["devices"]] for h in live]
    assert events.get("agent_started") == 1
    admin = state / "fleet" / "admin-password"
    assert oct(admin.stat().st_mode & 0o777) == "0o600"
