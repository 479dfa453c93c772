"""The kiosk list's API and bulk actions against a real server, broker and simulated
kiosks: search is not shadowed by the kiosk-id route, roles are enforced and refusals
audited, a bulk command reaches every selected kiosk (an unknown one fails alone), a bulk
configuration change keeps each kiosk's other settings, labels are added and removed,
saved views belong to their operator, and the console's two-step bulk form acts only on
Confirm."""

from __future__ import annotations

import re

import pytest

from fleet.server.models import KioskSite
from fleet.server.testing import FleetHarness, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}",
                           heartbeat_s=30.0).start()
    yield harness
    harness.stop()


def _two_kiosks(fleet):
    kiosks = [fleet.kiosk(k, heartbeat_s=30.0) for k in ("k-bulk-1", "k-bulk-2")]
    for k in kiosks:
        k.send_health()
    wait_until(lambda: len(fleet.client("viewer").get("/api/kiosks").json()) == 2)
    return kiosks


def test_search_roles_bulk_command_and_audit(fleet):
    k1, k2 = _two_kiosks(fleet)
    viewer, operator = fleet.client("viewer"), fleet.client("operator")
    with fleet.server.db.session() as session:
        session.add(KioskSite(kiosk_id="k-bulk-1", name="解放碑1号机", hall="重庆渝中区解放碑邮政支局", district="渝中区",
                              region="主城都市区·中心城区"))
    found = viewer.get("/api/kiosks/search", params={"q": "解放碑"}).json()
    assert found["total"] == 1 and found["rows"][0]["kiosk_id"] == "k-bulk-1" and found["rows"][0]["hall"].endswith("邮政支局")
    assert viewer.get("/api/kiosks/search", params={"sort": "nonsense"}).status_code == 422

    body = {"action": "command", "kiosks": ["k-bulk-1", "k-bulk-2", "k-nobody"], "command": "self_test",
            "args": {"device": "printer"}}
    assert viewer.post("/api/kiosks/bulk", json=body).status_code == 403
    result = operator.post("/api/kiosks/bulk", json=body).json()
    assert result["done"] == 2 and result["failed"] == [{"kiosk_id": "k-nobody", "error": "no such kiosk"}]
    wait_until(lambda: k1.commands and k2.commands, what="both kiosks got the command")
    assert k1.commands[0].name.value == "self_test" and k1.commands[0].args == {"device": "printer"}
    audit = fleet.client("admin").get("/api/audit").json()
    actions = [(a["action"], a["outcome"]) for a in audit]
    assert ("bulk", "partial") in actions and actions.count(("command", "ok")) == 2 and ("denied", "denied") in actions
    bulk = next(a for a in audit if a["action"] == "bulk")
    assert bulk["operator"] == "operator" and bulk["detail"]["kiosks"] == ["k-bulk-1", "k-bulk-2", "k-nobody"]
    assert operator.post("/api/kiosks/bulk", json={**body, "command": "apply_config"}).status_code == 422


def test_bulk_config_changes_only_the_given_fields_and_labels_come_and_go(fleet):
    k1, k2 = _two_kiosks(fleet)
    operator = fleet.client("operator")
    operator.put("/api/kiosks/k-bulk-1/config", json={"volume": 25, "language": "en"}).raise_for_status()
    bad = operator.post("/api/kiosks/bulk", json={"action": "config", "kiosks": ["k-bulk-1"], "settings": {"volume": 300}})
    assert bad.status_code == 422 and "volume" in bad.text
    unknown = operator.post("/api/kiosks/bulk", json={"action": "config", "kiosks": ["k-bulk-1"], "settings": {"colour": 1}})
    assert unknown.status_code == 422 and "unknown setting" in unknown.text
    result = operator.post("/api/kiosks/bulk", json={"action": "config", "kiosks": ["k-bulk-1", "k-bulk-2"],
                                                     "settings": {"brightness": 55}}).json()
    assert result["done"] == 2
    one = operator.get("/api/kiosks/k-bulk-1/config").json()["desired"]
    two = operator.get("/api/kiosks/k-bulk-2/config").json()["desired"]
    assert (one["volume"], one["language"], one["brightness"]) == (25, "en", 55)
    assert (two["volume"], two["brightness"]) == (60, 55)
    wait_until(lambda: k2.configs and k2.configs[-1].settings["brightness"] == 55, what="k-bulk-2 got the configuration")

    for action in ("add_label", "add_label"):  # adding twice changes nothing the second time
        operator.post("/api/kiosks/bulk", json={"action": action, "kiosks": ["k-bulk-1", "k-bulk-2"], "label": "pilot"})
    tagged = operator.get("/api/kiosks/search", params={"label": "pilot"}).json()
    assert tagged["total"] == 2
    operator.post("/api/kiosks/bulk", json={"action": "remove_label", "kiosks": ["k-bulk-2"], "label": "pilot"})
    assert [r["kiosk_id"] for r in operator.get("/api/kiosks/search", params={"label": "pilot"}).json()["rows"]] == ["k-bulk-1"]
    labels = [a for a in fleet.client("admin").get("/api/audit").json() if a["action"] == "labels"]
    assert len(labels) == 3  # two adds, one removal; the repeated add wrote nothing


