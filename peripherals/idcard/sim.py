"""A GA 467 SAM card reader from the device side, with scripted (fictional) cards.

Answers reset, SAM status, read SAM ID, find, select, read (30 01) and read with
fingerprint (30 10) with real frames. Find succeeds while a card is placed; select needs a
find first; read needs a select (it may be repeated, so a driver can re-send a read
whose reply it lost). A request with a bad checksum gets SW3 0x10, an unknown command 0x21.

Options (strings, from the `sim://idcard?...` query or `pty_sim("idcard", ...)`):
- `card=resident|hmt|foreign_i|foreign_y|none` (default resident)
- `long_term=1`: the card's valid-to date is 长期
- `latest_address=1`: a resident card or permit carries an appended address (追加住址, 30 03);
  without it the SAM answers 30 03 with SW3 0x91 (no content)
- `faults_on=read`: generic faults wait for (and hit) the next read-card reply instead of
  the next reply of any kind, so a test can garble or cut the 1295-byte frame itself
Faults: the generic ones via `reply()`; `device_error=0x41` makes the next command
answer with that SW3 and no data.

Every person here is made up (the foreign holder's cards of both versions belong to one
person, whose 2023 card links to the 2017 one: its related-card item 010 is the city code 01
and sequence digit 0 of DEU500185051204, as the vendor demo cited in docs/devices/idcard.md
derives it); their ID numbers carry valid check characters only so that
the driver's checksum validation passes.
"""

from __future__ import annotations

import hashlib
from datetime import date

from peripherals.idcard import codec
from peripherals.idcard.codec import BadFrame, Command, Frame, FrameParser, Request, Response, Sw3
from peripherals.idcard.id_number import complete
from peripherals.idcard.models import (
    LONG_TERM,
    ForeignPermanentResidentCard2017,
    ForeignPermanentResidentCard2023,
    HmtResidencePermit,
    IdCard,
    ResidentIdCard,
)
from peripherals.sim.base import Simulator

CARD_KINDS = ("resident", "hmt", "foreign_i", "foreign_y", "none")
MOVED_TO = "重庆市渝北区龙溪街道金龙路100号5栋2-1"  # the appended address of `latest_address=1` (fictional)
SAM_ID = codec.encode_sam_id(5, 1, 20190322, 1234567, 3000123456)  # "05.01-20190322-0001234567-3000123456"


def _filler(label: str, size: int) -> bytes:
    """Deterministic stand-in bytes (the real WLT photo and fingerprint are vendor-encrypted)."""
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}:{counter}".encode()).digest()
        counter += 1
    return out[:size]


def scripted_card(kind: str = "resident", long_term: bool = False) -> IdCard:
    """One of the simulator's fictional cardholders (a typed card of the kind's layout)."""
    if kind == "resident":
        return ResidentIdCard(
            name="王晓东",
            sex="男",
            nation="汉",
            birth_date=date(1988, 3, 15),
            address="重庆市渝中区解放碑街道民族路188号2单元7-3",
            id_number=complete("50010319880315123"),
            issuer="重庆市公安局渝中区分局",
            valid_from=date(2016, 5, 20),
            valid_to=LONG_TERM if long_term else date(2036, 5, 20),
            photo_wlt=_filler("photo-resident", codec.PHOTO_LEN),
            fingerprint=_filler("fingerprint-resident", codec.FINGERPRINT_LEN),
        )
    if kind == "hmt":
        return HmtResidencePermit(
            name="陈嘉欣",
            sex="女",
            birth_date=date(1995, 8, 8),
            address="重庆市江北区观音桥街道建新北路66号",
            id_number=complete("81000019950808002"),
            issuer="重庆市公安局江北区分局",
            valid_from=date(2023, 9, 1),
            valid_to=LONG_TERM if long_term else date(2028, 9, 1),
            pass_number="H60123456",
            issue_count=1,
            photo_wlt=_filler("photo-hmt", codec.PHOTO_LEN),
        )
    if kind == "foreign_i":
        # DEU + 50 (Chongqing) + 01 + 850512 (born 1985-05-12) + 0 + a check digit
        return ForeignPermanentResidentCard2017(
            english_name="MUELLER, ANNA MARIA",
            chinese_name="穆安娜",
            sex="女",
            id_number="DEU500185051204",
            nationality="DEU",
            birth_date=date(1985, 5, 12),
            valid_from=date(2018, 6, 1),
            valid_to=LONG_TERM if long_term else date(2028, 6, 1),
            card_version="01",
            issuer="5000",
            photo_wlt=_filler("photo-foreign-i", codec.PHOTO_LEN),
        )
    if kind == "foreign_y":
        # 9 + 50 (Chongqing) + 276 (Germany, ISO 3166 numeric) + 19850512 + 002 + MOD 11-2
        return ForeignPermanentResidentCard2023(
            chinese_name="穆安娜",
            sex="女",
            renewal_count=0,
            birth_date=date(1985, 5, 12),
            english_name="MUELLER-SCHMIDT, ANNA MARIA KATHARINA",
            id_number=complete("95027619850512002"),
            valid_from=date(2023, 12, 1),
            valid_to=LONG_TERM if long_term else date(2033, 12, 1),
            nationality="DEU",
            previous_card_link="010",
            photo_wlt=_filler("photo-foreign-y", codec.PHOTO_LEN),
        )
    raise ValueError(f"unknown card kind {kind!r}; one of {', '.join(CARD_KINDS)}")


