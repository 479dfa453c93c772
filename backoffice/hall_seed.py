"""Deterministic records for the hall's further services, derived like seed.py from a SHA-256
of the ID number / plate / reference, so nothing personal is stored and every run agrees.

- vehicles: the card holder's registered vehicle is `seed.plate_for(id_number)` (the same
  plate the fines look-up uses); its type, brand, registration date and status follow from
  the plate (about 1 in 12 is not 'normal': mortgaged, seized …);
- property certificates: any well-formed acceptance number of a citizen names a certificate
  at one of the district registration offices; about 1 in 8 is not ready yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backoffice.seed import rng_for

_BRANDS = ("长安CS75", "长安逸动", "吉利帝豪", "比亚迪秦", "大众朗逸", "丰田卡罗拉", "本田雅阁", "五菱宏光")
_VEHICLE_STATUS = (("normal", 44), ("mortgaged", 2), ("seized", 1), ("scrapped", 1))
_DISTRICTS = ("渝中区", "江北区", "南岸区", "九龙坡区", "沙坪坝区", "渝北区", "巴南区", "北碚区")
_CERT_STATUS = (("ready", 7), ("not_ready", 1))


@dataclass(frozen=True)
class SeededVehicle:
    plate: str
    vehicle_type: str
    brand: str
    registration_date: dt.date
    status: str


def vehicle_for(plate: str, today: dt.date) -> SeededVehicle:
    rng = rng_for("vehicle", plate)
    statuses, weights = zip(*_VEHICLE_STATUS)
    registered = today - dt.timedelta(days=rng.randint(120, 12 * 365))
    return SeededVehicle(plate, rng.choice(("small_passenger", "small_passenger", "mini_passenger")),
                         rng.choice(_BRANDS), registered, rng.choices(statuses, weights)[0])


@dataclass(frozen=True)
class SeededCertificate:
    reference: str
    certificate_number: str
    district: str
    status: str


def certificate_for(id_number: str, reference: str) -> SeededCertificate:
    rng = rng_for("property", id_number, reference)
    district = rng.choice(_DISTRICTS)
    statuses, weights = zip(*_CERT_STATUS)
    year = 2000 + int(reference[3:5]) if reference[3:5].isdigit() else 2026
    number = f"渝({year}){district}不动产权第{rng.randint(1, 9_999_999):07d}号"
    return SeededCertificate(reference, number, district, rng.choices(statuses, weights)[0])


def registration_office(district: str) -> str:
    return f"重庆市{district}不动产登记中心"
