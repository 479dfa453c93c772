"""The transit card's electronic purse: its APDUs and the load (圈存) cryptography.

China's interoperable transit cards (交通联合, JT/T 978) carry a PBOC-style electronic
purse (JR/T 0025 "electronic purse/deposit" application) on an ISO/IEC 14443-4 card. A
load is a two-phase, issuer-authorised transaction, so a terminal never holds the keys:

1. INITIALIZE FOR LOAD `80 50 00 02 0B | key index | amount(4) | terminal id(6) | 10`
   → balance(4) | online counter(2) | key version | algorithm | random(4) | MAC1(4)
2. the issuer checks MAC1 and answers MAC2;
3. CREDIT FOR LOAD `80 52 00 00 0B | date(4) | time(3) | MAC2(4) | 04` → TAC(4): the card
   adds the amount, increments its online counter and proves it with the TAC;
4. GET TRANSACTION PROVE `80 5A 00 02 02 | counter(2) | 08` → MAC2 | TAC of the load with
   that counter, if the card did it — how a terminal learns, after a torn write (the card
   left the field before the answer came back), whether the money reached the card.

Keys (sessions as PBOC does it): the card's load key DLK is diversified from the issuer's
master key by the card number; session key SK = 3DES(DLK, random ‖ counter ‖ 8000);
MAC1 = MAC(SK, balance ‖ amount ‖ 02 ‖ terminal), MAC2 = MAC(SK, amount ‖ 02 ‖ terminal ‖
date ‖ time); the TAC is a MAC under the card's TAC key over the new balance, counter and
the same fields. MAC = ISO/IEC 9797-1 algorithm 1 (DES-CBC, zero IV, 80 00… padding), first
4 bytes. Status words: 9000 ok, 9302 MAC invalid, 9401 purse limit, 9406 no such
transaction (our reading of the spec; the simulator and the issuer share this module).
`TEST_MASTER_*` are made-up keys for the simulator and the reference back office only.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from peripherals.errors import CodecError

TRANSIT_AID = bytes.fromhex("A000000632010105")  # 交通联合 transit application
TRANSACTION_LOAD = 0x02  # transaction type: electronic purse load
TEST_MASTER_LOAD_KEY = bytes.fromhex("11223344556677888877665544332211")
TEST_MASTER_TAC_KEY = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")
SW_OK = 0x9000
SW_MAC_INVALID = 0x9302
SW_LIMIT = 0x9401
SW_NO_TRANSACTION = 0x9406


class PurseCodecError(CodecError):
    pass


# -- cryptography ----------------------------------------------------------------------------


def _des3(key: bytes) -> TripleDES:
    """Two-key (K1 K2 K1) or single-key (K K K) DES as the 24-byte key the library wants."""
    return TripleDES(key + key[:8] if len(key) == 16 else key * 3 if len(key) == 8 else key)


def _ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(_des3(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def diversify(master: bytes, card_number: str) -> bytes:
    """A card's 16-byte key: 3DES(master, data) ‖ 3DES(master, ¬data), data = the card number's last 8 bytes."""
    data = bytes.fromhex(card_number.rjust(16, "0")[-16:])
    return _ecb(master, data) + _ecb(master, bytes(b ^ 0xFF for b in data))


def session_key(dlk: bytes, random: bytes, counter: int) -> bytes:
    return _ecb(dlk, random + counter.to_bytes(2, "big") + b"\x80\x00")


def mac(key8: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 1 with single DES (key8), zero IV, padding method 2; 4 bytes."""
    padded = data + b"\x80" + b"\x00" * ((-len(data) - 1) % 8)
    enc = Cipher(_des3(key8), modes.CBC(b"\x00" * 8)).encryptor()
    return (enc.update(padded) + enc.finalize())[-8:][:4]


def mac1(sk: bytes, balance: int, amount: int, terminal: bytes) -> bytes:
    return mac(sk, balance.to_bytes(4, "big") + amount.to_bytes(4, "big") + bytes([TRANSACTION_LOAD]) + terminal)


