"""The kiosk agent: presence, health, events, commands and configuration over MQTT 5.

Threads:
- paho's network thread (``loop_start``): reconnects with backoff, runs the callbacks,
  which only hand work to the threads below (a callback that blocks stalls the link);
- the outbox thread: the only one that moves rows from the SQLite outbox into paho and
  deletes them on PUBACK. paho calls ``on_publish`` holding its own message lock, so the
  outbox state is owned by one thread fed through a queue, never shared under a lock;
- the work thread: commands, desired config and desired update, one at a time;
- the update thread (`fleet.agent.updates.UpdateWorker`): `Updater.resume()` at start,
  then installs desired updates (minutes of download, pip, restart, health wait) without
  holding up the work thread;
- the caller's thread (`run`): polls the app's control socket for status and events,
  publishes health on change and on an interval.

Presence: every connection gets a new session number (persisted, strictly increasing);
the birth is published retained right after CONNACK and the will carries the same
number. The birth is re-published with every periodic health message, so a late will
from an older session that overwrote the retained status is corrected within one interval.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from typing import TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from fleet.agent.commands import CommandRunner, Outcome
from fleet.agent.config import ConfigApplier
from fleet.agent.control_client import ControlClient, ControlRequestFailed, ControlUnavailable
from fleet.agent.mqtt import make_client
from fleet.agent.settings import AGENT_VERSION, AgentSettings
from fleet.agent.store import AgentStore
from fleet.agent.system import system_health
from fleet.agent.updates import ANSWERED_KEY, UpdateWorker
from fleet.protocol.codec import correlation_id, decode, encode, outgoing, result_outgoing, will_for
from fleet.protocol.control import AppStatus
from fleet.protocol.messages import (
    Command,
    CommandName,
    CommandResult,
    CommandStatus,
    ConfigDesired,
    ConfigReported,
    ConfigStatus,
    Event,
    EventKind,
    Health,
    Presence,
    UpdateDesired,
    UpdateReported,
    utcnow,
)
from fleet.protocol.topics import KIOSK_SUBSCRIBES, Channel, kiosk_topic, parse_kiosk_topic

log = logging.getLogger(__name__)
T = TypeVar("T")


class Agent:
    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.kiosk_id = settings.kiosk_id
        self.store = AgentStore(settings.db_path)
        self.control = ControlClient(settings.control_socket)
        self.config = ConfigApplier(
            self.kiosk_id, settings.kiosk_config_path, self.control, int(self.store.get("config_applied", "0"))
        )
        self.runner = CommandRunner(
            self.control,
            self.config,
            reboot_command=settings.reboot_command,
            restart_app_command=settings.restart_app_command,
            logs_command=settings.logs_command,
            hook_timeout_s=settings.hook_timeout_s,
            on_config_reported=self._report_config,
        )
        self.client = make_client(
            self.kiosk_id,
            ca_file=settings.ca_file,
            cert_file=settings.cert_file,
            key_file=settings.key_file,
            reconnect_min_s=settings.reconnect_min_s,
            reconnect_max_s=settings.reconnect_max_s,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

        self.started = time.monotonic()
        self.birth: Presence | None = None
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._health_now = threading.Event()
        self._outbox_q: queue.Queue[tuple] = queue.Queue()
        self._work_q: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._app: AppStatus | None = None
        self._app_reachable: bool | None = None
        self._fingerprint: str = ""
        self._last_health = 0.0
        self.updates = UpdateWorker(
            settings,
            answered=self.store.get(ANSWERED_KEY),
            emit=self._report_update,
            app_version=lambda: self._app.app_version if self._app else self.settings.app_version_fallback,
        )

    # ================================================================ lifecycle
    def run(self) -> None:
        """Connect and serve until `stop()`; returns after a clean shutdown."""
        self._finish_interrupted_commands()
        self.store.forget_commands(self.settings.remember_commands_s)
        try:
            self._app = self.control.status()  # so the birth carries the app's version
        except (ControlUnavailable, ControlRequestFailed):
            self._app = None
        self._new_session()
        connect_props = Properties(PacketTypes.CONNECT)
        connect_props.SessionExpiryInterval = self.settings.session_expiry_s
        # clean_start=False: commands queued by the broker while we were away still arrive
        self.client.connect_async(
            self.settings.broker_host,
            self.settings.broker_port,
            keepalive=self.settings.keepalive_s,
            clean_start=False,
            properties=connect_props,
        )
        self._threads = [
            threading.Thread(target=self._outbox_loop, name="agent-outbox", daemon=True),
            threading.Thread(target=self._work_loop, name="agent-work", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.updates.start()  # resume() first; desired updates wait for it
        self.client.loop_start()
        self._emit(Event(kiosk_id=self.kiosk_id, kind=EventKind.AGENT_STARTED, detail=AGENT_VERSION))
        try:
            while not self._stop.is_set():
                try:
                    self._poll_app()
                except Exception:  # keep reporting presence and taking commands whatever broke
                    log.exception("polling the app failed")
                self._stop.wait(self.settings.poll_interval_s)
        finally:
            self._shutdown()

    def stop(self) -> None:
        self._stop.set()

    def _shutdown(self) -> None:
        if self._connected.is_set() and self.birth is not None:
            bye = self.birth.model_copy(update={"online": False, "reason": "shutdown"})
            try:
                outgoing(bye).publish(self.client).wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        self._work_q.put(None)
        self.updates.stop()
        for thread in self._threads[1:]:
            thread.join(5)
        self._outbox_q.put(("stop",))
        self._threads[0].join(5)
        self.store.close()

    # ================================================================ presence
    def _new_session(self) -> None:
        """A new session number for the next connection; the will must match the birth."""
        app_version = self._app.app_version if self._app else self.settings.app_version_fallback
        self.birth = Presence(
            kiosk_id=self.kiosk_id,
            online=True,
            session=self.store.next_session(),
            app_version=app_version,
            agent_version=AGENT_VERSION,
        )
        will = will_for(self.birth)
        self.client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain, properties=will.properties)

    def _publish_birth(self) -> None:
        if self.birth is not None:
            birth = self.birth.model_copy(update={"ts": utcnow()})
            outgoing(birth).publish(self.client)

    # ================================================================ paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            return
        log.info("connected (session %s, session present %s)", self.birth and self.birth.session, flags.session_present)
        self._publish_birth()
        client.subscribe([(kiosk_topic(self.kiosk_id, ch), SubscribeOptions(qos=1)) for ch in KIOSK_SUBSCRIBES])
        self._connected.set()
        self._outbox_q.put(("connected",))
        self._health_now.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._outbox_q.put(("disconnected",))
        if not self._stop.is_set():
            log.warning("disconnected: %s; reconnecting", reason_code)
            self._new_session()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._outbox_q.put(("ack", mid, reason_code))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._work_q.put(message)

    # ================================================================ outbox (outbox thread)
    def _emit(self, *messages, kv: dict[str, str] | None = None) -> None:
        """Queue messages durably (QoS 1, through the outbox)."""
        self.store.enqueue(*(m if hasattr(m, "topic") else outgoing(m) for m in messages), kv=kv)
        self._outbox_q.put(("new",))

    def _outbox_loop(self) -> None:
        inflight: dict[int, int] = {}  # paho mid -> outbox seq
        last_handed = 0  # rows up to here are in paho's hands (paho resends them after a reconnect)
        while True:
            try:
                item = self._outbox_q.get(timeout=0.5)
            except queue.Empty:
                item = ("tick",)
            if item[0] == "stop":
                return
            if item[0] == "ack":
                _, mid, reason_code = item
                seq = inflight.pop(mid, None)
                if seq is not None:
                    if reason_code.is_failure:
                        log.error("broker refused outbox message %s: %s; dropping it", seq, reason_code)
                    self.store.delete(seq)
            if not self._connected.is_set():
                continue
            room = self.settings.outbox_window - len(inflight)
            if room <= 0:
                continue
            for row in self.store.pending(after=last_handed, limit=room):
                try:
                    info = self.client.publish(row.topic, row.payload, row.qos, row.retain, row.properties)
                except ValueError as exc:
                    log.error("outbox message %s unpublishable (%s); dropping it", row.seq, exc)
                    self.store.delete(row.seq)
                    last_handed = row.seq
                    continue
                if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                    break
                inflight[info.mid] = row.seq
                last_handed = row.seq

    # ================================================================ incoming (work thread)
    def _work_loop(self) -> None:
        while True:
            message = self._work_q.get()
            if message is None:
                return
            try:
                _, channel = parse_kiosk_topic(message.topic)
                if channel is Channel.CMD_REQ:
                    self._handle_command(message)
                elif channel is Channel.CONFIG_DESIRED:
                    self._handle_config_desired(message)
                elif channel is Channel.UPDATE_DESIRED:
                    self._handle_update_desired(message)
            except Exception:
                log.exception("handling a message on %s failed", message.topic)

    def _send_result(self, result: CommandResult, request_properties=None) -> None:
        self._emit(result_outgoing(result, request_properties))

    def _handle_command(self, message: mqtt.MQTTMessage) -> None:
        corr = correlation_id(message.properties)
        try:
            cmd = decode(Command, message.payload)
        except ValueError as exc:  # includes pydantic's ValidationError
            log.warning("malformed command dropped: %s", type(exc).__name__)
            if corr is not None and self.store.begin_command(str(corr), "", CommandStatus.REFUSED):
                result = CommandResult(kiosk_id=self.kiosk_id, id=corr, status=CommandStatus.REFUSED,
                                       detail="malformed command")
                self.store.finish_command(str(corr), result.status, encode(result))
                self._send_result(result, message.properties)
            return
        if cmd.kiosk_id != self.kiosk_id:
            log.warning("command for %s arrived on %s; ignored", cmd.kiosk_id, self.kiosk_id)
            return
        cid = str(cmd.id)

        seen = self.store.command(cid)
        if seen is not None:
            if seen.result is not None and seen.status != CommandStatus.ACCEPTED:
                self._send_result(decode(CommandResult, seen.result), message.properties)  # same answer again
            return  # still running: its result will come

        if cmd.expired():
            result = CommandResult(kiosk_id=self.kiosk_id, id=cmd.id, name=cmd.name, status=CommandStatus.EXPIRED,
                                   detail=f"expired at {cmd.expires_at.isoformat()}")
            if self.store.begin_command(cid, cmd.name, result.status, encode(result)):
                self._send_result(result, message.properties)
            return

        accepted = CommandResult(kiosk_id=self.kiosk_id, id=cmd.id, name=cmd.name, status=CommandStatus.ACCEPTED)
        if not self.store.begin_command(cid, cmd.name, CommandStatus.ACCEPTED, encode(accepted)):
            return
        self._send_result(accepted, message.properties)
        outcome = self.runner.run(cmd)
        result = self._result(cmd, outcome)
        self.store.finish_command(cid, result.status, encode(result))
        self._send_result(result, message.properties)
        if cmd.name in (CommandName.SET_OUT_OF_SERVICE, CommandName.APPLY_CONFIG):
            self._health_now.set()

    def _result(self, cmd: Command, outcome: Outcome) -> CommandResult:
        try:
            return CommandResult(kiosk_id=self.kiosk_id, id=cmd.id, name=cmd.name, status=outcome.status,
                                 detail=outcome.detail, payload=outcome.payload, data=outcome.data,
                                 data_type=outcome.data_type)
        except ValueError:  # the personal-data check refused the payload: send nothing of it
            return CommandResult(kiosk_id=self.kiosk_id, id=cmd.id, name=cmd.name, status=CommandStatus.FAILED,
                                 detail="result withheld: it looked like personal data")

    def _finish_interrupted_commands(self) -> None:
        """Commands left 'accepted' by a previous run: a reboot/restart did its job by
        ending us; anything else was cut off."""
        for record in self.store.unfinished_commands():
            restarted = record.name in (CommandName.REBOOT, CommandName.RESTART_APP)
            result = CommandResult(
                kiosk_id=self.kiosk_id,
                id=uuid.UUID(record.id),
                name=CommandName(record.name) if record.name else None,
                status=CommandStatus.SUCCEEDED if restarted else CommandStatus.FAILED,
                detail=f"agent restarted after {record.name}" if restarted else "interrupted by an agent restart",
            )
            self.store.finish_command(record.id, result.status, encode(result))
            self._emit(result_outgoing(result))

    def _report_config(self, report: ConfigReported) -> None:
        self._emit(report, kv={"config_reported_version": str(report.version),
                               "config_applied": str(self.config.applied_version)})

    def _handle_config_desired(self, message: mqtt.MQTTMessage) -> None:
        if not message.payload:
            return  # retained desired config cleared
        try:
            desired = decode(ConfigDesired, message.payload)
        except ValueError as exc:
            version = _raw_field(message.payload, "version", int)
            if version is not None and str(version) != self.store.get("config_reported_version"):
                self._report_config(ConfigReported(kiosk_id=self.kiosk_id, version=max(version, 0),
                                                   status=ConfigStatus.REJECTED, reason="undecodable desired config",
                                                   applied_version=self.config.applied_version))
            log.warning("undecodable desired config: %s", type(exc).__name__)
            return
        if desired.kiosk_id != self.kiosk_id:
            return
        if str(desired.version) == self.store.get("config_reported_version"):
            return  # re-delivered on every subscribe; already answered
        self._report_config(self.config.apply(desired.version, desired.settings))
        self._health_now.set()

    def _report_update(self, report: UpdateReported, kv: dict[str, str] | None) -> None:
        self._emit(report, kv=kv)

    def _handle_update_desired(self, message: mqtt.MQTTMessage) -> None:
        """Hand the desired update to the update thread; never wait for an install here."""
        if not message.payload:
            self.updates.desired(None)  # retained desired update cleared: withdraw a waiting one
            return
        try:
            desired = decode(UpdateDesired, message.payload)
        except ValueError as exc:
            log.warning("undecodable desired update: %s", type(exc).__name__)
            version = _raw_field(message.payload, "version", str)
            rollout_id = _raw_field(message.payload, "rollout_id", str)
            if version is not None:
                self.updates.malformed(version[:64], (rollout_id or "")[:64])
            return
        if desired.kiosk_id != self.kiosk_id:
            return
        self.updates.desired(desired)

    # ================================================================ app polling (caller's thread)
    def _poll_app(self) -> None:
        try:
            status = self.control.status()
            reachable = True
        except (ControlUnavailable, ControlRequestFailed):
            status, reachable = None, False
        if reachable != self._app_reachable:
            if self._app_reachable is not None:
                kind = EventKind.APP_STARTED if reachable else EventKind.APP_UNREACHABLE
                self._emit(Event(kiosk_id=self.kiosk_id, kind=kind))
            self._app_reachable = reachable
        self._app = status
        if reachable:
            self._pull_events()
        health = self._health()
        fingerprint = health.model_dump_json(include={"app_reachable", "out_of_service", "config_version",
                                                     "devices", "app_version"})
        due = time.monotonic() - self._last_health >= self.settings.health_interval_s
        if self._connected.is_set() and (due or fingerprint != self._fingerprint or self._health_now.is_set()):
            self._health_now.clear()
            if due:
                self._publish_birth()  # heals a retained status overwritten by a late will
            outgoing(health).publish(self.client)
            self._fingerprint = fingerprint
            self._last_health = time.monotonic()

    def _pull_events(self) -> None:
        instance = self.store.get("app_instance", "")
        after = int(self.store.get("app_event_seq", "0")) if instance else 0
        try:
            batch = self.control.events(instance, after)
        except (ControlUnavailable, ControlRequestFailed):
            return
        cursor = after if batch.instance == instance else 0
        events = []
        for app_event in batch.events:
            events.append(Event(
                kiosk_id=self.kiosk_id, id=app_event.id, ts=app_event.ts, kind=app_event.kind,
                device=app_event.device, state=app_event.state, reason=app_event.reason,
                action=app_event.action, flow=app_event.flow, count=app_event.count, detail=app_event.detail,
                step=app_event.step, step_no=app_event.step_no, duration_s=app_event.duration_s,
            ))
            cursor = max(cursor, app_event.seq)
        if events or batch.instance != instance:
            # the events and the cursor that acknowledges them commit together
            self._emit(*events, kv={"app_instance": batch.instance, "app_event_seq": str(cursor)})

    def _health(self) -> Health:
        app = self._app
        return Health(
            kiosk_id=self.kiosk_id,
            app_version=app.app_version if app else self.settings.app_version_fallback,
            agent_version=AGENT_VERSION,
            uptime_s=app.uptime_s if app else round(time.monotonic() - self.started, 3),
            app_reachable=app is not None,
            out_of_service=app.out_of_service if app else False,
            out_of_service_reason=app.out_of_service_reason if app else "",
            session_active=app.session_active if app else False,
            config_version=app.config_version if app else self.config.applied_version,
            devices=app.devices if app else [],
            system=system_health(self.settings.state_dir),
            flows=app.flows if app else {},
            submission_queue_depth=app.submission_queue_depth if app else 0,
            submission_queue_oldest_s=app.submission_queue_oldest_s if app else 0.0,
            submission_parked=app.submission_parked if app else 0,
        )


def _raw_field(payload: bytes, key: str, kind: type[T]) -> T | None:
    """`key` of a payload that failed validation, if it is JSON and the value a `kind`:
    enough to answer a malformed desired message with the version it named."""
    try:
        value = json.loads(payload).get(key)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, kind) else None
