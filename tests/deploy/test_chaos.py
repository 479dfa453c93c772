"""Half a minute of chaos (tests/deploy/chaos.py): no session lost or doubled, no orphan, and the
fleet sees the kiosk as it is. bench/chaos.py runs the same for minutes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .chaos import run_chaos

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"),
                                reason="mosquitto is not installed")


@pytest.mark.timeout(240)
def test_chaos_loses_nothing_doubles_nothing_and_leaves_no_orphan():
    with tempfile.TemporaryDirectory(prefix="chaos-", dir="/tmp") as tmp:  # short: unix socket paths
        counts = run_chaos(Path(tmp), seconds=30, seed=7)
    print(counts.line())
    assert counts.sessions >= 3 and counts.completed >= 1, counts.line()
    assert (counts.lost, counts.doubled, counts.orphans) == (0, 0, 0), counts.line()
    assert counts.fleet_online, counts.line()