def mac2(sk: bytes, amount: int, terminal: bytes, when: bytes) -> bytes:
    return mac(sk, amount.to_bytes(4, "big") + bytes([TRANSACTION_LOAD]) + terminal + when)


def tac(tac_key: bytes, new_balance: int, counter: int, amount: int, terminal: bytes, when: bytes) -> bytes:
    key8 = bytes(a ^ b for a, b in zip(tac_key[:8], tac_key[8:]))
    return mac(key8, new_balance.to_bytes(4, "big") + counter.to_bytes(2, "big") + amount.to_bytes(4, "big")
               + bytes([TRANSACTION_LOAD]) + terminal + when)


def when_bytes(when: str) -> bytes:
    """'YYYYMMDDhhmmss' → 7 BCD bytes (date 4, time 3)."""
    if len(when) != 14 or not when.isdigit():
        raise PurseCodecError("date and time are 14 digits")
    return bytes.fromhex(when)


# -- APDUs -----------------------------------------------------------------------------------


def select_aid(aid: bytes = TRANSIT_AID) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x00, len(aid)]) + aid + b"\x00"


READ_PUBLIC_INFO = bytes.fromhex("00B095001E")  # SFI 0x15, 30 bytes: issuer, type, card number, dates
GET_BALANCE = bytes.fromhex("805C000204")


def initialize_for_load(amount: int, terminal: bytes, key_index: int = 1) -> bytes:
    return bytes.fromhex("805000020B") + bytes([key_index]) + amount.to_bytes(4, "big") + terminal + b"\x10"


def credit_for_load(when: bytes, mac2_: bytes) -> bytes:
    return bytes.fromhex("805200000B") + when + mac2_ + b"\x04"


def get_transaction_prove(counter: int) -> bytes:
    return bytes.fromhex("805A000202") + counter.to_bytes(2, "big") + b"\x08"


def split_sw(rapdu: bytes) -> tuple[bytes, int]:
    if len(rapdu) < 2:
        raise PurseCodecError("a response APDU ends with SW1 SW2")
    return rapdu[:-2], int.from_bytes(rapdu[-2:], "big")


@dataclass(frozen=True)
class PublicInfo:
    """File 0x15: the card number (application serial, 10 BCD bytes) and the validity dates."""

    issuer: bytes
    card_number: str
    valid_from: str  # YYYYMMDD
    valid_until: str


def encode_public_info(info: PublicInfo) -> bytes:
    body = info.issuer[:8].ljust(8, b"\x00") + b"\x02\x01" + bytes.fromhex(info.card_number.rjust(20, "0"))
    body += bytes.fromhex(info.valid_from) + bytes.fromhex(info.valid_until) + b"\x00\x00"
    assert len(body) == 30
    return body


def decode_public_info(data: bytes) -> PublicInfo:
    if len(data) != 30:
        raise PurseCodecError("file 0x15 holds 30 bytes")
    return PublicInfo(issuer=data[:8], card_number=data[10:20].hex().upper().lstrip("0") or "0",
                      valid_from=data[20:24].hex(), valid_until=data[24:28].hex())


@dataclass(frozen=True)
class LoadInit:
    """INITIALIZE FOR LOAD's answer."""

    balance: int
    counter: int
    key_version: int
    algorithm: int
    random: bytes
    mac1: bytes


def encode_load_init(x: LoadInit) -> bytes:
    return (x.balance.to_bytes(4, "big") + x.counter.to_bytes(2, "big") + bytes([x.key_version, x.algorithm])
            + x.random + x.mac1)


def decode_load_init(data: bytes) -> LoadInit:
    if len(data) != 16:
        raise PurseCodecError("INITIALIZE FOR LOAD answers 16 bytes")
    return LoadInit(int.from_bytes(data[:4], "big"), int.from_bytes(data[4:6], "big"), data[6], data[7],
                    data[8:12], data[12:16])
