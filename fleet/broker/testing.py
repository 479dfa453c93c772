"""Test helpers for anything that talks to the fleet broker: a recording MQTT client and
a kiosk-agent child process. Used by ``tests/fleet/conftest.py`` fixtures; importable by
any test (and by ``bench/``) because it lives in the package, not in a conftest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.agent.mqtt import make_client
from fleet.broker.certs import CertificateAuthority, Identity
from fleet.broker.runner import LoggedProcess, MosquittoBroker, terminate


PROBES = 8
# Tests watch the broker beside a running fleet server. The broker binds the client id
# to the certificate's CN, so such a watcher cannot share the `fleet-server` identity
# (it would take over the server's session): it gets one of these test-only identities,
# with the server's rights. Appended to the shipped ACL by the tests' broker fixture.
PROBE_ACL = "\n# test-only watching probes (fleet.broker.testing)\n" + "".join(
    f"user fleet-probe.{n}\ntopic readwrite kiosk/#\ntopic readwrite fleet/#\ntopic read $SYS/broker/log/#\n"
    for n in range(1, PROBES + 1))


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    properties: Any = field(repr=False, default=None)
    at: float = field(default_factory=time.monotonic)


class MqttProbe:
    """A paho client (MQTT 5, TLS, client cert) that records every message it receives.

    Blocking helpers wait for CONNACK/SUBACK/PUBACK so tests read straight-line.
    """

    def __init__(self, host: str, port: int, identity: Identity, client_id: str | None = None, *,
                 clean_start: bool = True, session_expiry_s: int = 0) -> None:
        self.host, self.port, self.identity = host, port, identity
        self.client_id = client_id or f"probe-{identity.name}-{os.getpid()}-{id(self):x}"
        self.clean_start, self.session_expiry_s = clean_start, session_expiry_s
        self.client = make_client(self.client_id, ca_file=identity.ca, cert_file=identity.cert,
                                  key_file=identity.key, reconnect_min_s=0.1, reconnect_max_s=0.5)
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._acks: dict[int, Any] = {}
        self.connect_reason = None
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._ack(mid, rcs)
        self.client.on_publish = lambda c, u, mid, rc, p: self._ack(mid, rc)

    # -- callbacks ----------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._cond:
            self.connect_reason = reason_code
            self._cond.notify_all()

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, msg.properties))
            self._cond.notify_all()

    def _ack(self, mid: int, value: Any) -> None:
        with self._cond:
            self._acks[mid] = value
            self._cond.notify_all()

    # -- blocking helpers -----------------------------------------------------------------
    def connect(self, timeout: float = 5.0) -> "MqttProbe":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        self.client.connect_async(self.host, self.port, keepalive=10, clean_start=self.clean_start, properties=props)
        self.client.loop_start()
        self.wait(lambda: self.client.is_connected(), timeout, "CONNACK")
        return self

    def wait_connected(self, timeout: float = 10.0) -> None:
        self.wait(lambda: self.client.is_connected(), timeout, "reconnection")

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> list:
        """Subscribe and return the SUBACK reason codes."""
        _, mid = self.client.subscribe(topic, qos)
        return self._wait_ack(mid, timeout)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
                properties: Properties | None = None, timeout: float = 5.0):
        """Publish; for QoS 1 return the PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        return self._wait_ack(info.mid, timeout) if qos else None

    def send(self, out, timeout: float = 5.0):
        """Publish a `fleet.protocol.codec.Outgoing`."""
        return self.publish(out.topic, out.payload, out.qos, out.retain, out.properties, timeout)

    def _wait_ack(self, mid: int, timeout: float):
        self.wait(lambda: mid in self._acks, timeout, f"ack for mid {mid}")
        with self._cond:
            return self._acks.pop(mid)

    def wait(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
                self._cond.wait(min(remaining, 0.05))

    def received(self, topic: str | None = None, where: Callable[[Received], bool] | None = None) -> list[Received]:
        with self._cond:
            return [m for m in self.messages
                    if (topic is None or mqtt.topic_matches_sub(topic, m.topic)) and (where is None or where(m))]

    def wait_for(self, topic: str, where: Callable[[Received], bool] | None = None, count: int = 1,
                 timeout: float = 5.0) -> list[Received]:
        """Wait until at least `count` matching messages arrived; return all matches."""
        return self.wait(lambda: (lambda ms: ms if len(ms) >= count else None)(self.received(topic, where)),
                         timeout, f"{count} message(s) on {topic}")

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


class AgentProcess(LoggedProcess):
    """``python -m fleet.agent`` as a child process, configured through KIOSK_AGENT_* variables."""

    def __init__(self, kiosk_id: str, broker: MosquittoBroker, ca: CertificateAuthority, workdir: Path, *,
                 control_socket: Path, **settings: Any) -> None:
        ident = ca.issue_kiosk(kiosk_id) if not ca.kiosk_identity(kiosk_id).cert.exists() else ca.kiosk_identity(kiosk_id)
        self.kiosk_id = kiosk_id
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "agent.log"
        values: dict[str, Any] = {
            "kiosk_id": kiosk_id,
            "broker_host": broker.host,
            "broker_port": broker.port,
            "ca_file": ident.ca,
            "cert_file": ident.cert,
            "key_file": ident.key,
            "state_dir": self.workdir / "state",
            "control_socket": control_socket,
            "kiosk_config_path": self.workdir / "fleet-config.json",
            "health_interval_s": 1.0,
            "poll_interval_s": 0.1,
            "keepalive_s": 5,
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.5,
            "reboot_command": '["true"]',
            "restart_app_command": '["true"]',
            "logs_command": '["false"]',
        }
        values.update(settings)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_AGENT_")}
        self.env.update({f"KIOSK_AGENT_{k.upper()}": str(v) for k, v in values.items()})
        self.env["PYTHONUNBUFFERED"] = "1"
        self.proc: subprocess.Popen | None = None

    @property
    def config_path(self) -> Path:
        return Path(self.env["KIOSK_AGENT_KIOSK_CONFIG_PATH"])

    @property
    def db_path(self) -> Path:
        return Path(self.env["KIOSK_AGENT_STATE_DIR"]) / "agent.db"

    def start(self) -> "AgentProcess":
        self._spawn([sys.executable, "-m", "fleet.agent", "-v"], env=self.env, cwd=Path(__file__).resolve().parents[2])
        return self

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM: a clean shutdown (offline presence, no will)."""
        if self.proc is None:
            return None
        terminate(self.proc, timeout)
        return self.proc.returncode
