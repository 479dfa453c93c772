"""The 256-byte text block of a read reply ⇄ the typed card models; no I/O.

Every field is UCS-2LE, padded with spaces; dates are YYYYMMDD. The letter at bytes 248-249
selects the layout (none: resident card, 'J' HK/Macau/Taiwan permit, 'I' / 'Y' the 2017 and
2023 foreign permanent resident cards). The offsets below (start, end) are the ones in
docs/devices/idcard.md, where each layout's public sources are listed.

Every failure is a typed `IdCardCodecError`: `TextBlockTruncated` (not 256 bytes),
`UnsupportedCardLayout` (unknown letter), `InvalidIdNumber` (check character or shape),
`InvalidCardField` (which field, never its contents).
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import ValidationError

from peripherals.idcard import id_number as idn
from peripherals.idcard.errors import IdCardCodecError, InvalidCardField, InvalidIdNumber, TextBlockTruncated, UnsupportedCardLayout
from peripherals.idcard.models import (
    CARD_MODELS,
    LONG_TERM,
    ForeignPermanentResidentCard2017,
    ForeignPermanentResidentCard2023,
    HmtResidencePermit,
    IdCard,
    ResidentIdCard,
)
from peripherals.idcard.nations import nation_code, nation_name

TEXT_LEN = 256
FLAG = (248, 250)

# field -> (start, end) byte offsets, per layout
RESIDENT = {
    "name": (0, 30), "sex": (30, 32), "nation": (32, 36), "birth_date": (36, 52), "address": (52, 122),
    "id_number": (122, 158), "issuer": (158, 188), "valid_from": (188, 204), "valid_to": (204, 220),
}  # 220-255 reserved
HMT = RESIDENT | {"pass_number": (220, 238), "issue_count": (238, 242)}  # 242-247, 250-255 reserved
FOREIGN_2017 = {
    "english_name": (0, 120), "sex": (120, 122), "id_number": (122, 152), "nationality": (152, 158),
    "chinese_name": (158, 188), "valid_from": (188, 204), "valid_to": (204, 220), "birth_date": (220, 236),
    "card_version": (236, 240), "issuer": (240, 248),
}  # 250-255 reserved
FOREIGN_2023 = {
    "chinese_name": (0, 30), "sex": (30, 32), "renewal_count": (32, 36), "birth_date": (36, 52),
    "english_name": (52, 122), "id_number": (122, 158), "valid_from": (188, 204), "valid_to": (204, 220),
    "english_name_2": (220, 242), "nationality": (242, 248), "previous_card_link": (250, 256),
}  # 158-187 reserved; English name = characters 1-35 at 52, 36-46 at 220
LAYOUTS = {"": RESIDENT, "J": HMT, "I": FOREIGN_2017, "Y": FOREIGN_2023}

_SEX_BY_CODE = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}  # GB/T 2261.1
_CODE_BY_SEX = {v: k for k, v in _SEX_BY_CODE.items()}
_DIGITS8 = re.compile(r"[0-9]{8}")
_COUNT = re.compile(r"[0-9]{1,2}")
_FOREIGN_2017_NUMBER = re.compile(r"[A-Z]{3}[0-9]{12}")  # 3 Latin letters (nationality) + 12 digits
_NATIONALITY = re.compile(r"[A-Z]{3}")


# -- decoding -------------------------------------------------------------------------------
class _Reader:
    """Reads the fields of one layout from one block, naming the field in every error."""

    def __init__(self, block: bytes, layout: dict[str, tuple[int, int]]) -> None:
        self.block, self.layout = block, layout
        try:  # one decode for the whole block; per field only when it holds a surrogate or bad bytes
            chars = block.decode("utf-16-le")
        except UnicodeDecodeError:
            chars = ""
        self.chars = chars if len(chars) == TEXT_LEN // 2 else None

    def text(self, field: str) -> str:
        start, end = self.layout[field]
        if self.chars is not None:
            return self.chars[start // 2 : end // 2].rstrip(" \x00")
        try:
            return self.block[start:end].decode("utf-16-le").rstrip(" \x00")
        except UnicodeDecodeError:
            raise InvalidCardField(field, "not UCS-2 text") from None

    def date(self, field: str) -> date:
        value = self.text(field)
        if not _DIGITS8.fullmatch(value):
            raise InvalidCardField(field, "not YYYYMMDD")
        try:
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            raise InvalidCardField(field, "not a calendar date") from None

    def valid_to(self) -> date | str:
        return LONG_TERM if self.text("valid_to") == LONG_TERM else self.date("valid_to")

    def sex(self) -> str:
        try:
            return _SEX_BY_CODE[self.text("sex")]
        except KeyError:
            raise InvalidCardField("sex", "unknown gender code") from None

    def count(self, field: str) -> int | None:
        value = self.text(field)
        if not value:
            return None
        if not _COUNT.fullmatch(value):
            raise InvalidCardField(field, "not a number")
        return int(value)

    def nationality(self) -> str:
        value = self.text("nationality")
        if not _NATIONALITY.fullmatch(value):
            raise InvalidCardField("nationality", "not a 3-letter country code")
        return value

    def common(self) -> dict:
        return dict(sex=self.sex(), birth_date=self.date("birth_date"), valid_from=self.date("valid_from"),
                    valid_to=self.valid_to())


def card_flag(block: bytes) -> str:
    """'' (resident card), 'J', 'I' or 'Y' from bytes 248-249; UnsupportedCardLayout otherwise."""
    if len(block) != TEXT_LEN:
        raise TextBlockTruncated("text block is not 256 bytes")
    try:
        flag = block[FLAG[0]:FLAG[1]].decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError:
        raise InvalidCardField("card_flag", "not UCS-2 text") from None
    if flag not in LAYOUTS:
        raise UnsupportedCardLayout("unknown card type flag")
    return flag


def decode_fields(block: bytes) -> tuple[type[IdCard], dict]:
    """The model a block's layout maps to and the fields for it (without photo and fingerprint)."""
    flag = card_flag(block)
    r = _Reader(bytes(block), LAYOUTS[flag])
    if flag in ("", "J"):
        nation = r.text("nation")
        fields = dict(name=r.text("name"), address=r.text("address"), id_number=idn.validate(r.text("id_number")),
                      issuer=r.text("issuer"), **r.common())
        if flag == "":
            fields["nation"] = _nation(nation)
        else:
            fields |= dict(nation=_nation(nation) if nation else None, pass_number=r.text("pass_number") or None,
                           issue_count=r.count("issue_count"))
    elif flag == "I":
        number = r.text("id_number")
        if not _FOREIGN_2017_NUMBER.fullmatch(number):
            raise InvalidIdNumber("2017 foreign permanent resident card number is not 3 letters and 12 digits")
        fields = dict(english_name=r.text("english_name"), chinese_name=r.text("chinese_name"), id_number=number,
                      nationality=r.nationality(), card_version=r.text("card_version"), issuer=r.text("issuer"),
                      **r.common())
    else:  # "Y"
        number = idn.validate(r.text("id_number"))
        if not number.startswith("9"):
            raise InvalidIdNumber("2023 foreign permanent resident ID number does not start with 9")
        english = (r.text("english_name").ljust(35) + r.text("english_name_2")).rstrip()
        fields = dict(chinese_name=r.text("chinese_name"), english_name=english, id_number=number,
                      nationality=r.nationality(), renewal_count=r.count("renewal_count"),
                      previous_card_link=r.text("previous_card_link"), **r.common())
    return CARD_MODELS[flag], fields


