"""Artifacts, labels and the rollout engine through the REST API, with a real Mosquitto
and the real fleet server (SQLite and PostgreSQL); the kiosks are scripted (`SimKiosk` publishing
``update/reported``), so each test makes a kiosk say exactly one thing. The end-to-end
tests with real agents and real release directories are in test_rollout_e2e.py.

Shown here: signed upload accepted, tampered / unsigned / foreign-signed refused with
the installer's reason code, roles; download with Range (206) and HEAD; delete; kiosk
labels and targeting by group and tag; the retained ``update/desired`` carries rollout
id, version, URL, sha256 and size; stage advance on reports; stage deadline → timed
out → abort; cancel clears the retained desired of kiosks that had not started;
conflicting rollouts and actions refused (409); every action in the audit log.
Targets that follow the fleet: kiosks join and leave a targeted group mid-rollout, and
operators add and remove kiosks — a joiner goes into the last stage (waiting if that
wave has not started, targeted at once if it has); a leaver never asked is never
touched; one asked but not started is withdrawn; one already installing stays.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from fleet.protocol import Channel, UpdateDesired, UpdateReported, decode, kiosk_topic
from fleet.server import rollout_members
from fleet.server.models import Rollout
from fleet.server.testing import FleetHarness, wait_until
from fleet.bundle.keys import generate_keypair, load_private_key
from fleet.updates.testing import UpdateLab, tamper_bundle

pytestmark = pytest.mark.timeout(60)

DESIRED = "kiosk/+/update/desired"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Signed bundles (tiny wheels), one unsigned, one by a key the server does not trust, one tampered."""
    lab = UpdateLab(tmp_path_factory.mktemp("lab"))
    for version in ("2.0.0", "2.1.0"):
        lab.add_release(version)
    lab.add_release("3.0.0", sign=False)
    rogue, _ = generate_keypair(lab.base / "rogue", "rogue")
    wheels = lab.base / "wheels"
    from fleet.bundle.archive import build_bundle, sign_bundle
    from fleet.updates.testing import fake_app_wheels

    build_bundle(fake_app_wheels(wheels / "4.0.0", "4.0.0"), lab.serve_dir / "rogue.bundle", package="fakekiosk")
    sign_bundle(lab.serve_dir / "rogue.bundle", load_private_key(rogue))
    tamper_bundle(lab.serve_dir / lab.bundle_name("2.0.0"), lab.serve_dir / "tampered.bundle")
    yield lab
    lab.server.httpd.server_close()


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path, lab, db_url):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, db_url)
    harness.settings.trusted_keys = [lab.public_key]
    harness.settings.artifact_dir = tmp_path / "artifacts"
    harness.settings.rollout_tick_s = 0.05
    harness.start()
    harness.server.settings.artifact_base_url = harness.url
    yield harness
    harness.stop()


def upload(api, path):
    return api.post("/api/artifacts", content=path.read_bytes(), headers={"Content-Type": "application/octet-stream"})


def report(kiosk, state: str, rollout_id: str, version: str = "2.0.0", **fields) -> None:
    kiosk.publish(UpdateReported(kiosk_id=kiosk.kiosk_id, state=state, rollout_id=rollout_id, version=version,
                                 **fields)).wait_for_publish(5)


def desired_of(probe, kiosk_id: str) -> list[UpdateDesired | None]:
    """Every update/desired the probe saw for the kiosk; None for a cleared one."""
    return [decode(UpdateDesired, m.payload) if m.payload else None
            for m in probe.received(kiosk_topic(kiosk_id, Channel.UPDATE_DESIRED))]


def retained(mqtt_probe, kiosk_id: str) -> UpdateDesired | None:
    """What the broker keeps on the kiosk's update/desired: a new subscriber's view."""
    probe = mqtt_probe()
    probe.subscribe(kiosk_topic(kiosk_id, Channel.UPDATE_DESIRED))
    try:
        message = probe.wait_for(kiosk_topic(kiosk_id, Channel.UPDATE_DESIRED), timeout=0.5)[0]
    except AssertionError:
        return None
    assert message.retain
    return decode(UpdateDesired, message.payload)


def rollout(api, rollout_id: str) -> dict:
    return api.get(f"/api/rollouts/{rollout_id}").json()


