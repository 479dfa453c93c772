"""Health probes: did the restarted kiosk app come up as the new release, healthy?

A probe must confirm the *version* it talks to, not just "healthy": right after a
restart the old process may still be answering. In production the probe asks the kiosk
control socket for its status (UI up, devices supervised, socket answering); plug it in
with `CallableProbe(lambda version: ...)` or any object with ``check(expected_version)``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from pydantic import BaseModel


class HealthReport(BaseModel):
    healthy: bool
    answered: bool = True  # False: nothing answered (not started, crashed, socket closed)
    version: str | None = None
    detail: str = ""


@runtime_checkable
class HealthProbe(Protocol):
    def check(self, expected_version: str) -> HealthReport: ...


class CallableProbe:
    """Wraps ``fn(expected_version) -> bool | HealthReport``; exceptions count as no answer."""

    def __init__(self, fn: Callable[[str], bool | HealthReport]) -> None:
        self._fn = fn

    def check(self, expected_version: str) -> HealthReport:
        try:
            result = self._fn(expected_version)
        except Exception as exc:  # a probe must never break the installer
            return HealthReport(healthy=False, answered=False, detail=f"probe error: {type(exc).__name__}: {exc}")
        if isinstance(result, HealthReport):
            return result
        return HealthReport(healthy=bool(result), version=expected_version if result else None)


class CommandProbe:
    """Runs argv (``{version}`` replaced); exit 0 = healthy, its output is the detail."""

    def __init__(self, argv: list[str], timeout_s: float = 10.0) -> None:
        self.argv, self.timeout_s = argv, timeout_s

    def check(self, expected_version: str) -> HealthReport:
        argv = [a.replace("{version}", expected_version) for a in self.argv]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return HealthReport(healthy=False, answered=False, detail=f"probe command: {type(exc).__name__}")
        detail = (done.stdout or done.stderr).strip()[-200:]
        return HealthReport(healthy=done.returncode == 0, version=expected_version if done.returncode == 0 else None, detail=detail)


class StatusFileProbe:
    """Reads a JSON status file the app writes: ``{"version": ..., "healthy": ..., "detail": ...}``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def check(self, expected_version: str) -> HealthReport:
        try:
            status = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return HealthReport(healthy=False, answered=False, detail="no status yet")
        version = str(status.get("version", ""))
        if version != expected_version:
            return HealthReport(healthy=False, answered=False, version=version, detail=f"status is from {version or 'unknown'}")
        return HealthReport(healthy=bool(status.get("healthy")), version=version, detail=str(status.get("detail", ""))[:200])


class ControlStatusProbe:
    """Asks the kiosk control socket (``client.status()`` → `fleet.protocol.control.AppStatus`).

    Healthy = the socket answers, ``app_version`` is the expected version, the device
    supervisor reports devices (UI up, devices supervised), and none of
    `required_devices` (kind names) is absent. A device in fault (paper out) does not
    fail an update: that is the device, not the release. `client` is e.g.
    `fleet.agent.control_client.ControlClient`; any exception counts as no answer.
    """

    def __init__(self, client, required_devices: set[str] | frozenset[str] = frozenset()) -> None:
        self.client = client
        self.required_devices = set(required_devices)

    def check(self, expected_version: str) -> HealthReport:
        try:
            status = self.client.status()
        except Exception as exc:
            return HealthReport(healthy=False, answered=False, detail=f"control socket: {type(exc).__name__}")
        version = str(getattr(status, "app_version", "") or "")
        if version != expected_version:
            return HealthReport(healthy=False, answered=False, version=version, detail=f"control socket answers as {version or 'unknown'}")
        devices = {str(getattr(d.kind, "value", d.kind)): str(getattr(d.state, "value", d.state)) for d in status.devices}
        if not devices:
            return HealthReport(healthy=False, version=version, detail="no devices supervised yet")
        absent = sorted(k for k in self.required_devices if devices.get(k, "absent") == "absent")
        if absent:
            return HealthReport(healthy=False, version=version, detail=f"required device(s) absent: {', '.join(absent)}")
        summary = ", ".join(f"{k}={v}" for k, v in sorted(devices.items()))
        return HealthReport(healthy=True, version=version, detail=summary)


def control_session_active(client) -> Callable[[], bool]:
    """Session gate from the control socket; an unreachable app raises (= assume a session)."""
    return lambda: bool(client.status().session_active)


def wait_healthy(
    probe: HealthProbe,
    expected_version: str,
    deadline_s: float,
    interval_s: float = 1.0,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthReport:
    """Poll until healthy or the deadline; returns the healthy report or the last one seen.

    An unhealthy answer does not end the wait early: a starting app may say "devices not
    yet supervised" for a while.
    """
    end = monotonic() + deadline_s
    while True:
        report = probe.check(expected_version)
        if report.healthy:
            return report
        left = end - monotonic()
        if left <= 0:
            return report
        sleep(min(interval_s, left))
