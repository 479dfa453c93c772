"""MQTT topic names of the fleet protocol, and the kiosk id rule.

Every kiosk lives under ``kiosk/{kiosk_id}/``; the broker binds ``{kiosk_id}`` to the
common name of the kiosk's client certificate (``use_identity_as_username``) and the
ACL confines it there. The fleet server's own state lives under ``fleet/server/``.
"""

from __future__ import annotations

import re
from enum import StrEnum

KIOSK_ROOT = "kiosk"
SERVER_ROOT = "fleet/server"
SERVER_USERNAME = "fleet-server"  # CN of the server's certificate; never a kiosk id

# A kiosk id is one whole topic level (no '/', '+', '#'), usable as a certificate CN,
# a file name and a client id. Lower-case so two ids never differ only by case.
KIOSK_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Channel(StrEnum):
    """The part of a kiosk topic after ``kiosk/{kiosk_id}/``."""

    STATUS = "status"  # kiosk → server, retained, QoS 1, also the last will
    HEALTH = "health"  # kiosk → server, QoS 1, on an interval and on change
    EVENTS = "events"  # kiosk → server, QoS 1, through the agent's outbox
    CMD_REQ = "cmd/req"  # server → kiosk, QoS 1, MQTT 5 response topic + correlation + expiry
    CMD_RES = "cmd/res"  # kiosk → server, QoS 1, through the outbox
    CONFIG_DESIRED = "config/desired"  # server → kiosk, retained, QoS 1
    CONFIG_REPORTED = "config/reported"  # kiosk → server, retained, QoS 1
    UPDATE_DESIRED = "update/desired"  # server → kiosk, retained, QoS 1
    UPDATE_REPORTED = "update/reported"  # kiosk → server, QoS 1


# What the ACL lets a kiosk do on its own prefix (docs/fleet.md, fleet/broker/acl).
KIOSK_PUBLISHES: tuple[Channel, ...] = (
    Channel.STATUS,
    Channel.HEALTH,
    Channel.EVENTS,
    Channel.CMD_RES,
    Channel.CONFIG_REPORTED,
    Channel.UPDATE_REPORTED,
)
KIOSK_SUBSCRIBES: tuple[Channel, ...] = (
    Channel.CMD_REQ,
    Channel.CONFIG_DESIRED,
    Channel.UPDATE_DESIRED,
)
RETAINED: frozenset[Channel] = frozenset(
    {Channel.STATUS, Channel.CONFIG_DESIRED, Channel.CONFIG_REPORTED, Channel.UPDATE_DESIRED}
)

SERVER_STATUS = f"{SERVER_ROOT}/status"  # the server's own presence, retained, with a will


def valid_kiosk_id(kiosk_id: str) -> bool:
    return bool(KIOSK_ID_RE.match(kiosk_id)) and kiosk_id != SERVER_USERNAME


def check_kiosk_id(kiosk_id: str) -> str:
    if not valid_kiosk_id(kiosk_id):
        raise ValueError(
            f"invalid kiosk id {kiosk_id!r}: want {KIOSK_ID_RE.pattern} and not {SERVER_USERNAME!r}"
        )
    return kiosk_id


def kiosk_topic(kiosk_id: str, channel: Channel | str) -> str:
    """``kiosk/{kiosk_id}/{channel}`` — the only way code should build a kiosk topic."""
    return f"{KIOSK_ROOT}/{check_kiosk_id(kiosk_id)}/{Channel(channel).value}"


def kiosk_filter(channel: Channel | str, kiosk_id: str = "+") -> str:
    """A subscription filter for one channel of one kiosk or (``+``) of all kiosks."""
    if kiosk_id != "+":
        check_kiosk_id(kiosk_id)
    return f"{KIOSK_ROOT}/{kiosk_id}/{Channel(channel).value}"


def parse_kiosk_topic(topic: str) -> tuple[str, Channel]:
    """Split ``kiosk/{id}/{channel}``; ValueError for anything else."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != KIOSK_ROOT:
        raise ValueError(f"not a kiosk topic: {topic!r}")
    kiosk_id, rest = parts[1], parts[2]
    check_kiosk_id(kiosk_id)
    try:
        return kiosk_id, Channel(rest)
    except ValueError:
        raise ValueError(f"unknown kiosk channel in {topic!r}") from None
