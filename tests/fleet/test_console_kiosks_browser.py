"""The kiosk list and the configuration form in a real headless Chromium (Debian's
/usr/bin/chromium driven by Playwright; nothing downloaded), on a seeded fleet of 300
Chongqing kiosks plus one simulated kiosk on a real broker.

- Keyboard only: Tab to the search box, type, Enter; Tab to a filter, arrow keys, Enter on
  Apply; Space on two rows' boxes; choose a bulk action and a label; Enter on Review and
  Enter on Confirm (focused by itself) — and the two kiosks carry the label.
- Sorting by a column header, saving a view and opening it again.
- The configuration form: a model-wide rule the browser cannot check comes back beside the
  form, a valid change shows its diff, the push lands in the history under the operator's
  name and the simulated kiosk applies it; the raw JSON view gets the model's message.
- Narrow laptop widths (1024×640 and 800×640): the page never scrolls sideways (the table
  scrolls inside its own box), search and grouping stay visible.
Screenshots of each step are kept: the directory is printed in the test summary.

One browser, one server and one broker for the whole module (start-up is most of the cost);
Chromium, the logged-in contexts and Tab navigation come from console_support.
"""

from __future__ import annotations

import pytest

from fleet.broker.certs import CertificateAuthority
from fleet.broker.runner import MosquittoBroker, find_mosquitto
from fleet.broker.testing import PROBE_ACL
from fleet.server.seed import seed
from fleet.server.testing import FleetHarness, wait_until

from .console_support import chromium, fits_width, logged_in, tab_to

pytestmark = pytest.mark.timeout(120)

SIM = "k-web-1"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    tmp = tmp_path_factory.mktemp("console-kiosks")
    ca = CertificateAuthority(tmp / "pki")
    ca.init()
    ca.issue_server()
    broker = MosquittoBroker(tmp / "broker", ca, extra_acl=PROBE_ACL)
    broker.start()
    harness = FleetHarness(ca, broker.host, broker.port, f"sqlite:///{tmp / 'fleet.db'}", heartbeat_s=30.0).start()
    try:
        seed(harness.server.db, 300, seed=3)
        sim = harness.kiosk(SIM, heartbeat_s=30.0)
        sim.send_health()
        wait_until(lambda: harness.client("viewer").get(f"/api/kiosks/{SIM}").status_code == 200, what="the sim kiosk")
        yield harness
    finally:
        harness.stop()
        broker.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory, request):
    """Where the screenshots go; said at the start and again after the run's output."""
    directory = tmp_path_factory.mktemp("artifacts") / "console-kiosks"
    directory.mkdir()
    print(f"\nconsole screenshots: {directory}")
    yield directory
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # none in an xdist worker
        reporter.write_line(f"\nconsole screenshots kept in {directory}")


def _page(browser, fleet, role: str = "operator", width: int = 1280, height: int = 800):
    context = logged_in(browser, fleet, role, {"width": width, "height": height})
    return context, context.new_page()


def test_keyboard_only_search_filter_select_and_bulk_label(browser, fleet, shots):
    context, page = _page(browser, fleet)
    try:
        page.goto(f"{fleet.url}/console/")
        assert int(page.inner_text("#match-count").split()[0]) == 301
        tab_to(page, "#q", limit=20)  # the search comes right after the menu, before the 38 district links
        page.keyboard.type("cq-yubei")
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/?*q=cq-yubei*")
        ids = page.locator("#kiosks tr.kiosk").evaluate_all("rows => rows.map(r => r.dataset.kiosk)")
        assert ids and all(i.startswith("cq-yubei-") for i in ids)
        page.screenshot(path=str(shots / "keyboard-1-search.png"), full_page=True)

        tab_to(page, "#f-status")
        page.keyboard.press("ArrowDown")  # any → online
        assert page.input_value("#f-status") == "online"
        tab_to(page, "#apply")
        page.keyboard.press("Enter")
        page.wait_for_url("**status=online*")
        statuses = page.locator("#kiosks tr.kiosk .pill.online, #kiosks tr.kiosk .pill.silent, #kiosks tr.kiosk .pill.offline")
        assert set(statuses.all_inner_texts()) == {"online"}
        picked = page.locator("#kiosks tr.kiosk").evaluate_all("rows => rows.slice(0, 2).map(r => r.dataset.kiosk)")
        assert len(picked) == 2

        for kiosk_id in picked:
            tab_to(page, f'input.pick[value="{kiosk_id}"]')
            page.keyboard.press("Space")
        tab_to(page, "#bulk-action")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")  # send a command → change configuration → add a label
        assert page.input_value("#bulk-action") == "add_label"
        tab_to(page, "#bulk-label")
        page.keyboard.type("keyboard-test")
        page.screenshot(path=str(shots / "keyboard-2-selected.png"), full_page=True)
        tab_to(page, "#bulk-review")
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/kiosks/bulk")
        assert page.inner_text("h1") == "Review: add a label on 2 kiosks"
        # Enter confirms, nothing else needed: autofocus lands on the button (the browser applies it
        # once the page has rendered, which on a loaded machine can come after the load event).
        page.wait_for_function("document.activeElement && document.activeElement.id === 'bulk-confirm'", timeout=10_000)
        page.screenshot(path=str(shots / "keyboard-3-review.png"), full_page=True)
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/kiosks/bulk/confirm")
        assert page.inner_text("#bulk-result") == "2 done, 0 failed."
        page.screenshot(path=str(shots / "keyboard-4-done.png"), full_page=True)
    finally:
        context.close()
    tagged = fleet.client("viewer").get("/api/kiosks/search", params={"label": "keyboard-test"}).json()
    assert sorted(r["kiosk_id"] for r in tagged["rows"]) == sorted(picked)
    audit = fleet.client("admin").get("/api/audit").json()
    assert [a["target"] for a in audit if a["action"] == "labels"][:2] == list(reversed(picked)) or \
        sorted(a["target"] for a in audit if a["action"] == "labels")[:2] == sorted(picked)