_FAULT_TARGETS: dict[str, set[int]] = {
    "read": {Command.READ_BASE_INFO, Command.READ_WITH_FINGERPRINT},
    "find": {Command.FIND_CARD},
    "select": {Command.SELECT_CARD},
}


class SamReaderSimulator(Simulator):
    kind = "idcard"

    def __init__(self, faults=None, **options: str) -> None:
        super().__init__(faults, **options)
        self.long_term = options.get("long_term", "0") not in ("0", "", "false", "no")
        self.moved = options.get("latest_address", "0") not in ("0", "", "false", "no")
        self.sam_id = SAM_ID
        self.parser = FrameParser()
        self.card: IdCard | None = None
        self.found = False
        self.selected = False
        self.faults_on: set[int] | None = _FAULT_TARGETS.get(options.get("faults_on", ""))
        self._current: int | None = None
        kind = options.get("card", "resident")
        if kind != "none":
            self.place_card(kind)

    # -- test hooks -----------------------------------------------------------------------
    def place_card(self, card: str | IdCard = "resident") -> None:
        """Put a card on the reader (a scripted kind, or any IdCard)."""
        self.card = card if isinstance(card, IdCard) else scripted_card(card, self.long_term)
        if self.moved and "latest_address" in type(self.card).model_fields:
            self.card = self.card.model_copy(update={"latest_address": MOVED_TO})
        self.found = self.selected = False

    def remove_card(self) -> None:
        self.card = None
        self.found = self.selected = False

    # -- protocol -------------------------------------------------------------------------
    def on_attach(self) -> None:
        self.parser.reset()
        self.found = self.selected = False

    def receive(self, data: bytes) -> None:
        for item in self.parser.feed(data):
            if isinstance(item, BadFrame):
                self._current = None
                self._answer(Sw3.CHECKSUM_ERROR)
            elif isinstance(item, Frame):
                self._handle(item)

    def _answer(self, sw3: int, data: bytes = b"") -> None:
        frame = codec.encode_response(Response(sw3=sw3, data=data))
        if self.faults_on is not None and self._current not in self.faults_on and self.host is not None:
            self.host.send(frame)  # generic faults are held for the targeted command
        else:
            self.reply(frame)

    def _handle(self, frame: Frame) -> None:
        self._current = (frame.body[0] << 8 | frame.body[1]) if len(frame.body) >= 2 else None
        fault = self.device_error()
        if fault is not None:
            self._answer(int(fault.arg or "0x24", 16))
            return
        try:
            request = codec.decode_request(frame)
        except codec.IdCardCodecError:
            self._answer(Sw3.LENGTH_ERROR)
            return
        self._dispatch(request)

    def _dispatch(self, request: Request) -> None:
        command = request.command
        if command == Command.RESET:
            self.found = self.selected = False
            self._answer(Sw3.OK)
        elif command == Command.SAM_STATUS:
            self._answer(Sw3.OK)
        elif command == Command.READ_SAM_ID:
            self._answer(Sw3.OK, self.sam_id)
        elif command == Command.FIND_CARD:
            self.found = self.card is not None
            self.selected = False
            self._answer(Sw3.CARD_FOUND, bytes(4)) if self.found else self._answer(Sw3.NO_CARD)
        elif command == Command.SELECT_CARD:
            self.selected = self.found and self.card is not None
            self._answer(Sw3.OK, bytes(8)) if self.selected else self._answer(Sw3.SELECT_FAILED)
        elif command == Command.READ_LATEST_ADDRESS:
            if not (self.selected and self.card is not None):
                self._answer(Sw3.CARD_READ_FAILED)
            elif getattr(self.card, "latest_address", ""):
                self._answer(Sw3.OK, codec.encode_latest_address(self.card.latest_address))  # type: ignore[union-attr]
            else:
                self._answer(Sw3.NO_CONTENT)
        elif command in (Command.READ_BASE_INFO, Command.READ_WITH_FINGERPRINT):
            if not (self.selected and self.card is not None):
                self._answer(Sw3.CARD_READ_FAILED)
                return
            with_fp = command == Command.READ_WITH_FINGERPRINT
            self._answer(Sw3.OK, codec.encode_card(self.card, with_fingerprint=with_fp))
        else:
            self._answer(Sw3.COMMAND_ERROR)
