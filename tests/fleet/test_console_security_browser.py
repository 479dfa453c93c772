"""The Security and History console pages in Debian's Chromium (Playwright, nothing
downloaded), against the server's app over HTTP without a broker: a token created in the
form is shown once and stops working when revoked; a session revoked from another
browser is logged out at its next click; the fleet history charts render under the
console's strict CSP (no violation reported). Skipped without Chromium or Playwright."""

from __future__ import annotations

import datetime as dt
import shutil

import httpx
import pytest

from fleet.server.service import FleetServer, ServerSettings
from fleet.server.testing import HttpServer
from fleet.server.webapp import create_app

pytestmark = pytest.mark.timeout(90)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PASSWORD = "operator-pass-1"


@pytest.fixture
def web(tmp_path, monkeypatch):
    from argon2 import PasswordHasher

    from fleet.server import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    server = FleetServer(ServerSettings(db_url=f"sqlite:///{tmp_path / 'fleet.db'}", artifact_dir=tmp_path / "a"))
    server.auth.create_operator("operator", PASSWORD, "operator")
    http = HttpServer(create_app(server)).start()
    yield server, http.url
    http.stop()
    server.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


def log_in(context, url: str):
    page = context.new_page()
    page.goto(f"{url}/console/security")
    page.fill("#username", "operator")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(f"{url}/console/security")
    return page


def test_tokens_and_sessions_from_the_console(web, browser):
    server, url = web
    laptop, phone = browser.new_context(), browser.new_context()
    try:
        page = log_in(laptop, url)
        page.fill("#token-form input[name=name]", "monitoring")
        page.select_option("#token-form select[name=role]", "viewer")
        page.click("#create-token")
        secret = page.inner_text("#token-secret")
        assert secret.startswith("kft_")
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert api.get("/api/me").json()["role"] == "viewer"
        page.goto(f"{url}/console/security")
        assert page.locator("#token-secret").count() == 0 and secret not in page.content()  # shown once
        token_id = page.locator("tr.token").get_attribute("data-token")
        page.click(f"#revoke-token-{token_id}")
        page.wait_for_selector("#message")
        assert api.get("/api/me").status_code == 401

        other = log_in(phone, url)
        page.goto(f"{url}/console/security")
        assert page.locator("tr.session").count() == 2
        other_id = page.locator("tr.session:not(.current)").get_attribute("data-session")
        page.click(f"#revoke-session-{other_id}")
        page.wait_for_selector("#message")
        other.goto(f"{url}/console/")
        assert "/console/login" in other.url  # the phone's session ended at its next request
        api.close()
    finally:
        laptop.close()
        phone.close()


def test_fleet_history_charts_render_under_the_csp(web, browser):
    from sqlalchemy import insert

    from fleet.server.health_retention import health_job
    from fleet.server.models import HealthSample, Kiosk

    server, url = web
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=20)
    with server.db.session() as s:
        s.add(Kiosk(kiosk_id="k1"))
        s.flush()
        s.execute(insert(HealthSample), [dict(kiosk_id="k1", received_at=start + dt.timedelta(hours=h), cpu_percent=20.0 + h % 30,
                                              memory_percent=50.0, disk_percent=60.0, temperature_c=45.0, devices_ok=5,
                                              devices_total=5, payload={"app_version": "1.4.2"}) for h in range(20 * 24)])
    health_job(server.db).run_once()
    context = browser.new_context()
    try:
        page = log_in(context, url)
        violations = []
        page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
        page.goto(f"{url}/console/history?range=30d")
        assert page.inner_text("#resolution") == "daily"
        assert page.locator("#figures-chart svg polyline.series").count() == 4
        assert page.locator('#versions-chart polyline[data-version="1.4.2"]').count() == 1
        page.goto(f"{url}/console/kiosks/k1/history?range=7d")
        assert page.inner_text("#resolution") == "hourly"
        assert violations == []
    finally:
        context.close()
