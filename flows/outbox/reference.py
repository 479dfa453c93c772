"""Provisional references: what a citizen holds when the back office was not there to answer.

A reference is `<KIOSK>-<SEQ>-<C>`, e.g. `CQ-YZ-0042-000123-K`:
- KIOSK is the kiosk's fleet id in capitals (the fleet gives every kiosk a unique id);
- SEQ is this kiosk's own counter (kept in the journal database, never reused there);
- C is an ISO/IEC 7064 MOD 37-36 check character over the letters and digits before it,
  so a mistyped or misread reference (one wrong character, two swapped) is refused.
Two kiosks never issue the same reference because their ids differ: no coordination and
no network are needed. The back office maps the reference to its final id (docs/offline.md).
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_M = 36
SEQ_DIGITS = 6
REFERENCE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,62}-\d{6,}-[0-9A-Z]$")


class InvalidReference(ValueError):
    """Not a provisional reference: wrong shape or wrong check character."""


def _values(text: str) -> list[int]:
    return [ALPHABET.index(c) for c in text.upper() if c in ALPHABET]


def check_char(body: str) -> str:
    """The MOD 37-36 check character (ISO/IEC 7064 hybrid system) for the alphanumerics of `body`."""
    p = _M
    for v in _values(body):
        s = (p + v) % _M or _M
        p = (2 * s) % (_M + 1)
    return ALPHABET[(1 - p) % _M]


def is_valid(reference: str) -> bool:
    if not REFERENCE_RE.match(reference):
        return False
    body, _, check = reference.rpartition("-")
    return check_char(body) == check


def make_reference(kiosk_id: str, seq: int) -> str:
    """`kiosk_id` (fleet id, any case) + `seq` (≥ 1) + check character."""
    if seq < 1:
        raise InvalidReference("the sequence counts from 1")
    kiosk = re.sub(r"[^A-Z0-9-]", "", kiosk_id.upper().replace("_", "-")).strip("-")
    if not kiosk:
        raise InvalidReference("the kiosk id has no letters or digits")
    body = f"{kiosk}-{seq:0{SEQ_DIGITS}d}"
    return f"{body}-{check_char(body)}"


def parse(reference: str) -> tuple[str, int]:
    """(kiosk part, sequence) of a valid reference; InvalidReference otherwise."""
    ref = reference.strip().upper()
    if not is_valid(ref):
        raise InvalidReference("not a provisional reference (shape or check character)")
    body, _, _ = ref.rpartition("-")
    kiosk, _, seq = body.rpartition("-")
    return kiosk, int(seq)
