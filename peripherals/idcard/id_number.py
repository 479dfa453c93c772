"""18-character citizen identity numbers (GB 11643-1999) and their check character.

The last character is ISO 7064 MOD 11-2 over the first 17 digits: weights 2^(17-i) mod 11,
sum mod 11 indexes "10X98765432". The same number shape and check are used by the
HK/Macau/Taiwan residence permit (81/82/83…) and the 2023 foreign permanent resident ID
card (9…). Errors never include the number itself (it is personal data).
"""

from __future__ import annotations

import re

from peripherals.idcard.errors import InvalidIdNumber

WEIGHTS: tuple[int, ...] = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def check_char(first17: str) -> str:
    """The MOD 11-2 check character for 17 ASCII digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidIdNumber("an ID number body is 17 digits")
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def is_valid(id_number: str) -> bool:
    """True for 17 digits followed by the right check character (upper-case X)."""
    return bool(_SHAPE.fullmatch(id_number)) and check_char(id_number[:17]) == id_number[17]


def validate(id_number: str) -> str:
    """Return `id_number` unchanged, or raise InvalidIdNumber (message without the number)."""
    if not _SHAPE.fullmatch(id_number):
        raise InvalidIdNumber("ID number is not 17 digits and a check character")
    if check_char(id_number[:17]) != id_number[17]:
        raise InvalidIdNumber("ID number check character does not match (GB 11643 MOD 11-2)")
    return id_number


def complete(first17: str) -> str:
    """`first17` with its check character appended (for test data and the simulator)."""
    return first17 + check_char(first17)
