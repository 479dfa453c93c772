"""The web console in a real headless browser: Debian's Chromium driven by Playwright
(the system browser through `executable_path`; nothing is downloaded).

An operator logs in, sees the kiosks with their health, opens one, sends a command that
a simulated kiosk answers, and sees the result appear without reloading; a viewer sees
no command form. Skipped when Chromium or Playwright is missing (Debian:
apt-get install chromium; PyPI: playwright)."""

from __future__ import annotations

import shutil

import pytest

from fleet.server.testing import PASSWORDS, FleetHarness, wait_until

pytestmark = pytest.mark.timeout(90)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}",
                           heartbeat_s=30.0).start()
    yield harness
    harness.stop()


def log_in(page, url: str, role: str) -> None:
    page.goto(f"{url}/console/")
    assert "/console/login" in page.url  # not logged in: sent to the login page
    page.fill("#username", role)
    page.fill("#password", PASSWORDS[role])
    page.click("#login")
    page.wait_for_url(f"{url}/console/")
    assert page.inner_text("#whoami") == f"{role} ({role})"


def test_operator_logs_in_sees_kiosks_sends_a_command_and_sees_its_result(fleet, browser, tmp_path):
    ok = fleet.kiosk("k-console-1", heartbeat_s=30.0)
    ok.send_health()
    low = fleet.kiosk("k-console-2", heartbeat_s=30.0)
    low.set_device("printer", "ready", paper="near_end")
    low.set_device("bp", "fault", reason="cuff_leak")
    low.send_health()
    viewer_api = fleet.client("viewer")
    wait_until(lambda: len(viewer_api.get("/api/kiosks").json()) == 2)

    page = browser.new_page()
    try:
        log_in(page, fleet.url, "operator")
        rows = page.locator("#kiosks tr.kiosk")
        assert rows.count() == 2
        first = page.locator('tr.kiosk[data-kiosk="k-console-1"]')
        assert "online" in first.inner_text()
        second = page.locator('tr.kiosk[data-kiosk="k-console-2"]')
        assert second.locator(".dev.fault").inner_text() == "bp"
        assert second.locator(".dev.paper-near_end").inner_text() == "printer"
        assert second.locator(".pill.critical").inner_text() == "2"  # two open alerts

        page.click("text=k-console-1")
        page.wait_for_url(f"{fleet.url}/console/kiosks/k-console-1")
        assert page.locator("#devices tr.device").count() == 5
        assert page.locator("svg.chart polyline.series").count() >= 1

        page.select_option("#command-name", "self_test")
        assert page.input_value("#command-args") == '{"device": "printer"}'  # the example the JS filled in
        page.click("#send-command")
        page.wait_for_url(f"{fleet.url}/console/kiosks/k-console-1?sent=*")
        # The kiosk answers over MQTT; the page shows the result without a reload.
        page.wait_for_selector("tr.command .cmd-status.succeeded", timeout=10_000)
        row = page.locator("tr.command.just-sent")
        assert "self_test" in row.inner_text()
        assert "self-test of printer passed" in row.locator(".result").inner_text()
        assert ok.commands and ok.commands[0].name.value == "self_test"

        page.click("#edit-config")  # the configuration page: the raw JSON is the advanced view
        page.locator("#raw-json summary").click()
        page.fill("#config-settings", '{"volume": 25}')
        page.click("#review-raw")
        assert page.inner_text('#config-diff tr[data-field="volume"] td.new') == "25"
        page.click("#push-config")
        page.wait_for_url("**pushed=1")
        page.goto(f"{fleet.url}/console/kiosks/k-console-1")
        page.wait_for_selector("#config-state.applied", timeout=10_000)

        page.goto(f"{fleet.url}/console/audit")
        actions = page.locator("#audit tr.audit").evaluate_all("rows => rows.map(r => r.dataset.action)")
        assert actions[:3] == ["config", "command", "login"]
        page.screenshot(path=str(tmp_path / "audit.png"))
    finally:
        page.close()


def test_viewer_sees_health_but_no_command_form(fleet, browser):
    kiosk = fleet.kiosk("k-console-view", heartbeat_s=30.0)
    kiosk.send_health()
    wait_until(lambda: fleet.client("viewer").get("/api/kiosks").json())
    page = browser.new_page()
    try:
        log_in(page, fleet.url, "viewer")
        page.click("text=k-console-view")
        page.wait_for_url(f"{fleet.url}/console/kiosks/k-console-view")
        assert page.locator("#command-form").count() == 0
        assert "can look but not send commands" in page.inner_text("#commands-section")
        response = page.goto(f"{fleet.url}/console/audit")
        assert response.status == 403
    finally:
        page.close()