def test_saved_views_belong_to_their_operator(fleet):
    viewer, operator = fleet.client("viewer"), fleet.client("operator")
    made = viewer.post("/api/views", json={"name": "offline in Yubei", "query": "status=offline&district=渝北区"})
    assert made.status_code == 201
    viewer.post("/api/views", json={"name": "offline in Yubei", "query": "status=silent"})  # same name: replaced
    assert [(v["name"], v["query"]) for v in viewer.get("/api/views").json()] == [("offline in Yubei", "status=silent")]
    assert operator.get("/api/views").json() == []
    assert operator.delete(f"/api/views/{made.json()['id']}").status_code == 404  # not theirs
    assert viewer.post("/api/views", json={"name": "bad", "query": "status=asleep"}).status_code == 422
    assert viewer.delete(f"/api/views/{made.json()['id']}").status_code == 204
    assert viewer.get("/api/views").json() == []


def test_console_bulk_form_reviews_first_and_acts_only_on_confirm(fleet):
    k1, k2 = _two_kiosks(fleet)
    operator = fleet.client("operator")
    page = operator.get("/console/", params={"q": "k-bulk"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert page.headers["server-timing"].startswith("db;dur=")
    review = operator.post("/console/kiosks/bulk", data={"csrf": csrf, "action": "add_label", "label": "canary",
                                                         "all_matching": "1", "query": "q=k-bulk"})
    assert review.status_code == 200 and "Review: add a label on 2 kiosks" in review.text
    assert operator.get("/api/kiosks/search", params={"label": "canary"}).json()["total"] == 0  # nothing done yet
    payload = re.search(r'name="payload" value="([^"]+)"', review.text).group(1).replace("&#34;", '"')
    done = operator.post("/console/kiosks/bulk/confirm", data={"csrf": csrf, "payload": payload, "query": "q=k-bulk"})
    assert "2 done, 0 failed" in done.text
    assert operator.get("/api/kiosks/search", params={"label": "canary"}).json()["total"] == 2
    empty = operator.post("/console/kiosks/bulk", data={"csrf": csrf, "action": "command", "command": "reboot"},
                          follow_redirects=False)
    assert empty.status_code == 303 and "select+at+least+one" in empty.headers["location"].replace("%20", "+")
    stale = operator.post("/console/kiosks/bulk/confirm", data={"csrf": "stale", "payload": payload})
    assert stale.status_code == 403
    one = operator.post("/console/kiosks/bulk", data={"csrf": csrf, "action": "config", "setting": "volume",
                                                      "value": "40", "kiosk": ["k-bulk-1"]})
    assert "<b>volume</b> → <code>40</code>" in one.text  # typed as the schema says: an integer
    typo = operator.post("/console/kiosks/bulk", data={"csrf": csrf, "action": "config", "setting": "volume",
                                                       "value": "loud", "kiosk": ["k-bulk-1"]}, follow_redirects=False)
    assert "enter+a+whole+number" in typo.headers["location"].replace("%20", "+")
    site = operator.post("/console/kiosks/k-bulk-2/site", data={"csrf": csrf, "name": "观音桥1号机", "hall": "重庆江北区观音桥邮政支局",
                                                              "district": "江北区", "region": "主城都市区·中心城区"},
                         follow_redirects=True)
    assert site.status_code == 200 and "重庆江北区观音桥邮政支局" in site.text
    assert [r["kiosk_id"] for r in operator.get("/api/kiosks/search", params={"q": "观音桥"}).json()["rows"]] == ["k-bulk-2"]
    viewer = fleet.client("viewer")
    assert viewer.post("/console/kiosks/bulk", data={"csrf": csrf, "action": "add_label"}).status_code == 403
    assert viewer.post("/console/kiosks/k-bulk-2/site", data={"csrf": csrf, "name": "x"}).status_code == 403
