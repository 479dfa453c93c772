"""The fleet server with the real kiosk agent (`python -m fleet.agent` as a process, the
kiosk app's control socket over simulated devices), through Mosquitto with TLS + ACL:
the kiosk appears with its devices, a command goes round trip, configuration is
applied and reported, and a kill -9 of the agent shows as offline by its last will.
SQLite only: the database paths are covered by test_server.py."""

from __future__ import annotations

import pytest

from fleet.server.testing import FleetHarness, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}",
                           heartbeat_s=1.0).start()
    yield harness
    harness.stop()


def test_real_agent_appears_answers_commands_and_applies_config(fleet, kiosk_app, agent_process):
    api = fleet.client("operator")
    agent = agent_process("kiosk-a")

    kiosk = wait_until(lambda: (k := api.get("/api/kiosks/kiosk-a")).status_code == 200
                       and k.json()["devices"] and k.json(), timeout=15)
    assert kiosk["status"] == "online"
    assert {d["kind"] for d in kiosk["devices"]} == {"printer", "bp"}

    command_id = api.post("/api/kiosks/kiosk-a/commands", json={"name": "self_test", "args": {"device": "printer"}}).json()["command_id"]
    done = wait_until(lambda: (c := api.get(f"/api/commands/{command_id}").json())["status"] not in ("sent", "accepted") and c,
                      timeout=15)
    assert done["status"] == "succeeded", done

    assert api.put("/api/kiosks/kiosk-a/config", json={"volume": 20}).json() == {"version": 1}
    config = wait_until(lambda: (c := api.get("/api/kiosks/kiosk-a/config").json())["reported_version"] == 1 and c, timeout=15)
    assert config["state"] == "applied", config

    agent.kill9()
    wait_until(lambda: api.get("/api/kiosks/kiosk-a").json()["status"] == "offline", timeout=15)
    offline = [a for a in api.get("/api/alerts", params={"kiosk_id": "kiosk-a"}).json() if a["kind"] == "offline"]
    assert offline and "last will" in offline[0]["message"]
