"""Health probes: the control-socket probe against the real socket server and client."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fleet.protocol.control import AppStatus
from fleet.protocol.messages import DeviceHealth, DeviceKind, DeviceState
from fleet.updates.gating import install_blocker
from fleet.updates.health import CallableProbe, CommandProbe, ControlStatusProbe, HealthReport, control_session_active, wait_healthy
from fleet.updates.models import ReasonCode


class AppState:
    """The app's side: what its status() answers (a ControlHandler with only status)."""

    def __init__(self) -> None:
        self.status_value = AppStatus(app_version="2.0.0")

    async def status(self) -> AppStatus:
        return self.status_value


@pytest.fixture
def control(tmp_path):
    from fleet.agent.control_client import ControlClient
    from kiosk.control import ControlServer

    app = AppState()
    path = tmp_path / "control.sock"
    loop = asyncio.new_event_loop()
    server = ControlServer(path, app)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    yield app, ControlClient(path, timeout=2.0), server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def devices(**states: DeviceState) -> list[DeviceHealth]:
    return [DeviceHealth(kind=DeviceKind(kind), state=state) for kind, state in states.items()]


def test_control_probe_needs_the_new_version_and_supervised_devices(control):
    app, client, _ = control
    probe = ControlStatusProbe(client, required_devices={"idcard"})
    report = probe.check("2.0.0")
    assert not report.healthy and report.answered and "no devices" in report.detail
    app.status_value = AppStatus(app_version="2.0.0", devices=devices(idcard="absent", printer="fault"))
    report = probe.check("2.0.0")
    assert not report.healthy and "idcard" in report.detail
    app.status_value = AppStatus(app_version="2.0.0", devices=devices(idcard="ready", printer="fault"))
    report = probe.check("2.0.0")
    assert report.healthy and "printer=fault" in report.detail  # a device fault is not the release's
    report = probe.check("3.0.0")  # the old process still answering
    assert not report.healthy and not report.answered and "2.0.0" in report.detail


def test_control_probe_without_a_socket_is_no_answer(control, tmp_path):
    from fleet.agent.control_client import ControlClient

    report = ControlStatusProbe(ControlClient(tmp_path / "nothing.sock", timeout=0.2)).check("2.0.0")
    assert not report.healthy and not report.answered and "ControlUnavailable" in report.detail


def test_session_gate_from_the_control_socket(control, tmp_path):
    app, client, _ = control
    gate = control_session_active(client)
    from datetime import datetime

    assert install_blocker([], datetime.now, gate) is None
    app.status_value = AppStatus(app_version="2.0.0", session_active=True)
    assert install_blocker([], datetime.now, gate)[0] is ReasonCode.SESSION_ACTIVE
    from fleet.agent.control_client import ControlClient

    unreachable = control_session_active(ControlClient(tmp_path / "nothing.sock", timeout=0.2))
    reason, detail = install_blocker([], datetime.now, unreachable)
    assert reason is ReasonCode.SESSION_ACTIVE and "assuming" in detail


def test_wait_healthy_keeps_polling_until_the_deadline():
    answers = iter([HealthReport(healthy=False, detail="starting")] * 3 + [HealthReport(healthy=True, detail="up")])
    clock = [0.0]
    report = wait_healthy(CallableProbe(lambda v: next(answers)), "1", deadline_s=10, interval_s=1,
                          monotonic=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert report.healthy and clock[0] == 3.0
    report = wait_healthy(CallableProbe(lambda v: 1 / 0), "1", deadline_s=2, interval_s=1,
                          monotonic=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert not report.healthy and not report.answered and "ZeroDivisionError" in report.detail


def test_command_probe(tmp_path):
    import sys

    ok = CommandProbe([sys.executable, "-c", "import sys; print('fine', sys.argv[1])", "{version}"]).check("2.0.0")
    assert ok.healthy and ok.detail == "fine 2.0.0"
    bad = CommandProbe([sys.executable, "-c", "import sys; sys.exit('camera missing')"]).check("2.0.0")
    assert not bad.healthy and bad.detail == "camera missing"
    assert not CommandProbe(["/nonexistent/probe"]).check("2.0.0").answered
