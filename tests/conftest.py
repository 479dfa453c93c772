"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import tempfile

import pytest

from peripherals.sim import registry
from peripherals.sim.host import PtyHost


# The files whose tests take longest (`--durations`), run first: with `--dist loadfile` each file
# goes to one worker in collection order, and one of these started last keeps the whole run
# waiting on one core while the other has finished.
LONGEST_FIRST = (
    "tests/ui/test_leaks.py",
    "tests/flows/test_crash_renewal.py",
    "tests/ui/test_audit_script.py",
    "tests/ui/test_renewal_ui.py",
    "tests/ui/test_keypad_path.py",
    "tests/deploy/test_chaos.py",
    "tests/ui/test_virtual_fleet.py",
    "tests/flows/test_outbox_offline.py",
    "tests/fleet/test_console_rollouts_browser.py",
    "tests/ui/test_layout.py",
    "tests/flows/test_runflow.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    root = str(config.rootpath)

    def key(item) -> int:
        path = str(item.path)[len(root) + 1:] if str(item.path).startswith(root) else str(item.path)
        return rank.get(path, len(rank))

    items.sort(key=key)  # stable: every other file keeps its order, and tests their order in a file


@pytest.fixture(autouse=True)
def _fresh_named_simulators():
    """Each test starts with no named `sim://` simulators left over from another."""
    registry.forget()
    yield
    registry.forget()


@pytest.fixture
def pty_sim():
    """Factory: start simulator KIND on a real pseudo-terminal; returns the PtyHost.

    `host.port` is the path to open, `host.sim` the simulator (inject faults, insert
    cards ...). Hosts are stopped after the test. `link=True` gives a stable symlink that
    survives `host.unplug()` / `host.replug()`.
    """
    hosts: list[PtyHost] = []
    tmp = tempfile.mkdtemp(prefix="kiosk-pty-")

    def start(kind: str, faults: str | None = None, baudrate: int | None = 115200, link: bool = False, **options):
        sim = registry.create(kind, faults, **options)
        host = PtyHost(sim, baudrate=baudrate, link=os.path.join(tmp, f"tty-{kind}-{len(hosts)}") if link else None)
        hosts.append(host)
        return host

    yield start
    for h in hosts:
        h.stop()
