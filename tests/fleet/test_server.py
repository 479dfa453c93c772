"""The fleet server against a real Mosquitto (shipped TLS + ACL config) with simulated
kiosks driven by paho, on SQLite and on a real PostgreSQL server (same tests, the
`db_url` fixture is parametrized; PostgreSQL is skipped with the reason when none is
installed).

What is shown: kiosks appear with health; offline alert after N missed heartbeats and
on a last will; a late will is ignored; device-fault and paper alerts open and clear;
commands round-trip with MQTT 5 response topic, correlation data and expiry, results
stored; unanswered commands time out; desired config → reported; roles enforced;
audit entries; messages queued while the server was down arrive after it restarts.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from sqlalchemy import inspect

from fleet.protocol import Channel, CommandResult, EventKind, kiosk_topic
from fleet.server.webapp import create_app
from fleet.server.db import Database
from fleet.server.service import FleetServer
from fleet.server.testing import FleetHarness, HttpServer, publish_raw, wait_until

pytestmark = pytest.mark.timeout(60)

# ------------------------------------------------------------------ fixtures


@pytest.fixture
def fleet(fleet_pki, mosquitto, db_url):
    """The server on `db_url`, connected to a fresh Mosquitto (tests/fleet/conftest.py:
    shipped TLS + ACL config, per-test PKI), so nothing retained leaks between tests."""
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, db_url, heartbeat_s=0.3, missed_heartbeats=3).start()
    yield harness
    harness.stop()


def kiosk_view(client, kiosk_id: str) -> dict:
    response = client.get(f"/api/kiosks/{kiosk_id}")
    return response.json() if response.status_code == 200 else {}


def open_alerts(client, kiosk_id: str) -> set[tuple[str, str]]:
    return {(a["kind"], a["device"]) for a in client.get("/api/alerts", params={"kiosk_id": kiosk_id}).json()}


# ------------------------------------------------------------------ tests


def test_schema_comes_from_the_migrations_and_downgrades_cleanly(db_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from fleet.server import models_history  # noqa: F401  (its tables are in Base.metadata)
    from fleet.server.db import MIGRATIONS
    from fleet.server.models import Base

    db = Database(db_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"kiosks", "health_samples", "events", "commands", "alerts", "operators", "login_sessions",
            "audit_log", "alembic_version"} <= tables
    with db.engine.connect() as connection:  # the migrations build exactly what models.py describes
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    db.close()
    Database(db_url).close()  # and up again


def test_kiosks_appear_with_health_and_history(fleet):
    api = fleet.client("viewer")
    a = fleet.kiosk("k-appear-a", heartbeat_s=0.3)
    b = fleet.kiosk("k-appear-b", heartbeat_s=0.3)
    b.set_device("printer", "ready", paper="near_end")
    for _ in range(3):
        a.send_health()
        b.send_health()
    wait_until(lambda: fleet.stored() >= 8)
    # the counter may include a message other than these; wait for the three samples themselves
    wait_until(lambda: len(api.get("/api/kiosks/k-appear-a/health").json()) >= 3, what="a's three samples")

    kiosks = {k["kiosk_id"]: k for k in api.get("/api/kiosks").json()}
    assert set(kiosks) == {"k-appear-a", "k-appear-b"}
    one = kiosks["k-appear-a"]
    assert one["status"] == "online"
    assert one["app_version"] == "1.4.2"
    assert {d["kind"]: d["state"] for d in one["devices"]} == {
        "idcard": "ready", "bp": "ready", "eye": "ready", "camera": "ready", "printer": "ready"}
    assert one["cpu_percent"] == pytest.approx(20.0)  # load 0.4 on 2 CPUs
    assert one["memory_percent"] == pytest.approx(25.0)
    assert one["temperature_c"] == 48.0
    assert kiosks["k-appear-b"]["open_alerts"] == 1 and kiosks["k-appear-b"]["worst_alert"] == "warning"

    history = api.get("/api/kiosks/k-appear-a/health").json()
    assert len(history) == 3
    assert all(p["devices_ok"] == 5 and p["devices_total"] == 5 for p in history)
    detail = kiosk_view(api, "k-appear-a")
    assert detail["session"] == 1 and detail["heartbeat_s"] == 0.3
    assert detail["health"]["system"]["cpu_count"] == 2


def test_events_are_stored_once_per_id(fleet):
    api = fleet.client("viewer")
    kiosk = fleet.kiosk("k-events")
    event = kiosk.send_event(kind=EventKind.DEVICE_STATE_CHANGED, device="printer", state="fault", reason="cover_open")
    kiosk.publish(event)  # QoS 1 redelivery / outbox replay: same id
    kiosk.send_event(kind=EventKind.STAFF_ACTION, action="print_test_page")
    wait_until(lambda: fleet.stored() >= 4)
    events = api.get("/api/kiosks/k-events/events").json()
    assert sorted(e["kind"] for e in events) == ["device_state_changed", "staff_action"]
    fault = next(e for e in events if e["kind"] == "device_state_changed")
    assert fault["severity"] == "warning" and fault["payload"]["reason"] == "cover_open"
    # what staff did at the kiosk is in the operators' audit log too, once
    staff = fleet.client("admin").get("/api/audit", params={"operator": "staff@k-events"}).json()
    assert [(e["action"], e["target"], e["source"]) for e in staff] == [("kiosk.print_test_page", "k-events", "kiosk")]


def test_offline_alert_after_missed_heartbeats_clears_on_return(fleet):
    api = fleet.client("viewer")
    kiosk = fleet.kiosk("k-silent", heartbeat_s=0.1)
    kiosk.start_heartbeat()
    wait_until(lambda: kiosk_view(api, "k-silent").get("status") == "online")
    time.sleep(0.4)
    assert ("offline", "") not in open_alerts(api, "k-silent")  # beating: no alert

    kiosk.stop_heartbeat()  # connection stays up, the broker sees nothing wrong
    wait_until(lambda: ("offline", "") in open_alerts(api, "k-silent"), timeout=5)
    view = kiosk_view(api, "k-silent")
    assert view["status"] == "silent"
    alert = view["alerts"][0]
    assert "no heartbeat for 3 intervals of 0.1 s" in alert["message"]
    silence = dt.datetime.fromisoformat(alert["opened_at"]) - dt.datetime.fromisoformat(view["last_seen"])
    assert 0.3 <= silence.total_seconds() < 2.0  # not before 3 intervals of 0.1 s, and soon after

    kiosk.start_heartbeat()
    wait_until(lambda: ("offline", "") not in open_alerts(api, "k-silent"))
    assert kiosk_view(api, "k-silent")["status"] == "online"


def test_last_will_marks_offline_and_a_late_will_is_ignored(fleet):
    api = fleet.client("viewer")
    kiosk = fleet.kiosk("k-will", session=7)
    kiosk.send_health()
    wait_until(lambda: kiosk_view(api, "k-will").get("status") == "online")

    kiosk.kill()  # connection lost without DISCONNECT: the broker publishes the will
    wait_until(lambda: kiosk_view(api, "k-will").get("status") == "offline", timeout=10)
    alert = next(a for a in kiosk_view(api, "k-will")["alerts"] if a["kind"] == "offline")
    assert "last will" in alert["message"] and alert["cleared_at"] is None

    # Back with the next session; the old session's will turns up late (as after a
    # broker's session takeover or a delayed will): it must not mark the kiosk offline.
    back = fleet.kiosk("k-will", session=8)
    back.send_health()
    wait_until(lambda: kiosk_view(api, "k-will").get("status") == "online")
    assert ("offline", "") not in open_alerts(api, "k-will")
    before = fleet.stored()
    late_will = kiosk.presence(False, reason="will").model_copy(update={"session": 7})
    back.publish(late_will)
    back.send_health()
    wait_until(lambda: fleet.stored() >= before + 2)
    view = kiosk_view(api, "k-will")
    assert view["status"] == "online" and view["session"] == 8
    assert ("offline", "") not in open_alerts(api, "k-will")

    # A clean goodbye of the current session does count.
    back.close(goodbye=True)
    wait_until(lambda: kiosk_view(api, "k-will").get("status") == "offline")


def test_device_fault_and_paper_alerts_open_and_clear(fleet):
    api = fleet.client("viewer")
    kiosk = fleet.kiosk("k-devices")
    kiosk.set_device("bp", "fault", reason="cuff_leak")
    kiosk.set_device("printer", "ready", paper="near_end")
    kiosk.send_health()
    wait_until(lambda: open_alerts(api, "k-devices") == {("device_fault", "bp"), ("paper_low", "printer")})
    severities = {a["kind"]: a["severity"] for a in api.get("/api/alerts", params={"kiosk_id": "k-devices"}).json()}
    assert severities == {"device_fault": "critical", "paper_low": "warning"}

    kiosk.set_device("printer", "fault", reason="paper_out", paper="out")
    kiosk.send_health()
    wait_until(lambda: open_alerts(api, "k-devices") == {
        ("device_fault", "bp"), ("device_fault", "printer"), ("paper_out", "printer")})

    kiosk.set_device("bp", "ready")
    kiosk.set_device("printer", "ready", paper="ok")
    kiosk.send_health()
    wait_until(lambda: open_alerts(api, "k-devices") == set())
    history = api.get("/api/alerts", params={"kiosk_id": "k-devices", "open_only": False}).json()
    assert {a["kind"] for a in history} == {"device_fault", "paper_low", "paper_out"}
    assert all(a["cleared_at"] for a in history)


def test_command_round_trip_with_mqtt5_properties(fleet):
    api = fleet.client("operator")
    kiosk = fleet.kiosk("k-command")
    kiosk.send_health()
    wait_until(lambda: kiosk_view(api, "k-command"))

    sent = api.post("/api/kiosks/k-command/commands",
                    json={"name": "self_test", "args": {"device": "printer"}, "ttl_s": 60})
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["command_id"]
    assert sent.json()["status"] == "sent"

    done = wait_until(lambda: (c := api.get(f"/api/commands/{command_id}").json())["status"] == "succeeded" and c)
    assert done["result"]["detail"] == "self-test of printer passed"
    assert done["result"]["payload"] == {"passed": True, "device": "printer"}
    assert done["operator"] == "operator"

    # What the kiosk received: the protocol's command, MQTT 5 properties set.
    received = kiosk.commands[0]
    props = kiosk.command_properties[0]
    assert str(received.id) == command_id and received.name.value == "self_test"
    assert props.ResponseTopic == kiosk_topic("k-command", Channel.CMD_RES)
    assert props.CorrelationData == uuid.UUID(command_id).bytes
    assert 55 <= props.MessageExpiryInterval <= 60

    listed = api.get("/api/kiosks/k-command/commands").json()
    assert [c["command_id"] for c in listed] == [command_id]


def test_bad_command_arguments_are_refused_before_sending(fleet):
    api = fleet.client("operator")
    kiosk = fleet.kiosk("k-badargs")
    kiosk.send_health()
    wait_until(lambda: kiosk_view(api, "k-badargs"))
    response = api.post("/api/kiosks/k-badargs/commands", json={"name": "fetch_logs", "args": {"lines": 0}})
    assert response.status_code == 422
    assert api.post("/api/kiosks/k-nobody/commands", json={"name": "reboot"}).status_code == 404
    assert api.post("/api/kiosks/k-badargs/commands", json={"name": "format_disk"}).status_code == 422
    time.sleep(0.2)
    assert kiosk.commands == []


def test_unanswered_command_times_out_and_a_late_result_still_counts(fleet):
    api = fleet.client("operator")
    kiosk = fleet.kiosk("k-mute", answer_commands=False)
    kiosk.send_health()
    wait_until(lambda: kiosk_view(api, "k-mute"))
    command_id = api.post("/api/kiosks/k-mute/commands", json={"name": "reboot", "ttl_s": 1}).json()["command_id"]
    wait_until(lambda: kiosk.commands)
    wait_until(lambda: api.get(f"/api/commands/{command_id}").json()["status"] == "timed_out", timeout=5)

    kiosk.publish(CommandResult(kiosk_id="k-mute", id=uuid.UUID(command_id), name="reboot", status="succeeded",
                                detail="rebooted"))
    wait_until(lambda: api.get(f"/api/commands/{command_id}").json()["status"] == "succeeded")


def test_result_from_another_kiosk_does_not_touch_the_command(fleet):
    api = fleet.client("operator")
    target = fleet.kiosk("k-target", answer_commands=False)
    other = fleet.kiosk("k-other")
    target.send_health()
    other.send_health()
    wait_until(lambda: kiosk_view(api, "k-target") and kiosk_view(api, "k-other"))
    command_id = api.post("/api/kiosks/k-target/commands", json={"name": "restart_app"}).json()["command_id"]
    wait_until(lambda: target.commands)
    before = fleet.stored()
    other.publish(CommandResult(kiosk_id="k-other", id=uuid.UUID(command_id), status="succeeded", detail="forged"))
    wait_until(lambda: fleet.stored() > before)
    assert api.get(f"/api/commands/{command_id}").json()["status"] == "sent"


def test_config_desired_is_reported_back(fleet):
    api = fleet.client("operator")
    kiosk = fleet.kiosk("k-config")
    kiosk.send_health()
    wait_until(lambda: kiosk_view(api, "k-config"))

    response = api.put("/api/kiosks/k-config/config", json={"volume": 35, "language": "en"})
    assert response.status_code == 200, response.text
    assert response.json() == {"version": 1}
    config = wait_until(lambda: (c := api.get("/api/kiosks/k-config/config").json())["state"] == "applied" and c)
    assert config["desired_version"] == 1 and config["reported_version"] == 1
    assert config["desired"]["volume"] == 35 and config["desired"]["heartbeat_interval_s"] == 30.0
    assert config["reported"]["status"] == "applied" and config["reported"]["applied_version"] == 1
    assert kiosk.configs[-1].version == 1 and kiosk.configs[-1].settings["language"] == "en"

    assert api.put("/api/kiosks/k-config/config", json={"volume": 300}).status_code == 422
    assert api.put("/api/kiosks/k-config/config", json={"wallpaper": "cats.png"}).status_code == 422

    assert api.put("/api/kiosks/k-config/config", json={"volume": 40}).json() == {"version": 2}
    wait_until(lambda: api.get("/api/kiosks/k-config/config").json()["reported_version"] == 2)
    assert kiosk_view(api, "k-config")["config_state"] == "applied"


def test_roles_are_enforced_and_refusals_audited(fleet):
    kiosk = fleet.kiosk("k-roles")
    kiosk.send_health()
    viewer = fleet.client("viewer")
    wait_until(lambda: kiosk_view(viewer, "k-roles"))

    anonymous = fleet.client()
    assert anonymous.get("/api/kiosks").status_code == 401
    assert anonymous.post("/api/login", json={"username": "viewer", "password": "wrong"}).status_code == 401
    assert anonymous.post("/api/login", json={"username": "nobody", "password": "wrong"}).status_code == 401

    assert viewer.get("/api/kiosks").status_code == 200
    assert viewer.post("/api/kiosks/k-roles/commands", json={"name": "reboot"}).status_code == 403
    assert viewer.put("/api/kiosks/k-roles/config", json={"volume": 1}).status_code == 403
    assert viewer.get("/api/audit").status_code == 403
    time.sleep(0.2)
    assert kiosk.commands == [] and kiosk.configs == []

    operator = fleet.client("operator")
    assert operator.post("/api/operators", json={"username": "eve", "password": "x" * 12, "role": "admin"}).status_code == 403
    admin = fleet.client("admin")
    created = admin.post("/api/operators", json={"username": "li.wei", "password": "long-enough-1", "role": "viewer"})
    assert created.status_code == 201
    assert fleet.client().post("/api/login", json={"username": "li.wei", "password": "long-enough-1"}).json()["role"] == "viewer"

    log = admin.get("/api/audit").json()
    denied = [e for e in log if e["outcome"] == "denied"]
    assert {(e["operator"], e["action"]) for e in denied} >= {
        ("viewer", "denied"), ("operator", "denied"), ("nobody", "login_failed"), ("viewer", "login_failed")}
    assert {e["target"] for e in denied if e["operator"] == "viewer" and e["action"] == "denied"} == {
        "/api/kiosks/k-roles/commands", "/api/kiosks/k-roles/config", "/api/audit"}


def test_audit_log_records_every_action(fleet):
    api = fleet.client("operator", real_login=True)
    kiosk = fleet.kiosk("k-audit")
    kiosk.set_device("printer", "ready", paper="near_end")
    kiosk.send_health()
    wait_until(lambda: open_alerts(api, "k-audit"))
    command_id = api.post("/api/kiosks/k-audit/commands", json={"name": "fetch_logs", "args": {"lines": 5}}).json()["command_id"]
    api.put("/api/kiosks/k-audit/config", json={"brightness": 50})
    alert_id = api.get("/api/alerts", params={"kiosk_id": "k-audit"}).json()[0]["id"]
    assert api.post(f"/api/alerts/{alert_id}/ack").status_code == 204
    api.post("/api/logout")

    log = fleet.client("admin").get("/api/audit", params={"operator": "operator"}).json()
    actions = [e["action"] for e in reversed(log)]
    assert actions == ["login", "command", "config", "ack_alert", "logout"]
    by_action = {e["action"]: e for e in log}
    assert by_action["command"]["target"] == "k-audit"
    assert by_action["command"]["detail"]["command_id"] == command_id
    assert by_action["command"]["detail"]["args"] == {"lines": 5}
    assert by_action["config"]["detail"]["version"] == 1 and by_action["config"]["detail"]["settings"]["brightness"] == 50
    assert by_action["ack_alert"]["detail"]["kind"] == "paper_low"
    assert all(e["source"] == "127.0.0.1" for e in log)
    assert api.get("/api/kiosks").status_code == 401  # the logged-out token is gone
    assert fleet.client("viewer").get("/api/alerts", params={"kiosk_id": "k-audit"}).json()[0]["acknowledged_by"] == "operator"


def test_malformed_and_misaddressed_messages_are_dropped(fleet):
    api = fleet.client("viewer")
    kiosk = fleet.kiosk("k-garbage")
    before = fleet.stored()
    health_topic = kiosk_topic("k-garbage", Channel.HEALTH)
    publish_raw(kiosk.client, health_topic, b"{not json")
    publish_raw(kiosk.client, health_topic, json.dumps({"v": 99, "kiosk_id": "k-garbage"}).encode())
    spoof = kiosk.health().model_copy(update={"kiosk_id": "k-victim"})
    publish_raw(kiosk.client, health_topic, spoof.model_dump_json().encode())
    wait_until(lambda: fleet.stored() >= before + 4)  # the three and the birth
    assert fleet.server.ingest.rejected == 3
    assert kiosk_view(api, "k-victim") == {}
    assert api.get("/api/kiosks/k-garbage/health").json() == []
    kiosk.send_health()  # the stream goes on
    wait_until(lambda: len(api.get("/api/kiosks/k-garbage/health").json()) == 1)


def test_messages_published_while_the_server_is_down_arrive_after_restart(fleet):
    api = fleet.client("viewer")
    kiosk = fleet.kiosk("k-queued")
    kiosk.send_health()
    wait_until(lambda: kiosk_view(api, "k-queued"))
    fleet.server.stop()  # persistent session: the broker queues QoS 1 messages for us
    for i in range(5):
        kiosk.send_event(kind=EventKind.TEST, count=i)  # QoS 1, nobody to receive them yet
    time.sleep(0.2)
    fleet.server.db.close()
    fleet.http.stop()
    fleet.server = FleetServer(fleet.settings)  # same client id: the broker kept our session
    fleet.server.start()
    fleet.http = HttpServer(create_app(fleet.server)).start()
    api = fleet.client("viewer")
    events = wait_until(lambda: len(e := api.get("/api/kiosks/k-queued/events").json()) == 5 and e)
    assert sorted(e["payload"]["count"] for e in events) == [0, 1, 2, 3, 4]


def test_openapi_document_describes_the_api(fleet):
    spec = fleet.client().get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/login", "/api/kiosks", "/api/kiosks/{kiosk_id}", "/api/kiosks/{kiosk_id}/commands",
                 "/api/kiosks/{kiosk_id}/config", "/api/alerts", "/api/audit", "/api/commands/{command_id}"):
        assert path in paths, path
    assert "KioskDetail" in spec["components"]["schemas"]
    health = fleet.client().get("/api/healthz").json()
    assert health["ok"] and health["mqtt_connected"]
