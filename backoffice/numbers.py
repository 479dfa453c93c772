"""Formats of the identifiers the back office hands out.

- Tracking numbers: UPU S10 (2 letters, 8-digit serial, 1 check digit, ISO country
  code), check digit with weights 8 6 4 2 3 5 9 7, 11 - (sum mod 11), 10 -> 0, 11 -> 5
  (UPU Standard S10, "Identification of postal items"). China Post EMS uses 'E?'.
- Invoice numbers: 20 digits as on fully digitalised e-invoices (全电发票): 2-digit year,
  2-digit region, 1 channel digit, 5 reserved, 10-digit serial (layout illustrative).
- Application, order and receipt ids: prefix + YYYYMMDD + 6-digit serial.
"""

from __future__ import annotations

import datetime as dt
import re

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
S10_RE = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")


def s10_check_digit(serial: str) -> int:
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("S10 serial is 8 digits")
    check = 11 - sum(int(d) * w for d, w in zip(serial, _S10_WEIGHTS)) % 11
    return {10: 0, 11: 5}.get(check, check)


def s10_number(serial: int, service: str = "EA", country: str = "CN") -> str:
    digits = f"{serial:08d}"
    return f"{service}{digits}{s10_check_digit(digits)}{country}"


def is_valid_s10(value: str) -> bool:
    return bool(S10_RE.match(value)) and s10_check_digit(value[2:10]) == int(value[10])


def invoice_number(serial: int, day: dt.date, region: str = "50") -> str:
    return f"{day:%y}{region}2" + "00000" + f"{serial:010d}"


def daily_id(prefix: str, day: dt.date, serial: int) -> str:
    return f"{prefix}{day:%Y%m%d}{serial:06d}"