def test_sort_by_a_header_group_by_district_and_reopen_a_saved_view(browser, fleet, shots):
    context, page = _page(browser, fleet, role="viewer")
    try:
        page.goto(f"{fleet.url}/console/")
        assert page.locator("#bulk-actions").count() == 0 and "can look but not act" in page.inner_text("main")
        page.click('a.sort[data-sort="alerts"]')
        page.wait_for_url("**sort=alerts*")
        page.click('a.sort[data-sort="alerts"]')  # again: descending
        page.wait_for_url("**order=desc*")
        assert page.get_attribute('th:has(a[data-sort="alerts"])', "aria-sort") == "descending"
        counts = page.locator("#kiosks tr.kiosk td:nth-child(8)").all_inner_texts()
        numbers = [int(c) if c.strip().isdigit() else 0 for c in counts]
        assert numbers == sorted(numbers, reverse=True) and numbers[0] > 0

        district = page.locator("#groups li.district").first  # a real district (kiosks without a site come last)
        name, total = district.get_attribute("data-district"), int(district.locator(".count").inner_text())
        district.locator("a").click()
        page.wait_for_url("**district=*")
        assert int(page.inner_text("#match-count").split()[0]) == total
        assert set(page.locator("#kiosks tr.kiosk td:nth-child(4)").all_inner_texts()) == {name}

        page.fill("#view-name", "alerting first")
        page.click("#save-view")
        page.wait_for_url("**saved=*")
        assert "saved" in page.inner_text("#saved-note")
        page.goto(f"{fleet.url}/console/")
        page.click('a.saved-view[data-view="alerting first"]')
        page.wait_for_url("**district=*")
        assert page.get_attribute('th:has(a[data-sort="alerts"])', "aria-sort") == "descending"
        assert int(page.inner_text("#match-count").split()[0]) == total
        page.screenshot(path=str(shots / "saved-view.png"), full_page=True)
    finally:
        context.close()


def test_configuration_form_validates_shows_the_diff_and_records_who_pushed(browser, fleet, shots):
    context, page = _page(browser, fleet)
    try:
        page.goto(f"{fleet.url}/console/kiosks/{SIM}")
        assert "heartbeat every 30 s" in page.inner_text("#facts")
        page.click("#edit-config")
        page.wait_for_url(f"**/console/kiosks/{SIM}/config")
        assert page.get_attribute("#cfg-volume", "max") == "100" and page.get_attribute("#cfg-volume", "min") == "0"
        assert page.locator("#cfg-language option").all_inner_texts() == ["zh-CN", "en"]
        page.fill("#cfg-volume", "30")
        page.fill("#cfg-idle_warning_s", "95")  # within its own limits, but not before the 90 s timeout
        page.click("#review-config")
        assert "idle_warning_s must be shorter than idle_timeout_s" in page.inner_text("main")
        assert page.input_value("#cfg-volume") == "30"  # what was typed stays
        page.screenshot(path=str(shots / "config-1-invalid.png"), full_page=True)

        page.fill("#cfg-idle_warning_s", "20")
        page.select_option("#cfg-language", "en")
        page.click("#review-config")
        changed = page.locator("#config-diff tr.change").evaluate_all("rows => rows.map(r => r.dataset.field)")
        assert changed == ["language", "volume"]
        assert page.inner_text('#config-diff tr[data-field="volume"] td.new') == "30"
        page.screenshot(path=str(shots / "config-2-diff.png"), full_page=True)
        page.keyboard.press("Enter")  # the Push button has the focus
        page.wait_for_url("**pushed=1")
        first = page.locator("#config-history tr.push").first
        assert first.locator(".by").inner_text() == "operator" and "volume 60 → 30" in first.inner_text()
        sim = next(k for k in fleet.kiosks if k.kiosk_id == SIM)
        wait_until(lambda: sim.configs and sim.configs[-1].settings["volume"] == 30, what="the kiosk got version 1")
        page.locator("#raw-json summary").click()
        page.fill("#config-settings", '{"brightness": 200}')
        page.click("#review-raw")
        assert page.get_attribute("#cfg-brightness", "aria-invalid") == "true"
        assert "less than or equal to 100" in page.inner_text('[data-field="brightness"] .field-error')
        page.screenshot(path=str(shots / "config-3-raw-invalid.png"), full_page=True)
        for _ in range(50):  # the kiosk's report arrives over MQTT
            page.goto(f"{fleet.url}/console/kiosks/{SIM}/config")
            if page.inner_text("#config-state") == "applied":
                break
            page.wait_for_timeout(100)
        assert page.inner_text("#config-state") == "applied"
    finally:
        context.close()


def test_narrow_laptop_widths_never_scroll_sideways(browser, fleet, shots):
    context, page = _page(browser, fleet, width=1024, height=640)
    try:
        for width in (1024, 800):
            page.set_viewport_size({"width": width, "height": 640})
            for path, name in (("/console/?sort=alerts&order=desc", "list"), (f"/console/kiosks/{SIM}/config", "config")):
                page.goto(f"{fleet.url}{path}")
                assert fits_width(page), f"the {name} page scrolls sideways at {width} px"
                page.screenshot(path=str(shots / f"narrow-{width}-{name}.png"), full_page=True)
            page.goto(f"{fleet.url}/console/")
            assert page.is_visible("#q") and page.is_visible("#groups") and page.is_visible("#apply")
            box = page.locator("#q").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
    finally:
        context.close()