def wait_rollout(api, rollout_id: str, check, timeout: float = 10.0) -> dict:
    return wait_until(lambda: (lambda r: r if check(r) else None)(rollout(api, rollout_id)), timeout=timeout)


def states(detail: dict) -> dict[str, str]:
    return {k["kiosk_id"]: k["state"] for k in detail["kiosks"]}


# ------------------------------------------------------------------ artifacts


def test_upload_verifies_like_a_kiosk_and_serves_with_range(fleet, lab):
    op, viewer = fleet.client("operator"), fleet.client("viewer")
    good = lab.serve_dir / lab.bundle_name("2.0.0")
    body = good.read_bytes()

    assert upload(viewer, good).status_code == 403  # viewers may not upload
    created = upload(op, good)
    assert created.status_code == 201, created.text
    art = created.json()
    assert (art["version"], art["package"], art["size"], art["sha256"]) == (
        "2.0.0", "fakekiosk", len(body), hashlib.sha256(body).hexdigest())
    assert upload(op, good).status_code == 409  # the same bundle twice

    for name, reason in (("tampered.bundle", "hash_mismatch"), (lab.bundle_name("3.0.0"), "unsigned"),
                         ("rogue.bundle", "untrusted_key")):
        refused = upload(op, lab.serve_dir / name)
        assert refused.status_code == 422 and refused.json()["detail"]["reason"] == reason, refused.text
    assert [a["version"] for a in viewer.get("/api/artifacts").json()] == ["2.0.0"]
    assert not [p for p in fleet.settings.artifact_dir.iterdir() if p.name.startswith(".upload-")]

    anonymous = fleet.client(None)  # kiosks download without an operator session
    url = art["download_path"]
    whole = anonymous.get(url)
    assert whole.status_code == 200 and whole.content == body and whole.headers["accept-ranges"] == "bytes"
    part = anonymous.get(url, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206 and part.content == body[1000:]
    assert part.headers["content-range"] == f"bytes 1000-{len(body) - 1}/{len(body)}"
    head = anonymous.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(body) and not head.content

    assert op.delete(f"/api/artifacts/{art['artifact_id']}").status_code == 204
    assert anonymous.get(url).status_code == 404 and viewer.get("/api/artifacts").json() == []
    actions = [(e["action"], e["outcome"]) for e in op.get("/api/audit").json()]
    assert ("artifact_upload", "ok") in actions and ("artifact_delete", "ok") in actions
    assert actions.count(("artifact_upload", "failed")) == 4 and ("denied", "denied") in actions


def test_without_trusted_keys_every_upload_is_refused(fleet_pki, mosquitto, tmp_path, lab):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'k.db'}")
    harness.settings.artifact_dir = tmp_path / "artifacts"
    harness.start()
    try:
        refused = upload(harness.client("admin"), lab.serve_dir / lab.bundle_name("2.0.0"))
        assert refused.status_code == 422 and refused.json()["detail"]["reason"] == "not_configured"
    finally:
        harness.stop()


# ------------------------------------------------------------------ rollouts


