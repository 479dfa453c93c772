"""What each kind of card holds, as read through the SAM: one typed model per text-block layout.

| model | card | flag (bytes 248-249) |
|---|---|---|
| `ResidentIdCard` | 居民身份证, 2nd generation | none |
| `HmtResidencePermit` | 港澳台居民居住证 | 'J' |
| `ForeignPermanentResidentCard2017` | 外国人永久居留身份证, 2017 version | 'I' |
| `ForeignPermanentResidentCard2023` | 外国人永久居留身份证, 2023 version | 'Y' |

`IdCard` is the base (the fields every layout has); `card.name` is on every model and is the
name the holder goes by: the Chinese name on resident cards and permits, the English name (the
primary name) on the foreign cards, whose Chinese name is `chinese_name` and may be empty.

Personal fields are `repr=False` so that an accidental log of a model shows none of them;
`public_dict()` is the one way out, with the ID and pass numbers masked unless asked.
Layouts and sources: docs/devices/idcard.md.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from peripherals.idcard.nations import nation_code

LONG_TERM = "长期"
Sex = Literal["男", "女", "未知", "未说明"]


class CardType(StrEnum):
    RESIDENT = "resident"  # 居民身份证
    HMT_PERMIT = "hmt_permit"  # 港澳台居民居住证 ('J')
    FOREIGN_PR = "foreign_pr"  # 外国人永久居留身份证 ('I' 2017 version, 'Y' 2023 version)


class IdCard(BaseModel):
    """The fields of every layout. Concrete cards are the subclasses below (decode_card picks one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    card_type: CardType
    card_flag: Literal["", "J", "I", "Y"]
    sex: Sex = Field(repr=False)
    birth_date: date = Field(repr=False)
    id_number: str = Field(repr=False)
    valid_from: date = Field(repr=False)
    valid_to: date | Literal["长期"] = Field(repr=False)
    photo_wlt: bytes = Field(default=b"", repr=False, exclude=True)  # 1024 B vendor-encrypted WLT
    fingerprint: bytes | None = Field(default=None, repr=False, exclude=True)

    layout: str = ""  # overridden per model: the layout's short name in JSON and docs

    @property
    def is_foreign(self) -> bool:
        return self.card_type is CardType.FOREIGN_PR

    def masked_id(self) -> str:
        return mask_id(self.id_number)

    def public_dict(self, reveal: bool = False) -> dict[str, Any]:
        """The JSON `kiosk-devices read idcard` prints: every field the card carries (dates YYYY-MM-DD).

        The keys of the resident card are there for every card ("" where a layout has no such
        field), so a reader of the old output keeps working; each layout adds its own.
        """
        name = getattr(self, "name", "")
        base: dict[str, Any] = {
            "card_type": self.card_type.value,
            "layout": self.layout,
            "card_flag": self.card_flag,
            "name": name,
            "sex": self.sex,
            "nation": getattr(self, "nation", None) or "",
            "birth_date": self.birth_date.isoformat(),
            "address": getattr(self, "address", ""),
            "id_number": self.id_number if reveal else self.masked_id(),
            "issuer": getattr(self, "issuer", ""),
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to if isinstance(self.valid_to, str) else self.valid_to.isoformat(),
        }
        return base | self._own_fields(reveal)

    def _own_fields(self, reveal: bool) -> dict[str, Any]:
        return {}


class ResidentIdCard(IdCard):
    """居民身份证 (GA 467 / GA/T 490 text block): name, sex, nation, birth, address, number, issuer, validity."""

    card_type: Literal[CardType.RESIDENT] = CardType.RESIDENT
    card_flag: Literal[""] = ""
    layout: Literal["resident"] = "resident"
    name: str = Field(repr=False)
    nation: str = Field(repr=False)  # GB 3304 name without 族, e.g. 汉
    address: str = Field(default="", repr=False)
    issuer: str = Field(default="", repr=False)  # 签发机关
    latest_address: str = Field(default="", repr=False)  # 追加住址 (30 03), read on request; "" none

    def _own_fields(self, reveal: bool) -> dict[str, Any]:
        return {"nation_code": nation_code(self.nation), "latest_address": self.latest_address}


class HmtResidencePermit(IdCard):
    """港澳台居民居住证: the resident layout plus 通行证号码 (the holder's mainland travel permit) and 签发次数."""

    card_type: Literal[CardType.HMT_PERMIT] = CardType.HMT_PERMIT
    card_flag: Literal["J"] = "J"
    layout: Literal["hmt_permit"] = "hmt_permit"
    name: str = Field(repr=False)
    nation: str | None = Field(default=None, repr=False)  # reserved on permits; kept if a card has one
    address: str = Field(default="", repr=False)
    issuer: str = Field(default="", repr=False)
    pass_number: str | None = Field(default=None, repr=False)  # 通行证号码, e.g. H60123456
    issue_count: int | None = Field(default=None, repr=False)  # 签发次数
    latest_address: str = Field(default="", repr=False)  # 追加住址 (30 03), read on request; "" none

    def _own_fields(self, reveal: bool) -> dict[str, Any]:
        number = self.pass_number or ""
        return {"pass_number": number if reveal else mask_id(number), "issue_count": self.issue_count,
                "latest_address": self.latest_address}


class ForeignPermanentResidentCard(IdCard):
    """What both foreign permanent resident cards hold: English name (the primary name), nationality."""

    card_type: Literal[CardType.FOREIGN_PR] = CardType.FOREIGN_PR
    english_name: str = Field(default="", repr=False)  # upper-case Latin letters, "SURNAME, GIVEN NAMES"
    chinese_name: str = Field(default="", repr=False)  # may be empty
    nationality: str = Field(pattern=r"^[A-Z]{3}$", repr=False)  # GB/T 2659 = ISO 3166-1 alpha-3

    @property
    def name(self) -> str:
        """The primary name: the English name (the Chinese one only if a card carries no English name)."""
        return self.english_name or self.chinese_name

    def _foreign_fields(self) -> dict[str, Any]:
        return {"english_name": self.english_name, "chinese_name": self.chinese_name, "nationality": self.nationality}


class ForeignPermanentResidentCard2017(ForeignPermanentResidentCard):
    """2017 version ('I'): 15-character card number, card version, the accepting authority's code."""

    card_flag: Literal["I"] = "I"
    layout: Literal["foreign_pr_2017"] = "foreign_pr_2017"
    card_version: str = Field(default="", repr=False)  # 证件版本号, e.g. 01
    issuer: str = Field(default="", repr=False)  # 当次申请受理机关代码 (a code, e.g. 1500)

    def _own_fields(self, reveal: bool) -> dict[str, Any]:
        return self._foreign_fields() | {"card_version": self.card_version}


class ForeignPermanentResidentCard2023(ForeignPermanentResidentCard):
    """2023 version ('Y'): 18-digit number starting with 9, renewal count, link to the previous card."""

    card_flag: Literal["Y"] = "Y"
    layout: Literal["foreign_pr_2023"] = "foreign_pr_2023"
    renewal_count: int | None = Field(default=None, repr=False)  # 换证次数
    previous_card_link: str = Field(default="", repr=False)  # 既往版本外国人永久居留证件号码关联项 (3 chars)

    def _own_fields(self, reveal: bool) -> dict[str, Any]:
        return self._foreign_fields() | {"renewal_count": self.renewal_count,
                                         "previous_card_link": self.previous_card_link}


CARD_MODELS: dict[str, type[IdCard]] = {
    "": ResidentIdCard, "J": HmtResidencePermit, "I": ForeignPermanentResidentCard2017,
    "Y": ForeignPermanentResidentCard2023,
}


# Labels of `kiosk-devices read idcard --format text`, in public_dict's key order.
FIELD_LABELS: dict[str, str] = {
    "card_type": "Card type / 证件类别", "layout": "Card / 证件", "card_flag": "Type flag / 证件类型标识",
    "name": "Name / 姓名", "sex": "Sex / 性别", "nation": "Nation / 民族", "birth_date": "Born / 出生日期",
    "address": "Address / 住址", "id_number": "Number / 证件号码", "issuer": "Issued by / 签发机关",
    "valid_from": "Valid from / 有效期起始", "valid_to": "Valid to / 有效期截止", "nation_code": "Nation code / 民族代码",
    "pass_number": "Travel permit / 通行证号码", "issue_count": "Issue count / 签发次数",
    "english_name": "English name / 英文姓名", "chinese_name": "Chinese name / 中文姓名",
    "nationality": "Nationality / 国籍", "card_version": "Card version / 证件版本号",
    "renewal_count": "Renewals / 换证次数", "previous_card_link": "Previous card link / 既往版本证件号码关联项",
    "latest_address": "Latest address / 最新住址",
}


def text_lines(fields: dict[str, Any]) -> list[str]:
    """One "Label / 标签: value" line per field that has a value (public_dict's output)."""
    return [f"{FIELD_LABELS.get(k, k)}: {v}" for k, v in fields.items() if v not in ("", None)]


def mask_id(id_number: str) -> str:
    """All but the last 4 characters replaced by '*'."""
    return "*" * max(0, len(id_number) - 4) + id_number[-4:]
