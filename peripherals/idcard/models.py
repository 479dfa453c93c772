"""What a resident ID card (or permit) holds, as read through the SAM.

Personal fields are `repr=False` so that an accidental log of the model shows none of
them; `public_dict()` is the one way out, with the ID number masked unless asked.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LONG_TERM = "长期"


class CardType(StrEnum):
    RESIDENT = "resident"  # 居民身份证
    HMT_PERMIT = "hmt_permit"  # 港澳台居民居住证 ('J')
    FOREIGN_PR = "foreign_pr"  # 外国人永久居留身份证 ('I' before 2023, 'Y' since)


class IdCard(BaseModel):
    model_config = ConfigDict(frozen=True)

    card_type: CardType
    name: str = Field(repr=False)  # Chinese name (foreign cards: Chinese name, may be empty)
    sex: Literal["男", "女", "未知", "未说明"] = Field(repr=False)
    nation: str | None = Field(default=None, repr=False)  # GB 3304 name, e.g. 汉; None on foreign cards
    birth_date: date = Field(repr=False)
    address: str = Field(default="", repr=False)
    id_number: str = Field(repr=False)
    issuer: str = Field(default="", repr=False)
    valid_from: date = Field(repr=False)
    valid_to: date | Literal["长期"] = Field(repr=False)
    english_name: str | None = Field(default=None, repr=False)
    nationality: str | None = Field(default=None, repr=False)  # ISO 3166 alpha-3 on foreign cards
    pass_number: str | None = Field(default=None, repr=False)  # HMT permit: 通行证号码
    issue_count: int | None = Field(default=None, repr=False)  # HMT permit: 签发次数; 'Y': renewal count
    card_version: str | None = Field(default=None, repr=False)
    # The letter at text bytes 248-249 the layout was chosen by: "" resident card, "J" HMT
    # permit, "I" foreign permanent residence card (pre-2023), "Y" (2023 version).
    card_flag: Literal["", "J", "I", "Y"] = ""
    related_card: str | None = Field(default=None, repr=False)  # 'Y': link to the old card number
    photo_wlt: bytes = Field(default=b"", repr=False, exclude=True)  # 1024 B vendor-encrypted WLT
    fingerprint: bytes | None = Field(default=None, repr=False, exclude=True)

    def masked_id(self) -> str:
        return mask_id(self.id_number)

    def public_dict(self, reveal: bool = False) -> dict[str, str]:
        """The JSON `kiosk-devices read idcard` prints (dates as YYYY-MM-DD)."""
        return {
            "card_type": self.card_type.value,
            "name": self.name,
            "sex": self.sex,
            "nation": self.nation or "",
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "id_number": self.id_number if reveal else self.masked_id(),
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to if isinstance(self.valid_to, str) else self.valid_to.isoformat(),
        }


def mask_id(id_number: str) -> str:
    """All but the last 4 characters replaced by '*'."""
    return "*" * max(0, len(id_number) - 4) + id_number[-4:]
