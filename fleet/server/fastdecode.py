"""Decoding kiosk publishes at ingest rate: orjson + one privacy scan + pydantic's
`model_validate_json`, with the same checks as `fleet.protocol.decode_kiosk_publish`.

The protocol models scan every string for personal data in a validator on every nested
model, which is most of the cost of decoding a health message (~130 µs of ~160 µs).
Here the payload is parsed once with orjson, all its strings (keys included) are joined
with newlines and scanned in one `find_personal_data` call — newline is a boundary for
every pattern, so nothing matches across two strings that would not match in one — and
pydantic validates the bytes with the per-model scan switched off
(`SCANNED_CONTEXT`). Same answer, a fraction of the time.
"""

from __future__ import annotations

from typing import Any

import orjson

from fleet.protocol import Channel, KioskMessage
from fleet.protocol.codec import CHANNEL_MODEL
from fleet.protocol.messages import SCANNED_CONTEXT, SCHEMA_VERSION, UnsupportedVersion
from fleet.protocol.privacy import find_personal_data
from fleet.protocol.topics import parse_kiosk_topic

_CONTEXT = {SCANNED_CONTEXT: True}


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            out.append(key)
            if not isinstance(item, (int, float, bool)) and item is not None:
                _strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)


def decode_fast(topic: str, payload: bytes) -> tuple[str, Channel, KioskMessage, dict[str, Any]]:
    """(kiosk id, channel, message, the payload as parsed JSON); ValueError /
    pydantic.ValidationError as the slow path."""
    kiosk_id, channel = parse_kiosk_topic(topic)
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("payload is not a JSON object")
    model = CHANNEL_MODEL[channel]
    if raw.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise UnsupportedVersion(f"{model.__name__} schema v{raw.get('v')!r} not supported")
    strings: list[str] = []
    _strings(raw, strings)
    kinds = find_personal_data("\n".join(strings))
    if kinds:
        raise ValueError(f"personal data ({', '.join(kinds)}) in the message")
    msg = model.model_validate_json(payload, context=_CONTEXT)
    if msg.kiosk_id != kiosk_id:
        raise ValueError(f"message for {msg.kiosk_id!r} published on {kiosk_id!r}'s topic")
    return kiosk_id, channel, msg, raw
