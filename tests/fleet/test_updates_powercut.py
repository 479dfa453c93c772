"""kill -9 of a real installer subprocess right after each install step, then resume().

The installer runs as `python -m fleet.updates.cli update apply` with
KIOSK_UPDATE_CRASH_AFTER=<step>, so it SIGKILLs itself exactly there (a power cut as far
as the disk is concerned: everything it fsynced is there, nothing else is promised).
A fresh Updater then calls resume(); afterwards the kiosk must be consistent: either the
old release is current and the new one is gone, or the new one is fully committed — and
the app that runs is the one `current` points at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet.updates.installer import CRASH_ENV, FORWARD_CHECKPOINTS, ROLLBACK_CHECKPOINTS
from fleet.updates.models import ReasonCode
from fleet.updates.state import SETTLED, Phase
from fleet.updates.testing import UpdateLab, stop_fake_app

PRE_SWITCH_STEPS = ("downloaded", "verified", "venv_created", "packages_installed", "installed")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with UpdateLab(tmp_path_factory.mktemp("lab")) as lab:
        lab.add_release("1.0.0")
        lab.add_release("2.0.0")
        lab.add_release("3.0.0", healthy=False)
        yield lab


@pytest.fixture(scope="module")
def template(lab, tmp_path_factory):
    base = tmp_path_factory.mktemp("template")
    root, run = base / "root", base / "run"
    outcome = lab.updater(root, run).apply(lab.request("1.0.0"))
    stop_fake_app(run)
    assert outcome.status == "committed", outcome
    return root


@pytest.fixture
def kiosk(template, tmp_path):
    root, run = tmp_path / "root", tmp_path / "run"
    shutil.copytree(template, root, symlinks=True)
    yield root, run
    stop_fake_app(run)


def crash_install(lab: UpdateLab, root: Path, run: Path, version: str, step: str, **config) -> subprocess.CompletedProcess:
    cfg = root.parent / "update.json"
    cfg.write_text(json.dumps(lab.config(root, run, **config)))
    request = lab.request(version)
    env = dict(os.environ, **{CRASH_ENV: step}, PYTHONPATH=str(REPO))
    argv = [
        sys.executable, "-m", "fleet.updates.cli", "update", "apply", "--config", str(cfg),
        "--url", request.url, "--version", version, "--sha256", request.sha256, "--size", str(request.size),
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, cwd=REPO)


def app_version(run: Path, timeout: float = 3.0) -> str:
    end = time.monotonic() + timeout
    while True:
        try:
            return json.loads((run / "status.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            if time.monotonic() > end:
                return "none"
            time.sleep(0.02)


def assert_consistent(updater, root: Path, run: Path, old: str, new: str) -> str:
    """Settled state; `current` is complete; the other release is either gone or committed."""
    record = updater.status()
    assert record.phase in SETTLED, record
    current = updater.current_version()
    assert current in (old, new)
    assert updater.is_installed(current)
    assert not (root / "current.tmp").exists()
    assert not (root / "staging" / new).exists()
    if current == old:
        assert not (root / "releases" / new).exists(), "half-installed release left behind"
        assert record.phase is not Phase.COMMITTED
    else:
        assert record.phase is Phase.COMMITTED
    return current


@pytest.mark.parametrize("step", FORWARD_CHECKPOINTS)
def test_kill_at_each_install_step_then_resume(lab, kiosk, step):
    root, run = kiosk
    done = crash_install(lab, root, run, "2.0.0", step)
    assert done.returncode == -9, (done.returncode, done.stdout, done.stderr)

    updater = lab.updater(root, run)
    outcome = updater.resume()
    current = assert_consistent(updater, root, run, "1.0.0", "2.0.0")
    if step in PRE_SWITCH_STEPS:
        assert outcome.status == "aborted" and outcome.reason is ReasonCode.INTERRUPTED
        assert current == "1.0.0"
        assert app_version(run, timeout=0) == "none"  # the running app was never touched
        # The retained desired state is applied again and goes through (download kept/resumed).
        assert updater.apply(lab.request("2.0.0")).status == "committed"
        current = assert_consistent(updater, root, run, "1.0.0", "2.0.0")
    elif step == "committed":
        assert outcome is None  # already committed; resume only tidied up
    else:
        assert outcome.status == "committed", outcome
    assert current == "2.0.0" and app_version(run) == "2.0.0"
    assert updater.resume() is None  # idempotent


@pytest.mark.parametrize("step", ROLLBACK_CHECKPOINTS)
def test_kill_during_rollback_then_resume_finishes_it(lab, kiosk, step):
    root, run = kiosk
    done = crash_install(lab, root, run, "3.0.0", step, health_deadline_s=0.4)
    assert done.returncode == -9, (done.returncode, done.stdout, done.stderr)

    updater = lab.updater(root, run)
    outcome = updater.resume()
    assert outcome.status == "rolled_back" and outcome.reason is ReasonCode.UNHEALTHY
    assert assert_consistent(updater, root, run, "1.0.0", "3.0.0") == "1.0.0"
    assert app_version(run) == "1.0.0"


def test_repeated_power_cuts_after_the_switch_end_in_rollback(lab, kiosk):
    """A release that takes the kiosk down with it every time is not retried for ever."""
    root, run = kiosk
    assert crash_install(lab, root, run, "2.0.0", "restarted", max_health_attempts=1).returncode == -9
    updater = lab.updater(root, run, config={"max_health_attempts": 1})
    outcome = updater.resume()
    assert outcome.status == "rolled_back" and outcome.reason is ReasonCode.INTERRUPTED
    assert assert_consistent(updater, root, run, "1.0.0", "2.0.0") == "1.0.0"
    assert app_version(run) == "1.0.0"
