"""The kiosk app's control socket (`kiosk.control`) as the agent's `ControlClient`
sees it, over a real unix socket, with a handler over simulated devices; and the
agent's config applier against it."""

from __future__ import annotations

import json
import socket

import pytest

from fleet.agent.config import ConfigApplier
from fleet.agent.control_client import ControlClient, ControlRequestFailed, ControlUnavailable
from fleet.agent.system import system_health
from fleet.protocol import DeviceKind, EventKind
from fleet.protocol.control import ControlError, FleetConfigFile, KioskSettings, write_config_file
from kiosk.control import placeholder_screenshot


@pytest.fixture
def client(kiosk_app) -> ControlClient:
    return ControlClient(kiosk_app.socket, timeout=5)


def raw(kiosk_app, line: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(kiosk_app.socket))
        s.sendall(line)
        return json.loads(s.makefile("rb").readline())


def test_status_lists_devices_without_local_details(client, kiosk_app):
    status = client.status()
    assert status.app_version == "1.2.3" and not status.session_active
    printer = next(d for d in status.devices if d.kind is DeviceKind.PRINTER)
    assert printer.state.value == "ready" and printer.consumables == {"paper": "ok"} and printer.model
    assert oct(kiosk_app.socket.stat().st_mode & 0o777) == "0o660"


def test_self_test_one_device_or_all(client):
    one = client.self_test(DeviceKind.BP)
    assert [r.kind for r in one.results] == [DeviceKind.BP] and one.passed
    every = client.self_test()
    assert {r.kind for r in every.results} == {DeviceKind.BP, DeviceKind.PRINTER}
    with pytest.raises(ControlRequestFailed) as refused:
        client.self_test(DeviceKind.EYE)  # not fitted on this kiosk
    assert refused.value.refused


def test_screenshot_refused_during_a_citizen_session_even_if_the_handler_forgot(client, kiosk_app):
    kiosk_app.handler.session_active = True
    kiosk_app.handler.screenshot_source = lambda: pytest.fail("screen grabbed during a session")
    with pytest.raises(ControlRequestFailed) as refused:
        client.screenshot()
    assert refused.value.error is ControlError.REFUSED
    kiosk_app.handler.session_active = False
    kiosk_app.handler.screenshot_source = placeholder_screenshot
    assert client.screenshot().png.startswith(b"\x89PNG")


def test_out_of_service_round_trip_and_event(client, kiosk_app):
    assert client.set_out_of_service(True, "paper jam").out_of_service
    assert client.status().out_of_service_reason == "paper jam"
    assert not client.set_out_of_service(False).out_of_service
    kinds = [e.kind for e in client.events("", 0).events]
    assert kinds.count(EventKind.OUT_OF_SERVICE_CHANGED) == 2


def test_recent_logs_are_redacted_by_the_app(client, kiosk_app):
    import logging

    logging.getLogger("kiosk.flow").warning("renewal for 姓名：张三 tel 13812345678")
    lines = client.recent_logs(20).lines
    assert any("renewal for" in line for line in lines)
    assert not any("张三" in line or "13812345678" in line for line in lines)


def test_events_cursor_acknowledges_and_survives_an_app_restart(client, kiosk_app):
    buffer = kiosk_app.handler.event_buffer
    first = [buffer.record(EventKind.TEST, count=i) for i in range(3)]
    batch = client.events("", 0)
    assert [e.count for e in batch.events if e.kind is EventKind.TEST] == [0, 1, 2]
    last = max(e.seq for e in batch.events)
    assert client.events(batch.instance, last).events == []  # acknowledged and forgotten
    assert buffer.pending() == 0
    # a cursor from another app instance never drops this instance's events
    buffer.record(EventKind.TEST, count=9)
    again = client.events("an-earlier-run", 10_000)
    assert [e.count for e in again.events] == [9] and first[0].id != again.events[0].id


def test_bad_requests_are_answered_without_echoing_them(kiosk_app):
    for line in (b"not json\n", b'{"op":"format_disk"}\n', b'{"op":"self_test","device":"110101199003071234"}\n'):
        answer = raw(kiosk_app, line)
        assert answer["ok"] is False and answer["error"] == "bad_request"
        assert "110101199003071234" not in json.dumps(answer)


def test_an_absent_app_is_unavailable_not_an_error(tmp_path):
    with pytest.raises(ControlUnavailable):
        ControlClient(tmp_path / "nobody.sock", timeout=0.5).status()


def test_config_apply_writes_reloads_and_reports(client, kiosk_app, tmp_path):
    applier = ConfigApplier("kiosk-a", kiosk_app.handler.config_path, client)
    report = applier.apply(4, {"volume": 20})
    assert report.status.value == "applied" and kiosk_app.handler.config_version == 4
    rejected = applier.apply(5, {"volume": "loud"})
    assert rejected.status.value == "rejected" and rejected.applied_version == 4 and "loud" not in rejected.reason
    # the app itself refuses what it reads: the agent puts the last good file back
    kiosk_app.handler.config_path = tmp_path / "elsewhere.json"
    write_config_file(tmp_path / "elsewhere.json", FleetConfigFile(version=1, settings=KioskSettings()))
    refused = applier.apply(6, {"volume": 25})
    assert refused.status.value == "rejected" and applier.applied_version == 4
    kiosk_app.handler.config_path = applier.path
    assert FleetConfigFile.model_validate_json(applier.path.read_bytes()).version == 4


def test_system_health_reads_the_host():
    health = system_health("/")
    assert health.disk_total_bytes > health.disk_free_bytes > 0
    assert health.memory_total_bytes >= health.memory_available_bytes > 0 and health.cpu_count >= 1


def test_device_events_only_when_a_device_really_changes():
    """Every operation passes BUSY -> READY; only real changes are news for the fleet."""
    from peripherals.base import DeviceKind as Kind, DeviceState as State, DeviceStatus

    from kiosk.control import BasicControlHandler

    handler = BasicControlHandler()
    sequence = [State.READY, State.BUSY, State.READY, State.BUSY, State.READY, State.FAULT, State.FAULT, State.READY]
    for state in sequence:
        reason = "paper_out" if state is State.FAULT else ""
        handler._device_changed(DeviceStatus(kind=Kind.PRINTER, state=state, reason=reason))
    events = handler.event_buffer.fetch(handler.event_buffer.instance, 0, 100).events
    assert [(str(e.state), e.reason) for e in events] == [("ready", ""), ("fault", "paper_out"), ("ready", "")]
