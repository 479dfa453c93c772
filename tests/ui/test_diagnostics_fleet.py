"""The diagnostics screen's out-of-service switch and staff actions reach the fleet.

The Kivy app (headless, simulators under a real Supervisor) serves its control socket;
a real agent process (`python -m fleet.agent`) polls it and publishes to a real Mosquitto
with the shipped TLS + ACL config. The fixtures are the fleet tests' own
(tests/fleet/conftest.py: fleet_pki, mosquitto, mqtt_probe, agent_process), loaded from
that file because test directories are not packages here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fleet.agent.control_client import ControlClient
from fleet.protocol import Channel, Event, EventKind, Health, decode, kiosk_filter, kiosk_topic
from kiosk.app import KioskOptions, create_app

from .diagnostics_support import SimKiosk, login, make_diagnostics, screenshot, text_of


def _fleet_conftest():
    path = Path(__file__).resolve().parents[1] / "fleet" / "conftest.py"
    spec = importlib.util.spec_from_file_location("fleet_fixtures_for_diagnostics", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fleet = _fleet_conftest()
fleet_pki, mosquitto, mqtt_probe, agent_process = (_fleet.fleet_pki, _fleet.mosquitto, _fleet.mqtt_probe,
                                                   _fleet.agent_process)
A = _fleet.KIOSK_A
HEALTH = kiosk_topic(A, Channel.HEALTH)
EVENTS = kiosk_topic(A, Channel.EVENTS)


@pytest.fixture
def devices():
    kiosk = SimKiosk()
    yield kiosk
    kiosk.stop()


def health(out_of_service: bool):
    def match(m) -> bool:
        h = decode(Health, m.payload)
        return h.app_reachable and h.out_of_service is out_of_service
    return match


def staff_event(action: str):
    def match(m) -> bool:
        e = decode(Event, m.payload)
        return e.kind is EventKind.STAFF_ACTION and e.action == action
    return match


def out_of_service_changed(m) -> bool:
    return decode(Event, m.payload).kind is EventKind.OUT_OF_SERVICE_CHANGED


def test_out_of_service_switch_reaches_the_agents_health_and_staff_actions_the_fleet(
        kivy_ui, tmp_path, devices, mqtt_probe, agent_process, artifacts):
    diag = make_diagnostics(tmp_path / "state", devices.supervisor)
    app = kivy_ui.start(create_app(KioskOptions(voice=False), [], diagnostics=diag))
    socket = tmp_path / "run" / "control.sock"
    diag.serve(socket)
    server = mqtt_probe()
    server.subscribe(kiosk_filter(Channel.HEALTH))
    server.subscribe(kiosk_filter(Channel.EVENTS))
    agent = agent_process(A, control_socket=socket)
    try:
        server.wait_for(HEALTH, health(False), timeout=15)

        login(kivy_ui, diag)
        kivy_ui.tap("diag.tab.service")
        kivy_ui.tap("diag.service.take_out")
        assert "暂停服务" in text_of(kivy_ui, "diag.service.state")
        h = decode(Health, server.wait_for(HEALTH, health(True), timeout=10)[-1].payload)
        assert h.out_of_service_reason == "maintenance"
        for action in ("login", "out_of_service_on"):
            server.wait_for(EVENTS, staff_event(action), timeout=10)
        # the change event travels on its own; wait for it rather than read what came so far
        server.wait_for(EVENTS, out_of_service_changed, timeout=10)

        kivy_ui.tap("diag.exit")
        kivy_ui.wait_screen("out_of_service")
        server.wait_for(EVENTS, staff_event("logout"), timeout=10)
        changed = [decode(Event, m.payload) for m in server.received(EVENTS, out_of_service_changed)]
        assert [e.count for e in changed] == [1]  # once, by the time staff had logged out

        # the fleet's command path: the agent calls the same control request; the attract screen follows
        ControlClient(socket, timeout=5).set_out_of_service(False)
        kivy_ui.wait_screen("home")
        server.wait_for(HEALTH, health(False), timeout=10)
        screenshot(kivy_ui, artifacts / "diagnostics", "12-back-in-service-zh")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- agent log ---\n{agent.log()[-3000:]}") from None
    finally:
        agent.stop()
        diag.close()
    assert app.out_of_service_reason is None
