"""What the contactless reader gives the flows: the purse on the card and a load's first phase."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PurseCard(BaseModel):
    card_number: str = Field(repr=False)  # the application serial number (16-20 digits)
    balance_fen: int
    valid_until: str  # YYYYMMDD


class LoadInitInfo(BaseModel):
    """INITIALIZE FOR LOAD's answer, hex fields as the issuer's API takes them."""

    card_number: str = Field(repr=False)
    terminal_id: str  # 12 hex digits: part of MAC1, MAC2 and the TAC
    balance_fen: int
    online_counter: int
    key_version: int
    random: str
    mac1: str
