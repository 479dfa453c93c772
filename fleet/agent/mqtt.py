"""A paho-mqtt 2.x client set up the fleet's way: MQTT 5, TLS with a client certificate.

Shared by the agent, the tests and tools that speak to the fleet broker.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def make_client(
    client_id: str,
    *,
    ca_file: Path | str,
    cert_file: Path | str,
    key_file: Path | str,
    reconnect_min_s: float = 1.0,
    reconnect_max_s: float = 60.0,
    max_inflight: int = 20,
) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    client.tls_set_context(context)
    client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)  # type: ignore[arg-type]  (floats work)
    client.max_inflight_messages_set(max_inflight)
    return client
