"""An invoice terminal's paper hold opens a critical fleet alert; its resolution clears it."""

from __future__ import annotations

import pytest

from fleet.protocol import DeviceKind, EventKind
from fleet.server.testing import FleetHarness, wait_until


@pytest.fixture
def fleet(fleet_pki, mosquitto, db_url):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, db_url, heartbeat_s=0.3, missed_heartbeats=3).start()
    yield harness
    harness.stop()


def paper_alerts(api, kiosk_id: str, open_only: bool = True) -> list[dict]:
    alerts = api.get("/api/alerts", params={"kiosk_id": kiosk_id, "open_only": open_only}).json()
    return [a for a in alerts if a["kind"] == "paper_hold"]


def test_paper_hold_alert_opens_and_clears(fleet):
    api = fleet.client("viewer")
    kiosk = fleet.kiosk("terminal-01")
    kiosk.send_health()
    kiosk.send_event(kind=EventKind.PAPER_HOLD, device=DeviceKind.PRINTER, reason="mismatch", count=7)
    wait_until(lambda: len(paper_alerts(api, "terminal-01")) == 1)
    alert = paper_alerts(api, "terminal-01")[0]
    assert alert["severity"] == "critical" and "mismatch" in alert["message"] and "hold 7" in alert["message"]
    kiosk.send_health()  # health does not clear an event's alert
    kiosk.send_event(kind=EventKind.STAFF_ACTION, action="paper.recheck")
    kiosk.send_event(kind=EventKind.PAPER_HOLD_RESOLVED, device=DeviceKind.PRINTER, reason="recheck", count=7)
    wait_until(lambda: paper_alerts(api, "terminal-01") == [])
    assert len(paper_alerts(api, "terminal-01", open_only=False)) == 1
