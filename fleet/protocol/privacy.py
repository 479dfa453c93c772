"""Recognising and removing personal data in free text bound for the fleet.

Telemetry never carries personal data (DESIGN.md, Privacy). Every fleet message runs
`find_personal_data` over its strings and refuses to exist when something matches, and
the agent passes log lines through `redact` before they leave the kiosk. Both are
deliberately coarse: a false alarm costs a rejected message, a miss leaks a citizen.

Recognised:
- resident ID numbers (GB 11643: 17 digits and a digit or X), with or without spaces; the
  HK/Macau/Taiwan permit and the 2023 foreign permanent resident card have the same shape;
- 2017 foreign permanent resident card numbers (3 letters and 12 digits, docs/devices/idcard.md);
- the same written with full-width digits (text is NFKC-normalised first);
- mainland mobile numbers (1[3-9] and 9 more digits; +86 / 0086 prefixes, spaces, dashes);
- values of fields marked as personal in logs: ``name=…``, ``姓名：…``, ``address=…``,
  ``id_number=…``, ``phone=…`` (and quoted forms), and anything between ``<pii>`` and
  ``</pii>`` — the marker the kiosk app's logging uses if a value must be traced at all.
"""

from __future__ import annotations

import re
import unicodedata

ID_NUMBER_RE = re.compile(
    r"(?<![0-9A-Za-z])\d{6}[ -]?\d{8}[ -]?\d{3}[0-9Xx](?![0-9A-Za-z])"
)
FOREIGN_CARD_RE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{3}\d{12}(?![0-9A-Za-z])")  # its 12 digits hold a candidate
MOBILE_RE = re.compile(
    r"(?<![0-9A-Za-z+])(?:(?:\+|00)86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)"
)
_PII_KEYS = (
    r"name|full_?name|citizen_?name|holder_?name|english_?name|chinese_?name|cardholder|address|addr|id_?number|"
    r"id_?no|pass_?number|通行证号码?|"
    r"id_?card|phone|mobile|tel|姓名|名字|住址|地址|身份证号?|证件号码?|手机号?|电话"
)
MARKED_FIELD_RE = re.compile(
    rf"(?i)(?<![A-Za-z0-9_])({_PII_KEYS})(\s*[=:：]\s*)"
    r"(\[redacted\]|\"[^\"]*\"|'[^']*'|「[^」]*」|[^\s,;，；)}\]]+)"  # [redacted] first: idempotent
)
PII_MARKER_RE = re.compile(r"<pii>.*?</pii>", re.DOTALL)

# A part that every match of the three patterns above contains: an ID number has eight
# digits in a row (its birth date), a mobile number starts with 1[3-9]\d and four more
# digits (one separator at most between), a marker starts with <pii>. Text (ASCII, so
# already NFKC-normal) without any of them cannot match, and most fleet text has none:
# one fast search instead of three slow ones. Keep it in step with the patterns
# (tests/fleet/test_protocol_privacy.py checks it against every known match).
CANDIDATE_PATTERN = r"\d{8}|1[3-9]\d[ -]?\d{4}|<pii>"
CANDIDATE_RE = re.compile(CANDIDATE_PATTERN)
CANDIDATE_BYTES_RE = re.compile(CANDIDATE_PATTERN.encode(), re.ASCII)
# The same pre-check without a regex (`re` tries its alternation at every position: ~12 µs
# for a 1 KB health message, a tenth of ingest's CPU). Digits become "0", a space or dash
# "-", anything else "."; every candidate then holds "0000000" (eight digits in a row, or
# 1[3-9]\d and four digits), "000-0000" (the same with its one separator) or "<pii>".
_DIGIT_SHAPE = bytes(0x30 if 0x30 <= c <= 0x39 else 0x2D if c in (0x20, 0x2D) else 0x2E for c in range(256))


def may_hold_candidate(data: bytes) -> bool:
    """False only if `data` (ASCII bytes) has no CANDIDATE_PATTERN match: a few bytes
    searches instead of a regex (see _DIGIT_SHAPE)."""
    if b"<pii>" in data:
        return True
    shape = data.translate(_DIGIT_SHAPE)
    return b"0000000" in shape or b"000-0000" in shape

REDACTED = "[redacted]"
# No pattern above can match fewer characters: a mobile number is 11, an ID number 18,
# "<pii></pii>" 11. Checked after normalisation (NFKC can turn one character into two digits).
SHORTEST_MATCH = 11


def find_personal_data(text: str) -> list[str]:
    """Kinds of personal data that appear in `text` (empty when none)."""
    text = unicodedata.normalize("NFKC", text)  # full-width digits are common in Chinese text
    if len(text) < SHORTEST_MATCH:
        return []  # most strings in a message (enum values, device names) are this short
    if text.isascii() and not CANDIDATE_RE.search(text):
        return []
    found = []
    if ID_NUMBER_RE.search(text) or FOREIGN_CARD_RE.search(text):
        found.append("id_number")
    if MOBILE_RE.search(text):
        found.append("mobile_number")
    if PII_MARKER_RE.search(text):
        found.append("marked")
    return found


def redact(text: str) -> str:
    """`text` with every recognised personal value replaced by ``[redacted]``.

    The text is NFKC-normalised first (full-width digits and colons become ASCII)."""
    text = unicodedata.normalize("NFKC", text)
    text = PII_MARKER_RE.sub(REDACTED, text)
    text = MARKED_FIELD_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = ID_NUMBER_RE.sub(REDACTED, text)
    text = FOREIGN_CARD_RE.sub(REDACTED, text)
    text = MOBILE_RE.sub(REDACTED, text)
    return text
