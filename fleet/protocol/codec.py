"""Messages ⇄ MQTT publishes: JSON payloads, QoS/retain per channel, MQTT 5 properties.

`outgoing(msg)` gives the topic, payload, QoS, retain flag and properties for any kiosk
message; `decode_kiosk_publish(topic, payload)` checks that the body's ``kiosk_id`` is the
one in the topic (the broker vouches only for the topic). Commands carry MQTT 5
Response Topic, Correlation Data (the command id's 16 bytes) and Message Expiry
Interval; results echo the Correlation Data to the Response Topic.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.protocol.messages import (
    SCHEMA_VERSION,
    Command,
    CommandResult,
    ConfigDesired,
    ConfigReported,
    Event,
    FleetMessage,
    Health,
    KioskMessage,
    Presence,
    ServerPresence,
    UnsupportedVersion,
    UpdateDesired,
    UpdateReported,
    utcnow,
)
from fleet.protocol.topics import RETAINED, SERVER_STATUS, Channel, kiosk_topic, parse_kiosk_topic

CONTENT_TYPE = "application/json"

CHANNEL_MODEL: dict[Channel, type[KioskMessage]] = {
    Channel.STATUS: Presence,
    Channel.HEALTH: Health,
    Channel.EVENTS: Event,
    Channel.CMD_REQ: Command,
    Channel.CMD_RES: CommandResult,
    Channel.CONFIG_DESIRED: ConfigDesired,
    Channel.CONFIG_REPORTED: ConfigReported,
    Channel.UPDATE_DESIRED: UpdateDesired,
    Channel.UPDATE_REPORTED: UpdateReported,
}
MODEL_CHANNEL: dict[type[KioskMessage], Channel] = {m: c for c, m in CHANNEL_MODEL.items()}

M = TypeVar("M", bound=FleetMessage)


@dataclass
class Outgoing:
    """Everything `paho.mqtt.client.Client.publish` needs."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    properties: Properties | None = field(default=None, repr=False)

    def publish(self, client) -> Any:
        return client.publish(
            self.topic, self.payload, qos=self.qos, retain=self.retain, properties=self.properties
        )


def encode(msg: FleetMessage) -> bytes:
    return msg.model_dump_json().encode()


def decode(model: type[M], payload: bytes | str) -> M:
    """Parse `payload` as `model`; UnsupportedVersion for a schema we do not know,
    pydantic.ValidationError / ValueError for anything malformed."""
    try:
        raw = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("payload is not a JSON object")
    if raw.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise UnsupportedVersion(f"{model.__name__} schema v{raw.get('v')!r} not supported")
    return model.model_validate(raw)


def decode_kiosk_publish(topic: str, payload: bytes | str) -> tuple[str, Channel, KioskMessage]:
    """Decode a publish on ``kiosk/{id}/…`` and insist the body names the same kiosk."""
    kiosk_id, channel = parse_kiosk_topic(topic)
    msg = decode(CHANNEL_MODEL[channel], payload)
    if msg.kiosk_id != kiosk_id:
        raise ValueError(f"message for {msg.kiosk_id!r} published on {kiosk_id!r}'s topic")
    return kiosk_id, channel, msg


def publish_properties(msg: FleetMessage) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.PayloadFormatIndicator = 1
    props.ContentType = CONTENT_TYPE
    props.UserProperty = [("schema", f"{msg.SCHEMA}/{msg.v}")]
    return props


def outgoing(msg: KioskMessage, *, qos: int = 1) -> Outgoing:
    """The publish for a kiosk message on its own channel (commands: see `command_outgoing`)."""
    channel = MODEL_CHANNEL[type(msg)]
    if channel is Channel.CMD_REQ:
        return command_outgoing(msg)  # type: ignore[arg-type]
    return Outgoing(
        topic=kiosk_topic(msg.kiosk_id, channel),
        payload=encode(msg),
        qos=qos,
        retain=channel in RETAINED,
        properties=publish_properties(msg),
    )


def command_outgoing(cmd: Command) -> Outgoing:
    """A command with Response Topic, Correlation Data and Message Expiry Interval."""
    props = publish_properties(cmd)
    props.ResponseTopic = kiosk_topic(cmd.kiosk_id, Channel.CMD_RES)
    props.CorrelationData = cmd.id.bytes
    props.MessageExpiryInterval = max(1, math.ceil(cmd.seconds_left()))
    return Outgoing(kiosk_topic(cmd.kiosk_id, Channel.CMD_REQ), encode(cmd), 1, False, props)


def correlation_id(properties: Properties | None) -> uuid.UUID | None:
    """The command id carried as Correlation Data, if any (and well formed)."""
    data = getattr(properties, "CorrelationData", None) if properties is not None else None
    if not data or len(data) != 16:
        return None
    return uuid.UUID(bytes=bytes(data))


def result_outgoing(result: CommandResult, request_properties: Properties | None = None) -> Outgoing:
    """A command result, to the request's Response Topic when it is this kiosk's own
    ``cmd/res`` (anything else would be refused by the ACL anyway)."""
    own = kiosk_topic(result.kiosk_id, Channel.CMD_RES)
    props = publish_properties(result)
    props.CorrelationData = result.id.bytes
    topic = own
    wanted = getattr(request_properties, "ResponseTopic", None) if request_properties else None
    if wanted and wanted != own:
        topic = own  # never follow a response topic outside our prefix
    return Outgoing(topic, encode(result), 1, False, props)


def will_for(presence: Presence) -> Outgoing:
    """The last will matching a birth: same session, online=False, retained."""
    will = presence.model_copy(update={"online": False, "reason": "will", "ts": utcnow()})
    props = Properties(PacketTypes.WILLMESSAGE)
    props.PayloadFormatIndicator = 1
    props.ContentType = CONTENT_TYPE
    props.UserProperty = [("schema", f"{will.SCHEMA}/{will.v}")]
    return Outgoing(kiosk_topic(will.kiosk_id, Channel.STATUS), encode(will), 1, True, props)


def server_presence_outgoing(msg: ServerPresence) -> Outgoing:
    return Outgoing(SERVER_STATUS, encode(msg), 1, True, publish_properties(msg))


def server_will(server_version: str = "") -> Outgoing:
    msg = ServerPresence(online=False, server_version=server_version)
    props = Properties(PacketTypes.WILLMESSAGE)
    props.PayloadFormatIndicator = 1
    props.ContentType = CONTENT_TYPE
    return Outgoing(SERVER_STATUS, encode(msg), 1, True, props)
