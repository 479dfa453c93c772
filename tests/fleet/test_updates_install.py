"""The installer on real release directories, real venvs, a real (fake) app process and HTTP."""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from fleet.updates.gating import MaintenanceWindow
from fleet.updates.health import CallableProbe, HealthReport
from fleet.updates.models import ReasonCode, UpdateError, reported_fields
from fleet.updates.state import Phase
from fleet.updates.testing import UpdateLab, stop_fake_app, tamper_bundle


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with UpdateLab(tmp_path_factory.mktemp("lab")) as lab:
        lab.add_release("1.0.0")
        lab.add_release("2.0.0", min_from="1.0.0")
        lab.add_release("3.0.0", healthy=False)
        lab.add_release("4.0.0", sign=False)
        yield lab


@pytest.fixture(scope="module")
def template(lab, tmp_path_factory):
    """A kiosk root with 1.0.0 installed and committed (copied for each test: venvs are slow)."""
    base = tmp_path_factory.mktemp("template")
    root, run = base / "root", base / "run"
    # Production default: the release venv gets its own pip (the next agent installs with it).
    outcome = lab.updater(root, run, config={"venv_with_pip": True}).apply(lab.request("1.0.0"))
    stop_fake_app(run)
    assert outcome.status == "committed", outcome
    return root


@pytest.fixture
def kiosk(lab, template, tmp_path):
    root, run = tmp_path / "root", tmp_path / "run"
    shutil.copytree(template, root, symlinks=True)
    yield root, run
    stop_fake_app(run)


def status(run: Path, timeout: float = 3.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        try:
            return json.loads((run / "status.json").read_text())
        except (OSError, ValueError):
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def releases(root: Path) -> set[str]:
    return {p.name for p in (root / "releases").iterdir()}


def test_first_install_runs_the_app_from_its_own_venv(lab, template, tmp_path):
    assert (template / "current").readlink() == Path("releases/1.0.0")
    venv_python = template / "releases" / "1.0.0" / "venv" / "bin" / "python"
    assert venv_python.exists() and (template / "releases" / "1.0.0" / "INSTALLED").is_file()
    site = list((template / "releases" / "1.0.0" / "venv" / "lib").glob("python*/site-packages/fakedep"))
    assert site, "the dependency came from the bundle's wheels"
    assert (template / "releases" / "1.0.0" / "venv" / "bin" / "pip").exists()
    assert not (template / "previous").exists()  # nothing ran before


def test_upgrade_commits_when_the_new_release_is_healthy(lab, kiosk):
    root, run = kiosk
    progress = []
    updater = lab.updater(root, run, progress=progress.append)
    outcome = updater.apply(lab.request("2.0.0", rollout_id="r1"))
    assert outcome.status == "committed" and outcome.previous_version == "1.0.0"
    assert updater.current_version() == "2.0.0" and (root / "current").readlink() == Path("releases/2.0.0")
    assert status(run)["version"] == "2.0.0" and status(run)["healthy"]
    phases = [p.phase for p in progress]
    assert phases[0] == "downloading" and progress[0].percent == 0.0
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        "downloading", "verifying", "installing", "switching", "restarting", "health_check", "committed"
    ]
    assert max(p.percent or 0 for p in progress) == 100.0
    assert all(p.rollout_id == "r1" for p in progress)
    assert releases(root) == {"1.0.0", "2.0.0"}  # previous kept for a manual rollback
    assert (root / "previous").readlink() == Path("releases/1.0.0")  # as scripts/install-kiosk.sh keeps it
    assert not listing(root / "staging") and not listing(root / "downloads")
    assert updater.status().phase is Phase.COMMITTED
    assert updater.apply(lab.request("2.0.0")).status == "noop"


def test_unhealthy_release_is_rolled_back_with_the_reason(lab, kiosk):
    root, run = kiosk
    progress = []
    updater = lab.updater(root, run, progress=progress.append, config={"health_deadline_s": 0.6})
    outcome = updater.apply(lab.request("3.0.0"))
    assert outcome.status == "rolled_back" and outcome.reason is ReasonCode.UNHEALTHY
    assert "devices not supervised" in outcome.detail
    assert updater.current_version() == "1.0.0" and outcome.current_version == "1.0.0"
    assert releases(root) == {"1.0.0"} and not (root / "previous").is_symlink()
    assert status(run)["version"] == "1.0.0"  # the old app was restarted
    assert [p.phase for p in progress][-2:] == ["rolling_back", "rolled_back"]
    assert progress[-1].reason is ReasonCode.UNHEALTHY
    # The retained desired state still says 3.0.0: the same bundle is not tried again.
    again = updater.apply(lab.request("3.0.0"))
    assert again.status == "refused" and again.reason is ReasonCode.PREVIOUSLY_FAILED
    assert updater.apply(lab.request("3.0.0", rollout_id="retry")).reason is ReasonCode.UNHEALTHY