def test_labels_target_groups_and_tags_and_desired_carries_the_bundle(fleet, lab, mqtt_probe):
    op = fleet.client("operator")
    watch = mqtt_probe()
    watch.subscribe(DESIRED)
    kiosks = {k: fleet.kiosk(k) for k in ("cq-1", "cq-2", "gz-1", "gz-2", "sz-1")}
    wait_until(lambda: len(op.get("/api/kiosks").json()) == 5)
    for kiosk_id, group, tags in (("cq-1", "chongqing", ["pilot"]), ("cq-2", "chongqing", []),
                                  ("gz-1", "guangzhou", ["pilot"]), ("gz-2", "guangzhou", []), ("sz-1", "shenzhen", [])):
        assert op.put(f"/api/kiosks/{kiosk_id}/labels", json={"group": group, "tags": tags}).status_code == 200
    summary = {k["kiosk_id"]: k for k in op.get("/api/kiosks").json()}
    assert summary["gz-1"]["group"] == "guangzhou" and summary["gz-1"]["tags"] == ["pilot"]

    art = upload(op, lab.serve_dir / lab.bundle_name("2.0.0")).json()
    bad = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"kiosks": ["nope-1"]}})
    assert bad.status_code == 422 and "nope-1" in bad.text
    created = op.post("/api/rollouts", json={
        "artifact_id": art["artifact_id"], "name": "pilot wave",
        "target": {"groups": ["chongqing"], "tags": ["pilot"]}, "stages": [1, "100%"]})
    assert created.status_code == 201, created.text
    r = created.json()
    assert [k["kiosk_id"] for k in r["kiosks"]] == ["cq-1", "cq-2", "gz-1"]  # group ∪ tag, by id
    assert [s["size"] for s in r["stages"]] == [1, 2]

    watch.wait_for(kiosk_topic("cq-1", Channel.UPDATE_DESIRED))
    desired = retained(mqtt_probe, "cq-1")
    assert (desired.rollout_id, desired.version, desired.sha256, desired.size) == (
        r["rollout_id"], "2.0.0", art["sha256"], art["size"])
    assert desired.url == fleet.url + art["download_path"] and desired.allow_downgrade is False
    assert desired_of(watch, "cq-2") == [] and desired_of(watch, "sz-1") == []  # not yet / never

    overlap = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"kiosks": ["gz-1", "sz-1"]}})
    assert overlap.status_code == 409 and "gz-1" in overlap.text

    report(kiosks["cq-1"], "downloading", r["rollout_id"], progress=50.0)
    wait_rollout(op, r["rollout_id"], lambda d: d["kiosks"][0]["progress"] == 50.0)
    report(kiosks["cq-1"], "committed", r["rollout_id"], current_version="2.0.0")
    watch.wait_for(kiosk_topic("gz-1", Channel.UPDATE_DESIRED))
    watch.wait_for(kiosk_topic("cq-2", Channel.UPDATE_DESIRED))
    report(kiosks["cq-1"], "downloading", r["rollout_id"])  # a late duplicate must not undo "committed"
    for kiosk_id in ("cq-2", "gz-1"):
        report(kiosks[kiosk_id], "committed", r["rollout_id"])
    done = wait_rollout(op, r["rollout_id"], lambda d: d["status"] == "completed")
    assert set(states(done).values()) == {"committed"} and [s["status"] for s in done["stages"]] == ["succeeded"] * 2
    assert desired_of(watch, "sz-1") == [] and desired_of(watch, "gz-2") == []
    page = op.get(f"/console/rollouts/{r['rollout_id']}")  # the console page: each stage, each kiosk
    assert page.status_code == 200 and page.text.count('class="stage succeeded"') == 2
    assert page.text.count('class="rk committed"') == 3 and 'id="rollout-abort"' not in page.text
    listing = op.get("/console/rollouts").text
    assert f'data-rollout="{r["rollout_id"]}"' in listing and f'data-artifact="{art["artifact_id"]}"' in listing
    assert ("rollout_create", "ok") in [(e["action"], e["outcome"]) for e in op.get("/api/audit").json()]


def test_stage_deadline_times_out_silent_kiosks_and_aborts(fleet, lab, mqtt_probe):
    op = fleet.client("operator")
    watch = mqtt_probe()
    watch.subscribe(DESIRED)
    kiosks = [fleet.kiosk(f"dl-{i}") for i in range(4)]
    wait_until(lambda: len(op.get("/api/kiosks").json()) == 4)
    art = upload(op, lab.serve_dir / lab.bundle_name("2.0.0")).json()
    r = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"kiosks": [k.kiosk_id for k in kiosks]},
                                       "stages": [2, "100%"], "deadline_s": 1.0,
                                       "abort": {"max_failures": 2, "max_failure_percent": None}}).json()
    report(kiosks[0], "committed", r["rollout_id"])
    report(kiosks[1], "downloading", r["rollout_id"])  # then silence
    d = wait_rollout(op, r["rollout_id"], lambda d: d["status"] != "running", timeout=10)
    assert d["status"] == "aborted" and "0 of 1" not in d["status_reason"]
    assert states(d) == {"dl-0": "committed", "dl-1": "timed_out", "dl-2": "skipped", "dl-3": "skipped"}
    assert d["kiosks"][1]["reason"] == "stage_deadline"
    assert desired_of(watch, "dl-1")[-1] is None and retained(mqtt_probe, "dl-1") is None  # cleared
    assert desired_of(watch, "dl-2") == [] and desired_of(watch, "dl-3") == []
    assert desired_of(watch, "dl-0")[-1] is not None  # the committed kiosk keeps its desired
    report(kiosks[1], "committed", r["rollout_id"])  # a late final report still counts for the record
    wait_rollout(op, r["rollout_id"], lambda d: states(d)["dl-1"] == "committed")
    assert rollout(op, r["rollout_id"])["status"] == "aborted"


