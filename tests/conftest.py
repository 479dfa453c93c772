"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import tempfile

import pytest

from peripherals.sim import registry
from peripherals.sim.host import PtyHost


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