def test_release_that_never_answers_times_out(lab, kiosk):
    root, run = kiosk
    silent = CallableProbe(lambda version: HealthReport(healthy=False, answered=False, detail="control socket closed"))
    outcome = lab.updater(root, run, probe=silent, config={"health_deadline_s": 0.3}).apply(lab.request("2.0.0"))
    assert outcome.status == "rolled_back" and outcome.reason is ReasonCode.HEALTH_TIMEOUT
    assert "control socket closed" in outcome.detail


def test_failing_restart_hook_rolls_back(lab, kiosk):
    root, run = kiosk
    calls = []

    def restart(release: Path, version: str) -> None:
        calls.append(version)
        if version == "2.0.0":
            raise UpdateError(ReasonCode.RESTART_FAILED, "systemctl: unit failed")

    updater = lab.updater(root, run, restart=restart, probe=CallableProbe(lambda v: True))
    outcome = updater.apply(lab.request("2.0.0"))
    assert outcome.status == "rolled_back" and outcome.reason is ReasonCode.RESTART_FAILED
    assert calls == ["2.0.0", "1.0.0"] and updater.current_version() == "1.0.0"


@pytest.mark.parametrize(
    "version,kwargs,reason",
    [
        ("4.0.0", {}, ReasonCode.UNSIGNED),
        ("2.0.0", {"sha256": "0" * 64}, ReasonCode.DOWNLOAD_CORRUPT),
        ("2.0.0", {"version": "2.0.1"}, ReasonCode.VERSION_MISMATCH),
    ],
)
def test_refused_bundles_change_nothing(lab, kiosk, version, kwargs, reason):
    root, run = kiosk
    progress = []
    updater = lab.updater(root, run, progress=progress.append)
    outcome = updater.apply(lab.request(version).model_copy(update=kwargs))
    assert outcome.status == "refused" and outcome.reason is reason, outcome
    assert progress[-1].phase == "refused" and progress[-1].reason is reason
    assert updater.current_version() == "1.0.0" and releases(root) == {"1.0.0"}
    assert not (run / "status.json").exists()  # never restarted
    assert not listing(root / "downloads") and not listing(root / "staging")


def test_wrong_key_and_tampered_bundle_through_the_installer(lab, kiosk, tmp_path):
    root, run = kiosk
    other = UpdateLab(tmp_path / "other")  # its own key, not trusted by the kiosk
    cfg = {"trusted_keys": [other.public_key]}
    outcome = lab.updater(root, run, config=cfg).apply(lab.request("2.0.0"))
    assert outcome.status == "refused" and outcome.reason is ReasonCode.UNTRUSTED_KEY
    # Tamper with the served bundle (a byte inside a wheel) and announce the new file's hash.
    from fleet.bundle.archive import inspect_bundle

    bundle = lab.serve_dir / lab.bundle_name("2.0.0")
    original = bundle.read_bytes()
    try:
        tamper_bundle(bundle, bundle)
        assert bundle.read_bytes() != original and inspect_bundle(bundle).version == "2.0.0"
        outcome = lab.updater(root, run).apply(lab.request("2.0.0"))
    finally:
        bundle.write_bytes(original)
    assert outcome.status == "refused" and outcome.reason is ReasonCode.HASH_MISMATCH


def test_downgrade_refused_before_download_unless_allowed(lab, kiosk):
    root, run = kiosk
    updater = lab.updater(root, run)
    assert updater.apply(lab.request("2.0.0")).status == "committed"
    lab.server.requests.clear()
    outcome = updater.apply(lab.request("1.0.0"))
    assert outcome.status == "refused" and outcome.reason is ReasonCode.DOWNGRADE
    assert lab.server.requests == []  # not even downloaded
    outcome = updater.apply(lab.request("1.0.0", allow_downgrade=True))
    assert outcome.status == "committed" and updater.current_version() == "1.0.0"