def test_pause_resume_approve_cancel_and_their_conflicts(fleet, lab, mqtt_probe):
    op = fleet.client("operator")
    watch = mqtt_probe()
    watch.subscribe(DESIRED)
    kiosks = [fleet.kiosk(f"pa-{i}") for i in range(5)]
    wait_until(lambda: len(op.get("/api/kiosks").json()) == 5)
    art = upload(op, lab.serve_dir / lab.bundle_name("2.0.0")).json()
    ids = [k.kiosk_id for k in kiosks]
    body = {"artifact_id": art["artifact_id"], "target": {"kiosks": ids},
            "stages": [{"size": 1}, {"size": 3, "approval": True}, {"size": "100%"}]}  # cumulative: 1, +2, +2
    r = op.post("/api/rollouts", json=body).json()
    rid = r["rollout_id"]
    assert fleet.client("viewer").post(f"/api/rollouts/{rid}/pause").status_code == 403
    assert op.post(f"/api/rollouts/{rid}/resume").status_code == 409  # not paused
    assert op.post(f"/api/rollouts/{rid}/pause").json()["status"] == "paused"
    report(kiosks[0], "committed", rid)
    wait_rollout(op, rid, lambda d: states(d)["pa-0"] == "committed")
    assert rollout(op, rid)["status"] == "paused" and desired_of(watch, "pa-1") == []  # paused: no advance
    assert op.post(f"/api/rollouts/{rid}/resume").status_code == 200
    d = wait_rollout(op, rid, lambda d: d["status"] == "waiting_approval")
    assert d["stages"][1]["status"] == "waiting_approval" and desired_of(watch, "pa-1") == []
    assert op.post(f"/api/rollouts/{rid}/approve", params={"stage": 3}).status_code == 409  # stage 3 needs none
    approved = op.post(f"/api/rollouts/{rid}/approve")
    assert approved.status_code == 200 and approved.json()["stages"][1]["approved_by"] == "operator"
    watch.wait_for(kiosk_topic("pa-1", Channel.UPDATE_DESIRED))
    watch.wait_for(kiosk_topic("pa-2", Channel.UPDATE_DESIRED))
    report(kiosks[1], "installing", rid)  # pa-1 started; pa-2 has not reported anything
    wait_rollout(op, rid, lambda d: states(d)["pa-1"] == "installing")
    page = op.get(f"/console/rollouts/{rid}").text
    assert 'id="rollout-abort"' in page and 'id="rollout-pause"' in page and 'class="rk installing"' in page
    assert 'data-stage="3"' in page and fleet.client("viewer").get(f"/console/rollouts/{rid}").text.count('method="post"') == 1  # only "log out"

    cancelled = op.post(f"/api/rollouts/{rid}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["status_reason"] == "cancelled by operator"
    assert states(cancelled) == {"pa-0": "committed", "pa-1": "installing", "pa-2": "withdrawn",
                                 "pa-3": "skipped", "pa-4": "skipped"}
    watch.wait_for(kiosk_topic("pa-2", Channel.UPDATE_DESIRED), lambda m: m.payload == b"")  # cleared
    assert retained(mqtt_probe, "pa-2") is None and retained(mqtt_probe, "pa-0").rollout_id == rid
    assert desired_of(watch, "pa-3") == [] and desired_of(watch, "pa-4") == []
    for action in ("pause", "resume", "cancel", "approve"):
        assert op.post(f"/api/rollouts/{rid}/{action}").status_code == 409
    assert op.post("/api/rollouts/nope/pause").status_code == 404
    report(kiosks[1], "committed", rid)  # the one that was installing finishes by itself
    wait_rollout(op, rid, lambda d: states(d)["pa-1"] == "committed")

    audit = [(e["action"], e["outcome"]) for e in op.get("/api/audit", params={"operator": "operator"}).json()]
    for action in ("rollout_create", "rollout_pause", "rollout_resume", "rollout_approve", "rollout_cancel"):
        assert (action, "ok") in audit, action
    assert ("rollout_resume", "failed") in audit and ("rollout_approve", "failed") in audit
    assert op.delete(f"/api/artifacts/{art['artifact_id']}").status_code == 204  # no active rollout uses it now


def test_an_artifact_in_an_active_rollout_cannot_be_deleted_and_restart_republishes(fleet, lab, mqtt_probe):
    op = fleet.client("operator")
    kiosk = fleet.kiosk("rp-1")
    wait_until(lambda: op.get("/api/kiosks").json())
    art = upload(op, lab.serve_dir / lab.bundle_name("2.1.0")).json()
    rid = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"kiosks": ["rp-1"]},
                                         "allow_downgrade": True}).json()["rollout_id"]
    assert op.delete(f"/api/artifacts/{art['artifact_id']}").status_code == 409
    watch = mqtt_probe()
    watch.subscribe(DESIRED)
    first = decode(UpdateDesired, watch.wait_for(kiosk_topic("rp-1", Channel.UPDATE_DESIRED))[0].payload)
    assert first.allow_downgrade is True and first.rollout_id == rid

    fleet.server.rollouts.republish()  # what start() does after a restart
    again = watch.wait_for(kiosk_topic("rp-1", Channel.UPDATE_DESIRED), count=2)
    assert decode(UpdateDesired, again[-1].payload).model_dump(exclude={"ts"}) == first.model_dump(exclude={"ts"})
    report(kiosk, "committed", rid, version="2.1.0")
    wait_rollout(op, rid, lambda d: d["status"] == "completed")
    watch.clear()
    fleet.server.rollouts.republish()  # a finished kiosk gets nothing again
    assert not watch.received(kiosk_topic("rp-1", Channel.UPDATE_DESIRED))


