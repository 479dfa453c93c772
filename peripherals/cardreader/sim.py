"""A PN532 on HSU with a transit card in its field, from the device side (real frames, real APDUs).

The card is a simulated ISO/IEC 14443-4 card with the transit purse of `purse.py`: select
by AID, file 0x15, GET BALANCE, INITIALIZE FOR LOAD / CREDIT FOR LOAD with the issuer's
test keys, GET TRANSACTION PROVE, and a record of every load it did (for tests).

Options (`sim://cardreader?...`): `card=transit|none` (default transit), `balance` (fen,
default 1250), `card_number` (default 31049900000012345678), `counter` (default 7).
Faults (besides the generic ones): `tear_before_credit` — the card leaves the field as
CREDIT FOR LOAD arrives (not credited; InDataExchange answers status 01);
`tear_after_credit` — the card is credited but leaves before its answer (status 01).
The torn card is back in the field for the next InListPassiveTarget, unless `tear_leaves=1`
(the citizen walked off with it). Fault syntax: `faults=device_error=tear_after_credit`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from peripherals.cardreader import pn532, purse
from peripherals.cardreader.pn532 import Ack, BadFrame, Frame, FrameParser, InStatus, Pn532Command, Target
from peripherals.sim.base import FaultKind, Simulator

FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # IC PN532, firmware 1.6, supports ISO 14443 A/B and ISO 18092
LIMIT_FEN = 100_000  # purse limit: 1000 yuan
TEARS = ("tear_before_credit", "tear_after_credit")  # `device_error=<tear>` faults


@dataclass
class TransitCard:
    card_number: str = "31049900000012345678"
    balance: int = 1250
    counter: int = 7  # online transaction counter: +1 per load
    selected: bool = False
    pending: tuple | None = None  # (amount, terminal, sk, counter) between INITIALIZE and CREDIT
    proofs: dict[int, bytes] = field(default_factory=dict)  # counter → MAC2 ‖ TAC of a completed load
    loads: list[int] = field(default_factory=list)  # amounts credited, in order

    @property
    def uid(self) -> bytes:
        return hashlib.sha256(self.card_number.encode()).digest()[:4]

    def apdu(self, cmd: bytes, tear: str | None = None) -> bytes | None:
        """The R-APDU, or None when the card left the field before answering."""
        ok = purse.SW_OK.to_bytes(2, "big")
        if cmd[:4] == bytes.fromhex("00A40400"):
            self.selected = cmd[5: 5 + cmd[4]] == purse.TRANSIT_AID
            return b"\x6f\x00" + ok if self.selected else b"\x6a\x82"
        if not self.selected:
            return b"\x69\x85"
        if cmd == purse.READ_PUBLIC_INFO:
            return purse.encode_public_info(purse.PublicInfo(b"\x31\x04\x99\x00\x00\x00\x00\x00", self.card_number,
                                                             "20240101", "20340101")) + ok
        if cmd == purse.GET_BALANCE:
            return self.balance.to_bytes(4, "big") + ok
        if cmd[:5] == bytes.fromhex("805000020B") and len(cmd) == 17:
            amount, terminal = int.from_bytes(cmd[6:10], "big"), cmd[10:16]
            if self.balance + amount > LIMIT_FEN:
                return purse.SW_LIMIT.to_bytes(2, "big")
            random = hashlib.sha256(f"{self.card_number}:{self.counter}:{len(self.loads)}:{amount}".encode()
                                    + bytes(self.proofs.get(self.counter - 1, b""))).digest()[:4]
            dlk = purse.diversify(purse.TEST_MASTER_LOAD_KEY, self.card_number)
            sk = purse.session_key(dlk, random, self.counter)
            self.pending = (amount, terminal, sk, self.counter)
            m1 = purse.mac1(sk, self.balance, amount, terminal)
            return purse.encode_load_init(purse.LoadInit(self.balance, self.counter, 1, 0, random, m1)) + ok
        if cmd[:5] == bytes.fromhex("805200000B") and len(cmd) == 17:
            if tear == "tear_before_credit":
                return None
            if self.pending is None:
                return b"\x69\x85"
            amount, terminal, sk, counter = self.pending
            when, got = cmd[5:12], cmd[12:16]
            if got != purse.mac2(sk, amount, terminal, when):
                self.pending = None
                return purse.SW_MAC_INVALID.to_bytes(2, "big")
            self.balance += amount
            self.counter += 1
            self.loads.append(amount)
            tac_key = purse.diversify(purse.TEST_MASTER_TAC_KEY, self.card_number)
            t = purse.tac(tac_key, self.balance, counter, amount, terminal, when)
            self.proofs[counter] = got + t
            self.pending = None
            return None if tear == "tear_after_credit" else t + ok
        if cmd[:5] == bytes.fromhex("805A000202") and len(cmd) == 8:
            proof = self.proofs.get(int.from_bytes(cmd[5:7], "big"))
            return proof + ok if proof else purse.SW_NO_TRANSACTION.to_bytes(2, "big")
        return b"\x6d\x00"


class Pn532Simulator(Simulator):
    kind = "cardreader"

    def __init__(self, faults=None, **options: str) -> None:
        super().__init__(faults, **options)
        self.parser = FrameParser()
        self.card: TransitCard | None = None
        if options.get("card", "transit") != "none":
            self.card = TransitCard(card_number=options.get("card_number", "31049900000012345678"),
                                    balance=int(options.get("balance", "1250")), counter=int(options.get("counter", "7")))
        self.in_field = self.card is not None
        self.activated = False
        self.away = False

    def place(self, card: TransitCard | None) -> None:
        """Tests: put a card on the reader (None: take it away)."""
        self.card, self.in_field, self.activated, self.away = card, card is not None, False, False

    def receive(self, data: bytes) -> None:
        for item in self.parser.feed(data):
            if isinstance(item, Frame) and item.tfi == pn532.TFI_HOST:
                self.host.send(pn532.ACK)  # type: ignore[union-attr]
                self.reply(self._answer(item))
            elif isinstance(item, BadFrame):
                self.host.send(pn532.NACK)  # type: ignore[union-attr]
            elif isinstance(item, Ack):
                pass  # the host aborting: nothing is running

    def _answer(self, frame: Frame) -> bytes:
        code, params = frame.command, frame.data[1:]
        if self.faults.next_arg() not in TEARS and self.device_error() is not None:
            return pn532.ERROR_FRAME
        if code == Pn532Command.GET_FIRMWARE_VERSION:
            return pn532.answer(code, FIRMWARE)
        if code == Pn532Command.SAM_CONFIGURATION:
            return pn532.answer(code)
        if code == Pn532Command.IN_LIST_PASSIVE_TARGET:
            if self.card is not None and not self.away:
                self.in_field = True
            if not self.in_field or self.card is None:
                return pn532.answer(code, b"\x00")
            self.activated = True
            self.card.selected = False
            ats = bytes([0x05, 0x78, 0x80, 0x70, 0x02])
            return pn532.answer(code, pn532.encode_targets([Target(1, b"\x00\x04", 0x20, self.card.uid, ats)]))
        if code == Pn532Command.IN_DATA_EXCHANGE:
            if not (self.activated and self.in_field and self.card is not None):
                return pn532.answer(code, bytes([InStatus.TIMEOUT]))
            tear = next((t for t in TEARS if params[1:3] == b"\x80\x52"
                         and self.faults.take_if(FaultKind.DEVICE_ERROR, t)), None)
            rapdu = self.card.apdu(bytes(params[1:]), tear)
            if rapdu is None:
                self.in_field, self.activated = False, False
                self.away = self.options.get("tear_leaves") == "1"  # the citizen took the card and left
                return pn532.answer(code, bytes([InStatus.TIMEOUT]))
            return pn532.answer(code, bytes([InStatus.OK]) + rapdu)
        if code == Pn532Command.IN_RELEASE:
            self.activated = False
            return pn532.answer(code, b"\x00")
        return pn532.ERROR_FRAME
