"""Rollouts from the browser, in headless Chromium on a narrow laptop screen, by keyboard.

An operator uploads bundles through the console: a tampered and an unsigned one are
refused with a plain reason and the installer's reason code, a signed one is accepted
with its signing key shown. They plan a rollout to a group with a preview of the kiosks
in each wave, start it, watch the canary commit and a kiosk of the next wave fail (its
reason in the failures table, the timeline and wave bars drawn), pause and resume it,
abort it and roll it back — each through its confirmation page, each in the audit log.
A viewer sees the same pages with no upload form and no action, and a POST is refused.
Screenshots are kept under artifacts/console/.
"""

from __future__ import annotations

import pytest

from fleet.bundle.keys import generate_keypair, load_private_key
from fleet.protocol import UpdateReported
from fleet.server.testing import FleetHarness, wait_until
from fleet.updates.testing import UpdateLab, tamper_bundle

from .console_support import chromium, fits_width, logged_in, shot, tab_to, type_into

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = UpdateLab(tmp_path_factory.mktemp("lab"))
    lab.add_release("1.4.2")  # what the kiosks run now: the way back
    lab.add_release("2.0.0")
    lab.add_release("3.0.0", sign=False)
    tamper_bundle(lab.serve_dir / lab.bundle_name("2.0.0"), lab.serve_dir / "tampered.bundle")
    rogue, _ = generate_keypair(lab.base / "rogue", "rogue")
    lab.add_release("4.0.0", key=load_private_key(rogue))
    yield lab
    lab.server.httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def fleet(fleet_pki, mosquitto, tmp_path, lab):
    harness = FleetHarness(fleet_pki, mosquitto.host, mosquitto.port, f"sqlite:///{tmp_path / 'fleet.db'}",
                           heartbeat_s=30.0)
    harness.settings.trusted_keys = [lab.public_key]
    harness.settings.artifact_dir = tmp_path / "artifacts"
    harness.settings.rollout_tick_s = 0.05
    harness.start()
    yield harness
    harness.stop()


def report(kiosk, state: str, rollout_id: str, version: str, **fields) -> None:
    kiosk.publish(UpdateReported(kiosk_id=kiosk.kiosk_id, state=state, rollout_id=rollout_id, version=version,
                                 **fields)).wait_for_publish(5)