def test_minimum_from_version_is_enforced(lab, kiosk):
    root, run = kiosk
    lab.add_release("5.0.0", min_from="2.0.0")
    outcome = lab.updater(root, run).apply(lab.request("5.0.0"))
    assert outcome.status == "refused" and outcome.reason is ReasonCode.FROM_VERSION_TOO_OLD


def test_outside_the_maintenance_window_is_deferred_then_installed(lab, kiosk):
    root, run = kiosk
    now = [datetime(2025, 3, 4, 14, 0)]
    cfg = {"maintenance_windows": ["23:30-04:00"]}
    updater = lab.updater(root, run, clock=lambda: now[0], config=cfg)
    outcome = updater.apply(lab.request("2.0.0"))
    assert outcome.status == "deferred" and outcome.reason is ReasonCode.OUTSIDE_MAINTENANCE_WINDOW
    assert updater.current_version() == "1.0.0" and releases(root) == {"1.0.0"}
    assert (root / "downloads" / "2.0.0.bundle").is_file()  # fetched ahead of the window
    lab.server.requests.clear()
    now[0] = datetime(2025, 3, 5, 2, 15)
    assert updater.apply(lab.request("2.0.0")).status == "committed"
    assert lab.server.requests == []  # the kept download was used


def test_active_session_defers_the_install(lab, kiosk):
    root, run = kiosk
    session = [True]
    updater = lab.updater(root, run, session_active=lambda: session[0])
    outcome = updater.apply(lab.request("2.0.0"))
    assert outcome.status == "deferred" and outcome.reason is ReasonCode.SESSION_ACTIVE
    assert updater.current_version() == "1.0.0" and not (run / "status.json").exists()
    session[0] = False
    assert updater.apply(lab.request("2.0.0")).status == "committed"


def test_session_starting_during_install_defers_the_switch(lab, kiosk):
    root, run = kiosk
    answers = iter([False, True, False, False])  # free, then busy at the switch, then free
    updater = lab.updater(root, run, session_active=lambda: next(answers))
    outcome = updater.apply(lab.request("2.0.0"))
    assert outcome.status == "deferred" and outcome.reason is ReasonCode.SESSION_ACTIVE
    assert updater.current_version() == "1.0.0" and "2.0.0" in releases(root)  # built, not switched
    assert updater.apply(lab.request("2.0.0")).status == "committed"


def test_maintenance_window_rules():
    night = MaintenanceWindow.model_validate("23:30-04:00")
    assert night.contains(datetime(2025, 3, 4, 23, 45)) and night.contains(datetime(2025, 3, 5, 3, 59))
    assert not night.contains(datetime(2025, 3, 5, 4, 0)) and not night.contains(datetime(2025, 3, 5, 12, 0))
    weekdays = MaintenanceWindow(start="02:00", end="05:00", weekdays=[0, 1, 2, 3, 4])
    assert weekdays.contains(datetime(2025, 3, 7, 2, 0))  # Friday
    assert not weekdays.contains(datetime(2025, 3, 8, 2, 0))  # Saturday
    sunday_night = MaintenanceWindow(start="23:00", end="01:00", weekdays=[6])
    assert sunday_night.contains(datetime(2025, 3, 10, 0, 30))  # Monday 00:30 belongs to Sunday's window
    assert not sunday_night.contains(datetime(2025, 3, 11, 0, 30))


def test_reported_fields_fit_the_protocol_message(lab, kiosk):
    from fleet.protocol import UpdateReported
    from fleet.updates.models import UpdateOutcome, UpdateProgress

    progress = UpdateProgress(phase="downloading", version="2.0.0", rollout_id="r9", percent=42.0)
    msg = UpdateReported(kiosk_id="k-0001", **reported_fields(progress, current_version="1.0.0"))
    assert msg.state == "downloading" and msg.detail == "42.0%" and msg.current_version == "1.0.0"
    outcome = UpdateOutcome(status="rolled_back", version="3.0.0", current_version="1.0.0", reason=ReasonCode.UNHEALTHY, detail="camera")
    msg = UpdateReported(kiosk_id="k-0001", **reported_fields(outcome))
    assert msg.state == "rolled_back" and msg.detail == "unhealthy: camera"