def _nation(code: str) -> str:
    try:
        return nation_name(code)
    except IdCardCodecError:
        raise InvalidCardField("nation", "unknown GB 3304 nation code") from None


def decode_card_text(block: bytes, photo: bytes = b"", fingerprint: bytes | None = None) -> IdCard:
    """The typed card a text block holds, with the photo and fingerprint of the same reply."""
    model, fields = decode_fields(block)
    try:
        return model(**fields, photo_wlt=photo, fingerprint=fingerprint or None)
    except ValidationError as exc:
        names = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise InvalidCardField(",".join(names) or "card", "does not make a valid card") from None


def decode_text(block: bytes) -> dict:
    """The card's fields as a dict (card_type and card_flag included); for callers of the old API."""
    model, fields = decode_fields(block)
    return fields | {"card_type": model.model_fields["card_type"].default, "card_flag": model.model_fields["card_flag"].default}


# -- encoding (the simulator's side) -------------------------------------------------------
def _put(block: bytearray, span: tuple[int, int], value: str, field: str) -> None:
    start, end = span
    try:
        raw = value.encode("utf-16-le")
    except UnicodeEncodeError:
        raise InvalidCardField(field, "not encodable as UCS-2") from None
    if len(raw) > end - start or len(raw) != 2 * len(value):
        raise InvalidCardField(field, "too long for its slot, or outside UCS-2")
    block[start:end] = raw + " ".encode("utf-16-le") * ((end - start - len(raw)) // 2)


def _ymd(value: date | str) -> str:
    return value if isinstance(value, str) else f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _two(value: int | None) -> str:
    return "" if value is None else f"{value:02d}"


def encode_text(card: IdCard) -> bytes:
    """The 256-byte UCS-2LE text block a SAM would return for `card`."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_LEN // 2))
    layout = LAYOUTS[card.card_flag]
    values = {"sex": _CODE_BY_SEX[card.sex], "birth_date": _ymd(card.birth_date), "id_number": card.id_number,
              "valid_from": _ymd(card.valid_from), "valid_to": _ymd(card.valid_to)}
    if isinstance(card, (ResidentIdCard, HmtResidencePermit)):
        values |= {"name": card.name, "nation": nation_code(card.nation) if card.nation else "",
                   "address": card.address, "issuer": card.issuer}
        if isinstance(card, HmtResidencePermit):
            values |= {"pass_number": card.pass_number or "", "issue_count": _two(card.issue_count)}
    elif isinstance(card, ForeignPermanentResidentCard2017):
        values |= {"english_name": card.english_name, "chinese_name": card.chinese_name,
                   "nationality": card.nationality, "card_version": card.card_version, "issuer": card.issuer}
    elif isinstance(card, ForeignPermanentResidentCard2023):
        english = card.english_name
        if len(english) > 46:
            raise InvalidCardField("english_name", "longer than 46 characters")
        values |= {"chinese_name": card.chinese_name, "renewal_count": _two(card.renewal_count),
                   "english_name": english[:35], "english_name_2": english[35:], "nationality": card.nationality,
                   "previous_card_link": card.previous_card_link}
    else:
        raise IdCardCodecError("not a card model")
    for field, value in values.items():
        _put(block, layout[field], value, field)
    if card.card_flag:
        _put(block, FLAG, card.card_flag, "card_flag")
    return bytes(block)