def upload(page, path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    tab_to(page, "#bundle-file")
    for attempt in range(3):  # on a loaded machine Chromium can drop the first key press's activation
        try:
            with page.expect_file_chooser(timeout=8000) as chooser:
                page.keyboard.press("Space")  # opens the file chooser, as for a person at the keyboard
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            if not page.evaluate("() => document.activeElement && document.activeElement.id === 'bundle-file'"):
                tab_to(page, "#bundle-file")
    chooser.value.set_files(str(path))  # (the chooser itself is the operating system's)
    tab_to(page, "#upload")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def confirm(page, action: str) -> None:
    """Open the action's confirmation page and confirm, all by keyboard."""
    tab_to(page, f"#rollout-{action}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/confirm/{action}")
    assert page.locator("#explain").inner_text()
    assert page.evaluate("() => document.activeElement.id") == "confirm"  # autofocus on the button
    page.keyboard.press("Enter")
    page.wait_for_selector("#done")


def test_operator_uploads_plans_watches_pauses_aborts_and_rolls_back(fleet, browser, lab):
    kiosks = {k: fleet.kiosk(k, heartbeat_s=30.0) for k in ("yz-1", "yz-2", "yz-3", "jb-1")}
    op = fleet.client("operator")
    wait_until(lambda: {k["app_version"] for k in op.get("/api/kiosks").json()} == {"1.4.2"}
               and len(op.get("/api/kiosks").json()) == 4)
    for kiosk_id in ("yz-1", "yz-2", "yz-3"):
        op.put(f"/api/kiosks/{kiosk_id}/labels", json={"group": "yuzhong", "tags": ["hall-a"]}).raise_for_status()
    op.put("/api/kiosks/jb-1/labels", json={"group": "jiangbei"}).raise_for_status()

    context = logged_in(browser, fleet, "operator")
    page = context.new_page()
    try:
        page.goto(f"{fleet.url}/console/rollouts")
        assert fits_width(page)
        for name, reason, words in (("tampered.bundle", "hash_mismatch", "changed after signing"),
                                    (lab.bundle_name("3.0.0"), "unsigned", "not signed"),
                                    (lab.bundle_name("4.0.0"), "untrusted_key", "does not trust")):
            upload(page, lab.serve_dir / name)
            assert page.inner_text("#upload-reason") == reason
            assert words in page.inner_text("#upload-error") and "Nothing was stored" in page.inner_text("#upload-error")
        shot(page, "rollouts-upload-refused")
        assert page.locator("#artifacts tr.artifact").count() == 0
        for version in ("1.4.2", "2.0.0"):
            upload(page, lab.serve_dir / lab.bundle_name(version))
            assert f"fakekiosk {version}" in page.inner_text("#upload-result")
        assert page.locator("#artifacts tr.artifact").count() == 2
        new = next(a for a in op.get("/api/artifacts").json() if a["version"] == "2.0.0")
        assert new["key_id"] in page.inner_text("#upload-result")  # the trusted key that signed it

        # Plan: the group, two waves, abort at 60 % — with a preview of the kiosks per wave.
        tab_to(page, "#new-rollout")
        page.keyboard.press("Enter")
        page.wait_for_url("**/rollouts/new")
        tab_to(page, "#f-artifact_id")
        page.select_option("#f-artifact_id", new["artifact_id"])  # (a focused select also takes arrow keys)
        tab_to(page, "#f-group")
        page.keyboard.press("ArrowDown")  # first group: jiangbei
        page.keyboard.press("ArrowDown")  # yuzhong
        assert page.input_value("#f-group") == "yuzhong"
        type_into(page, "#f-waves", "1, 100%")
        type_into(page, "#f-abort_percent", "60")
        tab_to(page, "#preview")
        page.keyboard.press("Enter")
        page.wait_for_selector("#waves")
        waves = page.locator("#waves tr.wave")
        assert waves.count() == 2
        assert waves.nth(0).locator(".wave-kiosks").inner_text() == "yz-1"
        assert waves.nth(1).locator(".wave-kiosks").inner_text() == "yz-2, yz-3"
        assert fits_width(page)
        shot(page, "rollouts-preview")
        tab_to(page, "#start-rollout")
        page.keyboard.press("Enter")
        page.wait_for_selector("#started")
        rid = page.url.split("/rollouts/")[1].split("?")[0]

        # Watch: the canary commits, a kiosk of wave 2 rolls back; the page follows by itself.
        report(kiosks["yz-1"], "committed", rid, "2.0.0", current_version="2.0.0")
        page.wait_for_selector('tr.stage.running[data-stage="2"]')
        report(kiosks["yz-2"], "rolled_back", rid, "2.0.0", reason="unhealthy", detail="new release never healthy")
        page.wait_for_selector('#failure-list tr.failure[data-kiosk="yz-2"]')
        assert page.inner_text('#failure-list tr.failure[data-kiosk="yz-2"] .reason') == "unhealthy"
        assert "did not become healthy" in page.inner_text('#failure-list tr.failure[data-kiosk="yz-2"] .plain')
        assert page.get_attribute('#timeline polyline[data-series="committed"]', "data-last") == "1"
        assert page.get_attribute('#timeline polyline[data-series="failed"]', "data-last") == "1"
        assert page.locator("#timeline line.marker").count() == 2  # where each wave started
        assert page.locator("#wave-bars g.bar").count() == 2
        assert fits_width(page)
        shot(page, "rollout-watch")

        confirm(page, "pause")
        page.wait_for_selector("#rollout-status:text('paused')")
        confirm(page, "resume")
        page.wait_for_selector("#rollout-resume", state="detached")
        confirm(page, "abort")
        page.wait_for_selector("#rollout-status:text('cancelled')")
        assert page.locator('tr.rk.withdrawn[data-kiosk="yz-3"]').count() == 1
        page.goto(f"{fleet.url}/console/rollouts/{rid}?state=withdrawn")  # the kiosk list by state
        assert page.locator("#rollout-kiosks tr.rk").count() == 1 and page.inner_text("#kiosks-shown") == "1 of 1 withdrawn shown"
        confirm(page, "rollback")  # yz-1 committed 2.0.0 on top of 1.4.2: back to 1.4.2
        assert "roll back" in page.inner_text("#title")
        back = page.url.split("/rollouts/")[1].split("?")[0]
        detail = op.get(f"/api/rollouts/{back}").json()
        assert detail["version"] == "1.4.2" and detail["allow_downgrade"]
        assert [k["kiosk_id"] for k in detail["kiosks"]] == ["yz-1"]
        shot(page, "rollout-rolled-back")
        # The same through the API: nothing of the new rollout is installed yet, so nothing to roll back.
        refused = op.post(f"/api/rollouts/{back}/rollback")
        assert refused.status_code == 409 and "nothing to roll back" in refused.json()["detail"]
        assert fleet.client("viewer").post(f"/api/rollouts/{rid}/rollback").status_code == 403

        audit = [(e["action"], e["operator"], e["target"]) for e in op.get("/api/audit").json()]
        for action in ("rollout_pause", "rollout_resume", "rollout_cancel", "rollout_rollback", "rollout_create"):
            assert (action, "operator", rid) in audit, action
        assert [e["outcome"] for e in op.get("/api/audit").json() if e["action"] == "artifact_upload"].count("failed") == 3
    finally:
        context.close()


def test_viewer_sees_rollouts_but_cannot_upload_or_act(fleet, browser, lab):
    op = fleet.client("operator")
    kiosk = fleet.kiosk("vw-1", heartbeat_s=30.0)
    wait_until(lambda: op.get("/api/kiosks").json())
    art = op.post("/api/artifacts", content=(lab.serve_dir / lab.bundle_name("2.0.0")).read_bytes()).json()
    rid = op.post("/api/rollouts", json={"artifact_id": art["artifact_id"], "target": {"kiosks": [kiosk.kiosk_id]}}
                  ).json()["rollout_id"]
    context = logged_in(browser, fleet, "viewer")
    page = context.new_page()
    try:
        page.goto(f"{fleet.url}/console/rollouts")
        assert page.locator("#upload-form").count() == 0 and page.locator("#new-rollout").count() == 0
        assert page.locator(f'tr.rollout[data-rollout="{rid}"]').count() == 1
        page.goto(f"{fleet.url}/console/rollouts/{rid}")
        assert page.locator("#actions a").count() == 0 and page.locator("#timeline svg").count() == 1
        shot(page, "rollout-viewer")
        for path in (f"/console/rollouts/{rid}/confirm/abort", "/console/rollouts/new"):
            assert page.goto(f"{fleet.url}{path}").status == 403
        page.goto(f"{fleet.url}/console/rollouts/{rid}")
        csrf = page.evaluate("() => document.querySelector('input[name=csrf]').value")  # the logout form's
        refused = page.request.post(f"{fleet.url}/console/rollouts/{rid}/abort", form={"csrf": csrf, "confirm": "yes"})
        assert refused.status == 403
        assert op.get(f"/api/rollouts/{rid}").json()["status"] == "running"
        denied = [e for e in op.get("/api/audit").json() if e["outcome"] == "denied"]
        assert any(e["operator"] == "viewer" and e["target"].endswith("/abort") for e in denied)
    finally:
        context.close()
