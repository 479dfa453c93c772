"""Commands and desired config through a real broker to a real agent process and the
app's control socket: MQTT 5 correlation, ack then result, idempotency, expiry."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import timedelta

from fleet.protocol import (
    Channel,
    Command,
    CommandResult,
    CommandStatus,
    ConfigDesired,
    ConfigReported,
    ConfigStatus,
    Presence,
    command_outgoing,
    correlation_id,
    decode,
    kiosk_topic,
    outgoing,
    utcnow,
)
from fleet.protocol.control import read_config_file

A = "kiosk-a"
RES = kiosk_topic(A, Channel.CMD_RES)


def online_agent(mqtt_probe, agent_process, **settings):
    server = mqtt_probe()
    server.subscribe(kiosk_topic(A, Channel.STATUS))
    server.subscribe(RES)
    server.subscribe(kiosk_topic(A, Channel.CONFIG_REPORTED))
    agent = agent_process(A, **settings)
    server.wait_for(kiosk_topic(A, Channel.STATUS), lambda m: m.payload and decode(Presence, m.payload).online,
                    timeout=10)
    return server, agent


def results_for(server, command_id: uuid.UUID, count: int = 1, timeout: float = 10.0) -> list[CommandResult]:
    msgs = server.wait_for(RES, lambda m: correlation_id(m.properties) == command_id, count=count, timeout=timeout)
    return [decode(CommandResult, m.payload) for m in msgs]


def final(server, command_id: uuid.UUID, timeout: float = 10.0) -> CommandResult:
    msgs = server.wait_for(RES, lambda m: correlation_id(m.properties) == command_id
                           and decode(CommandResult, m.payload).status.final, timeout=timeout)
    return decode(CommandResult, msgs[0].payload)


def test_self_test_round_trip_with_ack_and_correlation(mqtt_probe, kiosk_app, agent_process):
    server, _ = online_agent(mqtt_probe, agent_process)
    cmd = Command(kiosk_id=A, name="self_test", args={"device": "printer"})
    out = command_outgoing(cmd)
    assert out.properties.ResponseTopic == RES and out.properties.MessageExpiryInterval >= 299
    server.send(out)
    result = final(server, cmd.id)
    statuses = [r.status for r in results_for(server, cmd.id, count=2)]
    assert statuses == [CommandStatus.ACCEPTED, CommandStatus.SUCCEEDED]
    assert result.id == cmd.id and result.kiosk_id == A
    assert [r["kind"] for r in result.payload["results"]] == ["printer"]
    assert kiosk_app.handler.calls["self_test"] == 1


def test_same_command_id_runs_once_and_gets_the_same_answer(mqtt_probe, kiosk_app, agent_process):
    server, _ = online_agent(mqtt_probe, agent_process)
    cmd = Command(kiosk_id=A, name="set_out_of_service", args={"enabled": True, "reason": "paper jam"})
    server.send(command_outgoing(cmd))
    first = final(server, cmd.id)
    server.send(command_outgoing(cmd))  # a retry by the server, e.g. after it restarted
    answers = results_for(server, cmd.id, count=3)
    assert [a.status for a in answers] == [CommandStatus.ACCEPTED, CommandStatus.SUCCEEDED, CommandStatus.SUCCEEDED]
    assert answers[2].detail == first.detail and answers[2].payload == {"out_of_service": True}
    assert kiosk_app.handler.calls["set_out_of_service"] == 1
    assert kiosk_app.handler.out_of_service is True


def test_an_expired_command_is_refused_as_expired_and_not_run(mqtt_probe, kiosk_app, agent_process):
    server, _ = online_agent(mqtt_probe, agent_process)
    now = utcnow()
    cmd = Command(kiosk_id=A, name="set_out_of_service", args={"enabled": True},
                  issued_at=now - timedelta(minutes=10), expires_at=now - timedelta(minutes=5))
    server.send(command_outgoing(cmd))  # expiry interval floors at 1 s: the broker still delivers it
    result = final(server, cmd.id)
    assert result.status is CommandStatus.EXPIRED
    assert [r.status for r in results_for(server, cmd.id)] == [CommandStatus.EXPIRED]  # no "accepted"
    assert kiosk_app.handler.calls["set_out_of_service"] == 0


def test_the_broker_drops_a_command_that_expired_while_the_kiosk_was_away(mqtt_probe, kiosk_app, agent_process):
    server, agent = online_agent(mqtt_probe, agent_process)
    warmup = Command(kiosk_id=A, name="self_test", args={"device": "bp"})
    server.send(command_outgoing(warmup))
    final(server, warmup.id)
    agent.stop()  # the broker keeps the agent's session (session expiry) and queues for it
    stale = Command(kiosk_id=A, name="set_out_of_service", args={"enabled": True},
                    expires_at=utcnow() + timedelta(seconds=1))
    fresh = Command(kiosk_id=A, name="self_test", args={"device": "bp"})
    server.send(command_outgoing(stale))
    server.send(command_outgoing(fresh))
    time.sleep(2.2)  # the stale one's Message Expiry Interval (1 s, rounded up) passes
    agent.start()
    assert final(server, fresh.id).status is CommandStatus.SUCCEEDED  # queued, delivered after reconnect
    time.sleep(0.3)
    assert server.received(RES, lambda m: correlation_id(m.properties) == stale.id) == []
    assert kiosk_app.handler.calls["set_out_of_service"] == 0


def test_screenshot_is_refused_while_a_citizen_session_is_on_screen(mqtt_probe, kiosk_app, agent_process):
    server, _ = online_agent(mqtt_probe, agent_process)
    kiosk_app.handler.begin_session("renew_licence")
    refused = Command(kiosk_id=A, name="screenshot")
    server.send(command_outgoing(refused))
    assert final(server, refused.id).status is CommandStatus.REFUSED
    assert kiosk_app.handler.calls["screenshot"] == 0

    kiosk_app.handler.end_session("renew_licence", completed=True)
    shot = Command(kiosk_id=A, name="screenshot")
    server.send(command_outgoing(shot))
    result = final(server, shot.id)
    assert result.status is CommandStatus.SUCCEEDED and result.data_type == "image/png"
    assert result.data.startswith(b"\x89PNG\r\n\x1a\n")
    raw = server.received(RES, lambda m: correlation_id(m.properties) == shot.id)[-1].payload
    assert base64.b64encode(result.data).decode() in raw.decode()  # base64 on the wire


def test_fetch_logs_comes_back_redacted(mqtt_probe, kiosk_app, agent_process):
    import logging

    server, _ = online_agent(mqtt_probe, agent_process)
    log = logging.getLogger("kiosk.test")
    log.warning("card read for name=张三 id 110101199003071234 phone 13812345678")
    log.warning("printer paper near end")
    cmd = Command(kiosk_id=A, name="fetch_logs", args={"lines": 50})
    server.send(command_outgoing(cmd))
    result = final(server, cmd.id)
    assert result.status is CommandStatus.SUCCEEDED
    text = "\n".join(result.payload["lines"])
    assert "printer paper near end" in text
    for secret in ("张三", "110101199003071234", "13812345678"):
        assert secret not in text


def test_reboot_and_restart_app_run_their_hooks(mqtt_probe, kiosk_app, agent_process, tmp_path):
    marker = tmp_path / "restarted"
    server, _ = online_agent(mqtt_probe, agent_process,
                             restart_app_command=f'["touch", "{marker}"]', reboot_command='["false"]')
    restart = Command(kiosk_id=A, name="restart_app")
    server.send(command_outgoing(restart))
    assert final(server, restart.id).status is CommandStatus.SUCCEEDED and marker.exists()
    reboot = Command(kiosk_id=A, name="reboot")
    server.send(command_outgoing(reboot))
    failed = final(server, reboot.id)
    assert failed.status is CommandStatus.FAILED and "exit 1" in failed.detail


def test_config_desired_is_applied_and_reported(mqtt_probe, kiosk_app, agent_process):
    server, agent = online_agent(mqtt_probe, agent_process)
    reported = kiosk_topic(A, Channel.CONFIG_REPORTED)
    good = ConfigDesired(kiosk_id=A, version=1, settings={"volume": 30, "heartbeat_interval_s": 15})
    server.send(outgoing(good))
    report = decode(ConfigReported, server.wait_for(reported, timeout=10)[0].payload)
    assert (report.version, report.status, report.applied_version) == (1, ConfigStatus.APPLIED, 1)
    assert kiosk_app.handler.config_version == 1 and kiosk_app.handler.settings.volume == 30
    assert read_config_file(agent.config_path).version == 1

    bad = ConfigDesired(kiosk_id=A, version=2, settings={"volume": 500, "colour": "red"})
    server.send(outgoing(bad))
    msgs = server.wait_for(reported, lambda m: decode(ConfigReported, m.payload).version == 2, timeout=10)
    rejected = decode(ConfigReported, msgs[0].payload)
    assert rejected.status is ConfigStatus.REJECTED and rejected.applied_version == 1
    assert "volume" in rejected.reason and "colour" in rejected.reason and "500" not in rejected.reason
    assert kiosk_app.handler.config_version == 1 and read_config_file(agent.config_path).version == 1

    # reported state is retained: the server learns it after its own restart
    late = mqtt_probe()
    late.subscribe(reported)
    assert decode(ConfigReported, late.wait_for(reported, timeout=5)[0].payload).version == 2

    # apply_config as a command takes the same path and answers on both channels
    cmd = Command(kiosk_id=A, name="apply_config", args={"version": 3, "settings": {"language": "en"}})
    server.send(command_outgoing(cmd))
    assert final(server, cmd.id).status is CommandStatus.SUCCEEDED
    assert kiosk_app.handler.config_version == 3 and kiosk_app.handler.settings.language == "en"


def test_without_the_app_the_agent_still_reports_and_falls_back_to_the_journal(mqtt_probe, agent_process, tmp_path):
    from fleet.protocol import Health

    journal = tmp_path / "journal.sh"
    journal.write_text("#!/bin/sh\necho \"kiosk crashed serving 13812345678 ($1 lines)\"\n")
    journal.chmod(0o755)
    server = mqtt_probe()
    server.subscribe(kiosk_topic(A, Channel.HEALTH))
    server.subscribe(RES)
    agent_process(A, control_socket=tmp_path / "no-app.sock", logs_command=f'["{journal}", "{{lines}}"]')
    health = decode(Health, server.wait_for(kiosk_topic(A, Channel.HEALTH), timeout=10)[0].payload)
    assert not health.app_reachable and health.devices == [] and health.system.memory_total_bytes > 0

    shot = Command(kiosk_id=A, name="screenshot")
    server.send(command_outgoing(shot))
    failed = final(server, shot.id)
    assert failed.status is CommandStatus.FAILED and "not answering" in failed.detail

    logs = Command(kiosk_id=A, name="fetch_logs", args={"lines": 5})
    server.send(command_outgoing(logs))
    result = final(server, logs.id)
    assert result.status is CommandStatus.SUCCEEDED
    assert result.payload["lines"] == ["kiosk crashed serving [redacted] (5 lines)"]
