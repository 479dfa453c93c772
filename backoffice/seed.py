"""Deterministic, realistic-looking records for any citizen or vehicle.

Nothing is pre-loaded: a licence record, a plate and 0–3 traffic fines are derived from
a SHA-256 of the ID number (or plate), so every valid ID gets the same data on every run
and every machine, and the database never needs the ID itself. Dates are relative to
today so a seeded licence is always inside its renewal window (expiring in 5–80 days).

Violation codes, amounts and points are illustrative (modelled on the public GA/T 16.x
code list style); they are not an authoritative fine schedule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass

from flows.services import validation as v

_LICENCE_CLASS_WEIGHTS = (("C1", 55), ("C2", 15), ("B2", 8), ("A2", 4), ("A1", 3), ("B1", 3), ("D", 5), ("E", 3), ("C3", 2), ("A3", 2))
# Order 162 Art. 65: from 60 these classes may no longer be held; from 70 also C3 C4 C6 D E.
_BARRED_AT_60 = frozenset({"A1", "A2", "A3", "B1", "B2", "M", "N", "P"})
_BARRED_AT_70 = _BARRED_AT_60 | {"C3", "C4", "C6", "D", "E"}
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

# (code, description, amount in fen, points)
VIOLATIONS: tuple[tuple[str, str, int, int], ...] = (
    ("1039", "机动车违反规定停放、临时停车，驾驶人不在现场，妨碍其他车辆、行人通行的", 20_000, 0),
    ("1344", "机动车违反禁止标线指示的", 10_000, 1),
    ("1352", "驾驶机动车在城市道路上超过规定时速未达20%的", 20_000, 1),
    ("1625", "驾驶机动车违反道路交通信号灯通行的", 20_000, 6),
    ("1301", "机动车逆向行驶的", 20_000, 3),
    ("1042", "不按规定使用安全带的", 5_000, 1),
)
_LOCATIONS = ("人民路与解放路交叉口", "滨江路K12+300", "环城高速K45+100", "中山三路", "建设大道与友谊路口", "火车站北广场临时停车区")


def rng_for(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def age_on(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class SeededLicence:
    licence_class: str
    first_issued: dt.date
    valid_from: dt.date
    valid_until: dt.date
    period_years: int
    points: int
    age: int


def licence_for(id_number: str, today: dt.date) -> SeededLicence | None:
    """The licence on file for this ID, or None (holders must be 18 or older)."""
    age = age_on(v.id_birth_date(id_number), today)
    if age < 18:
        return None
    rng = rng_for("licence", id_number)
    barred = _BARRED_AT_70 if age >= 70 else _BARRED_AT_60 if age >= 60 else frozenset()
    classes, weights = zip(*((c, w) for c, w in _LICENCE_CLASS_WEIGHTS if c not in barred))
    licence_class = rng.choices(classes, weights)[0]
    valid_until = today + dt.timedelta(days=rng.randint(5, 80))
    period = rng.choice((6, 10))
    valid_from = add_years(valid_until, -period)
    adult = add_years(v.id_birth_date(id_number), 18)
    first_issued = max(adult, add_years(valid_from, -rng.choice((0, 6))))
    return SeededLicence(licence_class, first_issued, valid_from, valid_until, period, rng.randint(0, 11), age)


def plate_for(id_number: str) -> str:
    """The vehicle registered to this ID: province from the ID's region code."""
    rng = rng_for("plate", id_number)
    province = v.PROVINCE_CODES.get(id_number[:2], "渝")
    if province not in v.PLATE_PROVINCES:
        province = "渝"
    tail = "".join(rng.choice("0123456789") for _ in range(3))
    return f"{province}A{rng.choice(_PLATE_CHARS)}{rng.choice(_PLATE_CHARS)}{tail}"


@dataclass(frozen=True)
class SeededFine:
    fine_id: str
    plate: str
    occurred_at: dt.datetime
    location: str
    violation_code: str
    description: str
    amount_fen: int
    points: int


def fines_for_plate(plate: str, today: dt.date, tz: dt.tzinfo) -> list[SeededFine]:
    """0–3 fines, the same ones every time for the same plate."""
    rng = rng_for("fines", plate)
    count = rng.choice((0, 1, 1, 2, 2, 3))
    fines = []
    for index in range(count):
        code, description, amount, points = rng.choice(VIOLATIONS)
        day = today - dt.timedelta(days=rng.randint(3, 170))
        at = dt.datetime.combine(day, dt.time(rng.randint(7, 21), rng.randint(0, 59)), tz)
        fine_id = "F" + hashlib.sha256(f"fine\x1f{plate}\x1f{index}".encode()).hexdigest()[:14].upper()
        fines.append(SeededFine(fine_id, plate, at, rng.choice(_LOCATIONS), code, description, amount, points))
    return sorted(fines, key=lambda f: f.occurred_at)
