"""Format checks for the identifiers citizens type or cards carry.

Pure functions, no I/O, shared by the HTTP client's models and the reference back
office, so both sides reject the same inputs. Error messages never echo the value.

Sources:
- Resident ID number: GB 11643-1999 "Citizen identification number" — 6-digit
  administrative division code, 8-digit birth date, 3-digit sequence, 1 check
  character computed with ISO 7064:1983 MOD 11-2 (weights 2^(17-i) mod 11, remainder
  mapped through "10X98765432").
- Foreign permanent resident cards: the National Immigration Administration's rules for
  the 2023 card (18 characters, first '9', MOD 11-2 as GB 11643) and the 2017 card number
  (3 letters + 12 digits), as in docs/devices/idcard.md.
- Mobile numbers: MIIT numbering plan, 11 digits starting 13x–19x.
- Licence classes: Order 162 (机动车驾驶证申领和使用规定, 2021) Annex 1 — A1 A2 A3 B1 B2
  C1 C2 C3 C4 C5 C6 D E F M N P.
- Plates: GA 36-2018 "Motor vehicle number plates" — province abbreviation, issuing
  authority letter, 5 characters (letters I and O are never used); new-energy plates
  carry 6: small cars D/F + 1 letter/digit + 4 digits, large vehicles 5 digits + D/F.
"""

from __future__ import annotations

import datetime as _dt
import re

_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_ID_CHECK_CHARS = "10X98765432"
_FOREIGN_2017_RE = re.compile(r"[A-Z]{3}[0-9]{12}")  # 2017 foreign permanent resident card number

# First two digits of the administrative division code (GB/T 2260 provinces, plus 71
# Taiwan, 81/82 Hong Kong/Macao and 83 Taiwan-resident permits).
PROVINCE_CODES: dict[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙",
    "21": "辽", "22": "吉", "23": "黑",
    "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣", "37": "鲁",
    "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏",
    "61": "陕", "62": "甘", "63": "青", "64": "宁", "65": "新",
    "71": "台", "81": "港", "82": "澳", "83": "台",
}

LICENCE_CLASSES: tuple[str, ...] = (
    "A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P",
)

PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTER = "A-HJ-NP-Z"  # no I, no O
_PLATE_ALNUM = f"{_PLATE_LETTER}0-9"
_PLATE_RE = re.compile(
    rf"^[{PLATE_PROVINCES}][{_PLATE_LETTER}]"
    rf"(?:[{_PLATE_ALNUM}]{{4}}[{_PLATE_ALNUM}挂学警]"  # ordinary: 5 characters
    rf"|[DF][{_PLATE_ALNUM}]\d{{4}}"  # new-energy small car: 6 characters
    rf"|\d{{5}}[DF])$"  # new-energy large vehicle: 6 characters
)
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")

# Provincial-level divisions as written on a mailing address.
PROVINCES: tuple[str, ...] = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省",
    "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省",
    "湖南省", "广东省", "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省", "云南省",
    "西藏自治区", "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
    "台湾省", "香港特别行政区", "澳门特别行政区",
)


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK_CHARS[total % 11]


def normalise_id_number(value: str) -> str:
    """Strip blanks and upper-case the check character (cards print 'X', people type 'x')."""
    return value.strip().upper()


def id_birth_date(id_number: str) -> _dt.date:
    """Birth date encoded in digits 7–14 (a 2017 foreign card number: YYMMDD in characters 8–13, the
    century the latest not in the future); ValueError when it is not a real date."""
    if len(id_number) == 15:
        yy = int(id_number[7:9])
        year = 2000 + yy if 2000 + yy <= _dt.date.today().year else 1900 + yy
        return _dt.datetime.strptime(f"{year}{id_number[9:13]}", "%Y%m%d").date()
    return _dt.datetime.strptime(id_number[6:14], "%Y%m%d").date()


def id_number_problem(value: str, *, today: _dt.date | None = None) -> str | None:
    """Why `value` is not the number of an ID card the kiosk reads, or None when it is.

    18 characters (GB 11643, MOD 11-2): resident cards, HK/Macau/Taiwan permits (81/82/83),
    and the 2023 foreign permanent resident ID card ('9', the accepting province, the 3-digit
    country, birth date, sequence, check). 15 characters: the 2017 foreign card (3 letters,
    province, city, YYMMDD, sequence, check digit; that check digit is not verified, the
    sources disagree: docs/devices/idcard.md).
    """
    if _FOREIGN_2017_RE.fullmatch(value):
        if value[3:5] not in PROVINCE_CODES:
            return "unknown region code"
        if not any(_is_date(f"{century}{value[7:13]}") for century in ("19", "20")):
            return "birth date is not a real date"
        return None
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit() or value[17] not in "0123456789X":
        return "must be 17 digits followed by a digit or X"
    region = value[1:3] if value[0] == "9" else value[:2]  # 9: foreign permanent resident (2023)
    if region not in PROVINCE_CODES:
        return "unknown region code"
    try:
        born = id_birth_date(value)
    except ValueError:
        return "birth date is not a real date"
    if born.year < 1900 or born > (today or _dt.date.today()):
        return "birth date out of range"
    if id_check_char(value[:17]) != value[17]:
        return "check character does not match"
    return None


def _is_date(yyyymmdd: str) -> bool:
    try:
        _dt.datetime.strptime(yyyymmdd, "%Y%m%d")
    except ValueError:
        return False
    return True


def is_valid_id_number(value: str) -> bool:
    return id_number_problem(normalise_id_number(value)) is None


def is_valid_mobile(value: str) -> bool:
    return bool(_MOBILE_RE.match(value))


def normalise_plate(value: str) -> str:
    return value.strip().replace(" ", "").replace("·", "").upper()


def is_valid_plate(value: str) -> bool:
    return bool(_PLATE_RE.match(value))


def is_new_energy_plate(value: str) -> bool:
    return len(value) == 8 and is_valid_plate(value)


def mask_id_number(value: str) -> str:
    """'110105********002X' style: enough for a citizen to recognise, useless to others.

    A 15-character foreign card number keeps its country letters and last 2 ('DEU**********04')."""
    if len(value) == 18:
        return value[:6] + "*" * 8 + value[14:]
    if len(value) == 15:
        return value[:3] + "*" * 10 + value[13:]
    return "*" * len(value)


def mask_name(value: str) -> str:
    """Keep the first character (the family name in most Chinese names)."""
    return value[:1] + "*" * max(len(value) - 1, 1)


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[7:] if len(value) == 11 else "*" * len(value)