def test_kiosk_fleet_carries_the_offline_key_and_bundle_commands(tmp_path, capsys):
    """`kiosk-fleet keys generate` and `bundle build|sign|verify` (fleet.updates.cli, mounted)."""
    from fleet.server import cli
    from fleet.updates.testing import fake_app_wheels

    fake_app_wheels(tmp_path / "wheels", "5.0.0")
    bundle = tmp_path / "app.bundle"
    assert cli.main(["keys", "generate", "--out", str(tmp_path / "keys")]) == 0
    key = json.loads(capsys.readouterr().out)
    assert cli.main(["bundle", "build", "--wheels", str(tmp_path / "wheels"), "--package", "fakekiosk",
                     "-o", str(bundle)]) == 0
    assert cli.main(["bundle", "verify", str(bundle), "--trusted", key["public_key"]]) == 2  # not signed yet
    assert '"reason": "unsigned"' in capsys.readouterr().out
    assert cli.main(["bundle", "sign", str(bundle), "--key", key["private_key"]]) == 0
    capsys.readouterr()
    assert cli.main(["bundle", "verify", str(bundle), "--trusted", key["public_key"]]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "version": "5.0.0", "key_id": key_id_of(key)}


def key_id_of(key: dict) -> str:
    from fleet.bundle.keys import key_id, parse_public_key

    return key_id(parse_public_key(key["public_key"]))


# ------------------------------------------------------------------ targets that follow the fleet


def label(op, kiosk_id: str, group: str) -> None:
    assert op.put(f"/api/kiosks/{kiosk_id}/labels", json={"group": group, "tags": []}).status_code == 200


