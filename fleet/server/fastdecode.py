"""Decoding kiosk publishes at ingest rate: pydantic's `model_validate_json` (a Rust JSON
parser) + one privacy scan, with the same checks as `fleet.protocol.decode_kiosk_publish`.

The protocol models scan every string for personal data in a validator on every nested
model, which is most of the cost of decoding a health message (~130 µs of ~160 µs).
Here pydantic validates the bytes with that per-model scan switched off
(`SCANNED_CONTEXT`) and the payload's strings (keys included, so stricter than the
models: unknown keys are scanned too) are scanned once, joined with newlines — newline
is a boundary for the number patterns, so nothing matches across two strings that would
not match in one.

The scan is cheap in the normal case. When the payload has no backslash (no JSON
escapes) the text between its quotes *is* its strings, so they are found by splitting
the bytes; if they are ASCII and hold nothing that every personal-data match contains
(`fleet.protocol.privacy.CANDIDATE_PATTERN`: eight digits in a row, the start of a
mobile number, ``<pii>``; checked by `may_hold_candidate` without a regex), there is
nothing to find. Otherwise the payload is parsed with
orjson and its strings that could hold a match — 11 or more characters
(`SHORTEST_MATCH`; NFKC leaves ASCII as it is) or non-ASCII — go through
`find_personal_data` as before. A payload that fails validation is looked at by the
protocol's own rules (not JSON, not an object, `UnsupportedVersion`) for its error.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from fleet.protocol import Channel, KioskMessage
from fleet.protocol.codec import CHANNEL_MODEL
from fleet.protocol.messages import SCANNED_CONTEXT, SCHEMA_VERSION, UnsupportedVersion
from fleet.protocol.privacy import SHORTEST_MATCH, find_personal_data, may_hold_candidate
from fleet.protocol.topics import parse_kiosk_topic

_CONTEXT = {SCANNED_CONTEXT: True}


def _scannable(s: str) -> bool:
    return len(s) >= SHORTEST_MATCH or not s.isascii()


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


def personal_data_in(payload: bytes) -> list[str]:
    """Kinds of personal data in any string of the JSON `payload` (a valid JSON object)."""
    if b"\\" not in payload:
        strings = b"\n".join(payload.split(b'"')[1::2])
        if strings.isascii() and not may_hold_candidate(strings):
            return []
    found: list[str] = []
    _strings(orjson.loads(payload), found)
    return find_personal_data("\n".join(s for s in found if _scannable(s)))


def _why_invalid(model: type, payload: bytes) -> None:
    """Raise the protocol's error for a payload pydantic refused, where it has one."""
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("payload is not a JSON object")
    if raw.get("v", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise UnsupportedVersion(f"{model.__name__} schema v{raw.get('v')!r} not supported")


def decode_fast(topic: str, payload: bytes) -> tuple[str, Channel, KioskMessage]:
    """(kiosk id, channel, message); ValueError / pydantic.ValidationError as the slow path."""
    kiosk_id, channel = parse_kiosk_topic(topic)
    model = CHANNEL_MODEL[channel]
    try:
        msg = model.model_validate_json(payload, context=_CONTEXT)
    except ValidationError:
        _why_invalid(model, payload)
        raise
    kinds = personal_data_in(payload)
    if kinds:
        raise ValueError(f"personal data ({', '.join(kinds)}) in the message")
    if msg.kiosk_id != kiosk_id:
        raise ValueError(f"message for {msg.kiosk_id!r} published on {kiosk_id!r}'s topic")
    return kiosk_id, channel, msg
