"""The statistics page in headless Chromium, end to end: simulated kiosks send
flow_completed / flow_aborted / device events over MQTT (real Mosquitto, real ingest),
and a viewer — by keyboard, on a narrow laptop screen — sees today's services per
district, the funnel, durations and faults, narrows the selection to one district, and
downloads the CSV. Screenshots are kept under artifacts/console/.
"""

from __future__ import annotations

import csv
import io

import pytest

from fleet.server.models import KioskSite
from fleet.server.testing import FleetHarness, wait_until

from .console_support import chromium, fits_width, logged_in, shot, tab_to

pytestmark = pytest.mark.timeout(120)

SITES = {"yz-01": ("Yuzhong", "Jiefangbei post office"), "yz-02": ("Yuzhong", "Lianglukou post office"),
         "jb-01": ("Jiangbei", "Guanyinqiao post office")}


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}",
                           heartbeat_s=30.0).start()
    with harness.server.db.session() as session:
        for kiosk_id, (district, hall) in SITES.items():
            session.add(KioskSite(kiosk_id=kiosk_id, name=kiosk_id, hall=hall, district=district, region="main city"))
    yield harness
    harness.stop()


def test_statistics_page_shows_todays_services_per_district(fleet):
    kiosks = {k: fleet.kiosk(k, heartbeat_s=30.0) for k in SITES}
    for duration in (40, 52, 61):
        kiosks["yz-01"].send_event(kind="flow_completed", flow="licence-renewal", count=1, step="done", step_no=9,
                                   duration_s=duration)
    kiosks["yz-02"].send_event(kind="flow_aborted", flow="licence-renewal", count=1, step="medical_check", step_no=4,
                               reason="idle_timeout", duration_s=95)
    kiosks["yz-02"].send_event(kind="device_state_changed", device="bp", state="fault", reason="cuff_leak")
    for duration in (30, 35):
        kiosks["jb-01"].send_event(kind="flow_completed", flow="tax-invoice", count=1, step="done", step_no=5,
                                   duration_s=duration)
    kiosks["jb-01"].send_event(kind="flow_aborted", flow="tax-invoice", count=1, step="pay", step_no=3,
                               reason="cancelled", duration_s=20)
    sent = 8
    viewer = fleet.client("viewer")
    wait_until(lambda: sum(len(viewer.get(f"/api/kiosks/{k}/events").json()) for k in SITES) >= sent, timeout=10,
               what="the events stored by the ingest")

    # The same figures as JSON for scripts (any role; a bad selection is a clear 422).
    api = viewer.get("/api/stats").json()
    assert api["total"]["sessions"] == 7 and api["district_services"]["Yuzhong"] == {"licence-renewal": 4}
    assert api["services"]["tax-invoice"]["completed"] == 2 and api["funnels"]["tax-invoice"][0]["step"] == "pay"
    bad = viewer.get("/api/stats", params={"start": "2026-03-02", "end": "2026-03-01"})
    assert bad.status_code == 422 and "before the first" in bad.json()["detail"]
    assert fleet.client().get("/api/stats").status_code == 401

    with chromium() as browser:
        context = logged_in(browser, fleet, "viewer")  # counts only: every role may read them
        page = context.new_page()
        try:
            page.goto(f"{fleet.url}/console/")
            tab_to(page, 'nav a[href="/console/stats"]')
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert page.inner_text("#period").startswith("today")
            assert page.inner_text("#fig-sessions") == "7"
            rows = page.locator("#district-services tr.district")
            assert rows.evaluate_all("rs => rs.map(r => r.dataset.district)") == ["Jiangbei", "Yuzhong"]
            yz = page.locator('#district-services tr[data-district="Yuzhong"]')
            assert yz.locator('td[data-flow="licence-renewal"]').inner_text() == "4"
            assert yz.locator('td[data-flow="tax-invoice"]').inner_text() == "0"
            assert page.inner_text('#district-services tr[data-district="Jiangbei"] td.total') == "3"
            assert page.locator("svg.hbars g.bar").count() >= 2
            renewal = page.locator('#services tr.service[data-flow="licence-renewal"]')
            assert renewal.locator(".completion").inner_text() == "75.0 %"
            assert renewal.locator(".median").inner_text() != "—"
            step = page.locator('table.funnel[data-flow="licence-renewal"] tr.step[data-step="medical_check"]')
            assert step.locator(".abandoned").inner_text() == "1" and "idle_timeout" in step.inner_text()
            assert "bp 1" in page.inner_text("#faults-by-device")
            assert fits_width(page)
            shot(page, "stats-today")

            tab_to(page, "#s-district")  # keyboard only: choose a district and show it
            page.keyboard.press("ArrowDown")  # all → Jiangbei
            page.keyboard.press("ArrowDown")  # → Yuzhong
            tab_to(page, "#stats-show")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "Yuzhong" in page.inner_text("#period") and page.inner_text("#fig-sessions") == "4"
            assert page.locator("#district-services tr.district").count() == 1
            assert page.inner_text("#fig-faults") == "250.0"  # 1 fault in 4 sessions
            shot(page, "stats-yuzhong")

            tab_to(page, "#csv-districts")
            with page.expect_download() as info:
                page.keyboard.press("Enter")
            rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
            assert rows[0] == ["period", "district", "service", "sessions"]
            assert [r[1:] for r in rows[1:]] == [["Yuzhong", "licence-renewal", "4"]]
            assert info.value.suggested_filename.startswith("kiosk-stats-districts-")

            page.goto(f"{fleet.url}/console/kiosks/yz-01")  # one kiosk's services, from its page
            tab_to(page, "#kiosk-stats")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "yz-01" in page.inner_text("#period") and page.inner_text("#fig-sessions") == "3"
        finally:
            context.close()