def test_a_rollout_follows_a_group_that_changes(fleet, lab, mqtt_probe):
    op = fleet.client("operator")
    watch = mqtt_probe()
    watch.subscribe(DESIRED)
    kiosks = {k: fleet.kiosk(k) for k in ("n-1", "n-2", "n-3", "n-4", "s-1", "s-2")}
    wait_until(lambda: len(op.get("/api/kiosks").json()) == 6)
    for kiosk_id in ("n-1", "n-2", "n-3"):
        label(op, kiosk_id, "north")
    for kiosk_id in ("s-1", "s-2", "n-4"):
        label(op, kiosk_id, "south")
    art = upload(op, lab.serve_dir / lab.bundle_name("2.0.0")).json()
    r = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"groups": ["north"]},
                                       "stages": [1, "100%"]}).json()
    rid = r["rollout_id"]
    assert [(k["kiosk_id"], k["stage"]) for k in r["kiosks"]] == [("n-1", 0), ("n-2", 1), ("n-3", 1)]
    watch.wait_for(kiosk_topic("n-1", Channel.UPDATE_DESIRED))

    # while the canary runs: s-1 joins north (→ the last wave, waiting), n-3 leaves (never asked)
    label(op, "s-1", "north")
    label(op, "n-3", "south")
    d = wait_rollout(op, rid, lambda d: states(d).get("s-1") == "waiting" and states(d)["n-3"] == "removed")
    assert {k["kiosk_id"]: k["stage"] for k in d["kiosks"]}["s-1"] == 1
    assert [s["size"] for s in d["stages"]] == [1, 2] and d["total"] == 3
    assert desired_of(watch, "s-1") == []

    report(kiosks["n-1"], "committed", rid)  # the canary passes: the last wave starts
    watch.wait_for(kiosk_topic("n-2", Channel.UPDATE_DESIRED))
    watch.wait_for(kiosk_topic("s-1", Channel.UPDATE_DESIRED))

    # while the last wave runs: n-4 joins (targeted at once), n-2 leaves after it was asked
    # but before it started (withdrawn), s-1 starts installing and then leaves (kept)
    report(kiosks["s-1"], "installing", rid)
    wait_rollout(op, rid, lambda d: states(d)["s-1"] == "installing")
    label(op, "n-4", "north")
    label(op, "n-2", "south")
    label(op, "s-1", "south")
    watch.wait_for(kiosk_topic("n-4", Channel.UPDATE_DESIRED))
    watch.wait_for(kiosk_topic("n-2", Channel.UPDATE_DESIRED), lambda m: m.payload == b"")  # withdrawn
    d = wait_rollout(op, rid, lambda d: states(d)["n-2"] == "removed")
    assert states(d)["s-1"] == "installing" and states(d)["n-4"] == "pending"

    # operators add s-2 by name and take n-4 out again
    changed = op.post(f"/api/rollouts/{rid}/kiosks", json={"add": ["s-2"], "remove": ["n-4"]})
    assert changed.status_code == 200, changed.text
    watch.wait_for(kiosk_topic("s-2", Channel.UPDATE_DESIRED))
    watch.wait_for(kiosk_topic("n-4", Channel.UPDATE_DESIRED), lambda m: m.payload == b"")
    assert op.post(f"/api/rollouts/{rid}/kiosks", json={"add": ["nope-9"]}).status_code == 409
    label(op, "n-4", "north")  # excluded by the operator: joining the group again does not bring it back

    for kiosk_id in ("s-1", "s-2"):
        report(kiosks[kiosk_id], "committed", rid)
    done = wait_rollout(op, rid, lambda d: d["status"] == "completed")
    assert states(done) == {"n-1": "committed", "n-2": "removed", "n-3": "removed", "s-1": "committed",
                            "n-4": "removed", "s-2": "committed"}
    assert desired_of(watch, "n-3") == []  # left before it was asked: never touched
    assert [s["size"] for s in done["stages"]] == [1, 2] and done["total"] == 3
    audit = [e["action"] for e in op.get("/api/audit").json()]
    assert "rollout_members" in audit and "rollout_kiosks" in audit


def test_a_joiner_busy_in_another_rollout_waits_for_it(fleet, lab, mqtt_probe):
    op = fleet.client("operator")
    kiosks = {k: fleet.kiosk(k) for k in ("b-1", "b-2")}
    wait_until(lambda: len(op.get("/api/kiosks").json()) == 2)
    label(op, "b-1", "east")
    art = upload(op, lab.serve_dir / lab.bundle_name("2.0.0")).json()
    other = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"kiosks": ["b-2"]}}).json()
    mine = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"groups": ["east"]},
                                          "stages": ["100%"]}).json()
    label(op, "b-2", "east")
    fleet.server.rollouts.tick()
    assert "b-2" not in states(op.get(f"/api/rollouts/{mine['rollout_id']}").json())  # still in the other one
    report(kiosks["b-2"], "committed", other["rollout_id"])
    wait_rollout(op, other["rollout_id"], lambda d: d["status"] == "completed")
    d = wait_rollout(op, mine["rollout_id"], lambda d: states(d).get("b-2") == "pending")
    assert d["status"] == "running"
    with fleet.server.db.session() as session:
        target = rollout_members.RolloutTarget.model_validate(session.get(Rollout, mine["rollout_id"]).target)
        assert rollout_members.resolve_targets(session, target) == ["b-1", "b-2"]
