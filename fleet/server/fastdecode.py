"""Decoding kiosk publishes at ingest rate: orjson + one privacy scan + pydantic's
`model_validate_json`, with the same checks as `fleet.protocol.decode_kiosk_publish`.

The protocol models scan every string for personal data in a validator on every nested
model, which is most of the cost of decoding a health message (~130 µs of ~160 µs).
Here the payload is parsed once with orjson (which also checks it is JSON and UTF-8),
its strings (keys included) are joined with newlines and scanned in one
`find_personal_data` call — newline is a boundary for the number patterns, so nothing
matches across two strings that would not match in one — and pydantic validates the
bytes with the per-model scan switched off (`SCANNED_CONTEXT`).

Two shortcuts keep the scan cheap: an ASCII string shorter than the shortest possible
match (`SHORTEST_MATCH`, 11 characters; NFKC leaves ASCII as it is) cannot hold personal
data, so only longer or non-ASCII strings are scanned — that drops the keys and enum
values, most of a health message; and when the payload has no backslash (no JSON
escapes, the normal case) its string literals *are* its strings, so one regex over the
bytes finds them instead of a walk over the parsed objects. Same answer as the
protocol (stricter, if anything: unknown keys are scanned too), a fraction of the time.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from fleet.protocol import Channel, KioskMessage
from fleet.protocol.codec import CHANNEL_MODEL
from fleet.protocol.messages import SCANNED_CONTEXT, SCHEMA_VERSION, UnsupportedVersion
from fleet.protocol.privacy import SHORTEST_MATCH, find_personal_data
from fleet.protocol.topics import parse_kiosk_topic

_CONTEXT = {SCANNED_CONTEXT: True}
# Every JSON string literal without escapes; group 1 is empty unless it is scannable
# (11 or more characters, or any non-ASCII byte): short ASCII ones match the first branch.
_STRING_LITERAL = re.compile(rb'"(?:[\x00-\x21\x23-\x5b\x5d-\x7f]{0,%d}"|([^"\\]*)")' % (SHORTEST_MATCH - 1))


def _scannable(s: str | bytes) -> bool:
    return len(s) >= SHORTEST_MATCH or not s.isascii()


def scan_text(payload: bytes, raw: Any) -> str:
    """The strings of a JSON payload (parsed: `raw`) that could hold personal data,
    one per line."""
    if b"\\" not in payload:
        return b"\n".join(filter(None, _STRING_LITERAL.findall(payload))).decode()
    strings: list[str] = []
    _strings(raw, strings)
    return "\n".join(s for s in strings if _scannable(s))


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
    kinds = find_personal_data(scan_text(payload, raw))
    if kinds:
        raise ValueError(f"personal data ({', '.join(kinds)}) in the message")
    msg = model.model_validate_json(payload, context=_CONTEXT)
    if msg.kiosk_id != kiosk_id:
        raise ValueError(f"message for {msg.kiosk_id!r} published on {kiosk_id!r}'s topic")
    return kiosk_id, channel, msg, raw
