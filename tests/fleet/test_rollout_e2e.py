"""Staged rollouts end to end: a real Mosquitto (shipped TLS + ACL), the real fleet server
(SQLite, REST API over HTTP, the rollout engine), the operator CLI (`kiosk-fleet`), and
five kiosks, each a real `kiosk-agent` process with its own certificate managing a real
release directory (``current`` → ``releases/<version>``, a venv per release, the
installer of `fleet.updates`) and a stand-in kiosk app (tiny wheels) that answers the
control socket, so the agent's own health probe decides commit or rollback. The kiosks
download the bundle from the fleet server's artifact URL (HTTP Range).

Shown: a staged rollout (canary, paused, resumed, an approval gate, then the rest)
ends with every kiosk on the new release; a release that fails its health check rolls
back on every kiosk that got it, the rollout aborts at its failure threshold, and the
kiosks of later stages keep their release and never see a desired update; a tampered
bundle and one signed by an unknown key are refused at upload.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from fleet.agent.testing import ControlAppLab, ReleaseKiosk, install_first_release, short_dir
from fleet.protocol import Channel, kiosk_topic
from fleet.server import cli
from fleet.server.testing import FleetHarness, wait_until
from fleet.bundle.keys import generate_keypair, load_private_key
from fleet.updates.testing import tamper_bundle

pytestmark = pytest.mark.timeout(120)

KIOSKS = [f"ro-{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with ControlAppLab(tmp_path_factory.mktemp("lab")) as lab:
        lab.add_release("1.0.0")
        lab.add_release("2.0.0")
        lab.add_release("3.0.0", healthy=False)
        rogue, _ = generate_keypair(lab.base / "rogue-keys", "rogue")
        lab.add_release("4.0.0", key=load_private_key(rogue))
        tamper_bundle(lab.serve_dir / lab.bundle_name("2.0.0"), lab.serve_dir / "tampered-2.0.0.bundle")
        yield lab


@pytest.fixture(scope="module")
def template(lab, tmp_path_factory):
    """A kiosk root with 1.0.0 installed and committed by the real installer (copied per kiosk)."""
    root = tmp_path_factory.mktemp("template") / "root"
    outcome = install_first_release(lab, root)
    assert outcome.status == "committed", outcome
    return root


class Kiosk(ReleaseKiosk):
    """One kiosk: its release root (1.0.0 running), the stand-in app, and its agent process."""

    def __init__(self, kiosk_id: str, lab: ControlAppLab, template: Path, base: Path) -> None:
        self.kiosk_id = kiosk_id
        # kiosk.service starts 1.0.0; the run dir is in /tmp so socket paths stay short
        super().__init__(lab, template, base / kiosk_id / "root", short_dir(f"{kiosk_id}-"))
        self.agent = None

    def settings(self, **overrides) -> dict:
        return self.update_settings(**{"update_progress_interval_s": 0.5, "health_interval_s": 5.0, **overrides})

    def app_version(self, timeout: float = 10.0) -> str:
        return self.app_status(timeout).app_version


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path, lab):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}")
    harness.settings.trusted_keys = [lab.public_key]
    harness.settings.artifact_dir = tmp_path / "artifacts"
    harness.settings.rollout_tick_s = 0.1
    harness.start()
    harness.server.settings.artifact_base_url = harness.url  # the bundle URL kiosks get
    yield harness
    harness.stop()


@pytest.fixture
def kiosks(fleet, lab, template, tmp_path, agent_process):
    """Five kiosks running 1.0.0, their agents connected to the broker and known to the server."""
    made = [Kiosk(kiosk_id, lab, template, tmp_path) for kiosk_id in KIOSKS]

    def start(**overrides) -> list[Kiosk]:
        for kiosk in made:
            kiosk.agent = agent_process(kiosk.kiosk_id, control_socket=kiosk.run / "control.sock",
                                        **kiosk.settings(**overrides))
        viewer = fleet.client("viewer")
        wait_until(lambda: {k["kiosk_id"] for k in viewer.get("/api/kiosks").json() if k["status"] == "online"}
                   == set(KIOSKS), timeout=60)  # five agent processes starting on a loaded 2-core CI machine
        return made

    yield start
    for kiosk in made:
        kiosk.close()


@pytest.fixture
def operator_cli(fleet, monkeypatch, tmp_path):
    """`kiosk-fleet` in this process, logged in as an operator; returns (exit code, stdout)."""
    token = fleet.client("operator").headers["Authorization"].removeprefix("Bearer ")
    monkeypatch.setenv("KIOSK_FLEET_TOKEN", token)
    monkeypatch.setenv("KIOSK_FLEET_TOKEN_FILE", str(tmp_path / "cli-session.json"))

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = cli.main(["--url", fleet.url, *argv], out=out)
        return code, out.getvalue()

    return run


def rollout(api, rollout_id: str) -> dict:
    return api.get(f"/api/rollouts/{rollout_id}").json()


def wait_rollout(api, rollout_id: str, check, timeout: float = 30.0) -> dict:
    return wait_until(lambda: (lambda r: r if check(r) else None)(rollout(api, rollout_id)), timeout=timeout,
                      interval=0.1)


def states(detail: dict) -> dict[str, str]:
    return {k["kiosk_id"]: k["state"] for k in detail["kiosks"]}


def desired_topics(probe) -> set[str]:
    return {m.topic.split("/")[1] for m in probe.received("kiosk/+/update/desired")}


# ------------------------------------------------------------------ tests


def test_staged_rollout_canary_pause_approval_then_everyone_commits(fleet, lab, kiosks, operator_cli, mqtt_probe):
    watch = mqtt_probe()
    watch.subscribe("kiosk/+/update/desired")
    fleet_kiosks = kiosks()
    api = fleet.client("operator")

    code, out = operator_cli("--json", "artifact", "upload", str(lab.serve_dir / lab.bundle_name("2.0.0")))
    assert code == 0, out
    artifact = json.loads(out)
    code, out = operator_cli("--json", "rollout", "create", "--artifact", artifact["artifact_id"], "--name", "2.0.0 wave",
                             "--kiosks", ",".join(KIOSKS), "--stages", "1,3,100%", "--approve", "2")
    assert code == 0, out
    rid = json.loads(out)["rollout_id"]
    assert [s["size"] for s in json.loads(out)["stages"]] == [1, 2, 2]

    # Canary first; pause while it installs: it finishes, nothing else is asked.
    assert api.post(f"/api/rollouts/{rid}/pause").json()["status"] == "paused"
    canary = wait_rollout(api, rid, lambda d: states(d)["ro-1"] == "committed")
    assert canary["status"] == "paused" and canary["kiosks"][0]["current_version"] == "2.0.0"
    time.sleep(0.5)  # a few engine ticks: a paused rollout must not advance
    assert desired_topics(watch) == {"ro-1"}
    assert set(states(rollout(api, rid)).values()) == {"committed", "waiting"}

    # Resume: stage 2 waits for an operator's approval.
    assert api.post(f"/api/rollouts/{rid}/resume").status_code == 200
    waiting = wait_rollout(api, rid, lambda d: d["status"] == "waiting_approval")
    assert waiting["stages"][1]["status"] == "waiting_approval" and desired_topics(watch) == {"ro-1"}
    code, out = operator_cli("rollout", "approve", rid)
    assert code == 0 and "approval by operator" in out, out

    code, out = operator_cli("rollout", "show", rid, "--wait", "--timeout", "60")
    assert code == 0, out
    done = rollout(api, rid)
    assert done["status"] == "completed" and done["committed"] == 5 and done["failed"] == 0
    assert [s["status"] for s in done["stages"]] == ["succeeded"] * 3
    rows = {k["kiosk_id"]: k for k in done["kiosks"]}
    assert rows["ro-1"]["finished_at"] < rows["ro-2"]["targeted_at"]  # the canary committed before stage 2
    assert max(rows[k]["finished_at"] for k in ("ro-2", "ro-3")) <= min(rows[k]["targeted_at"] for k in ("ro-4", "ro-5"))
    assert all(r["from_version"] == "1.0.0" for r in rows.values())
    for kiosk in fleet_kiosks:
        assert kiosk.current == "2.0.0" and kiosk.releases == {"1.0.0", "2.0.0"}
        assert kiosk.app_version() == "2.0.0"  # the app that runs is the new release
    audit = [e["action"] for e in api.get("/api/audit").json()]
    for action in ("artifact_upload", "rollout_create", "rollout_pause", "rollout_resume", "rollout_approve",
                   "rollout_completed"):
        assert action in audit, action


def test_unhealthy_release_rolls_back_where_it_went_and_the_rollout_aborts(fleet, lab, kiosks, operator_cli, mqtt_probe):
    watch = mqtt_probe()
    watch.subscribe("kiosk/+/update/desired")
    watch_reports = mqtt_probe()
    watch_reports.subscribe("kiosk/+/update/reported")
    fleet_kiosks = kiosks(update_health_deadline_s=1.5)
    pids = {k.kiosk_id: k.app_pid for k in fleet_kiosks}
    api = fleet.client("operator")

    # Bundles that no kiosk would take are refused at the door.
    for name, reason in (("tampered-2.0.0.bundle", "hash_mismatch"), (lab.bundle_name("4.0.0"), "untrusted_key")):
        code, _ = operator_cli("artifact", "upload", str(lab.serve_dir / name))
        assert code == 2
        assert api.get("/api/audit").json()[0]["detail"]["error"].startswith(reason)
    assert api.get("/api/artifacts").json() == []

    art = api.post("/api/artifacts", content=(lab.serve_dir / lab.bundle_name("3.0.0")).read_bytes()).json()
    created = api.post("/api/rollouts", json={
        "artifact_id": art["artifact_id"], "target": {"kiosks": KIOSKS}, "stages": [2, "100%"],
        "abort": {"max_failures": 2, "max_failure_percent": None}})
    assert created.status_code == 201, created.text
    rid = created.json()["rollout_id"]

    aborted = wait_rollout(api, rid, lambda d: d["status"] == "aborted", timeout=40)
    assert "2 kiosk(s) failed; the rollout aborts at 2" in aborted["status_reason"]
    assert states(aborted) == {"ro-1": "rolled_back", "ro-2": "rolled_back", "ro-3": "skipped", "ro-4": "skipped",
                               "ro-5": "skipped"}
    assert {k["reason"] for k in aborted["kiosks"][:2]} == {"unhealthy"}
    assert [s["status"] for s in aborted["stages"]] == ["failed", "skipped"]
    for kiosk in fleet_kiosks:  # every kiosk runs 1.0.0: the two that got 3.0.0 rolled back
        assert kiosk.current == "1.0.0" and kiosk.releases == {"1.0.0"} and kiosk.app_version() == "1.0.0"
    assert desired_topics(watch) == {"ro-1", "ro-2"}  # the rest never saw a desired update
    for spared in ("ro-3", "ro-4", "ro-5"):
        kiosk = next(k for k in fleet_kiosks if k.kiosk_id == spared)
        assert kiosk.app_pid == pids[spared]  # never restarted
        assert not watch_reports.received(kiosk_topic(spared, Channel.UPDATE_REPORTED))
    assert "rollout_aborted" in [e["action"] for e in api.get("/api/audit").json()]
