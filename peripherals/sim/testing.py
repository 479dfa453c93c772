"""Helpers for tests that run a driver against a simulator on a real pty (`PtyHost`)."""

from __future__ import annotations

import os
import time

from peripherals.sim.host import PtyHost


def replug_when_gone(host: PtyHost, timeout: float = 2.0) -> None:
    """Replug `host` once its own unplug has finished.

    A simulated unplug runs on the host's thread, which closes the pty and removes the
    link a moment after the driver sees the port die; a replug before that would race it.
    """
    deadline = time.monotonic() + timeout
    while os.path.lexists(host.port) and time.monotonic() < deadline:
        time.sleep(0.01)
    host.replug()
