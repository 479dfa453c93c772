"""The four text-block layouts, decoded from blocks built BY HAND from the published offsets.

The blocks are written here byte by byte (UCS-2LE, space padded) from the offset tables in
docs/devices/idcard.md, never with the codec's own encoder, so a wrong offset in the codec
fails here even if encoder and decoder agree with each other. Two fixtures hold the public
specimen cards of the Synjones (新中新) web-API reader manual V3.3.4 (2017 and 2023 foreign
permanent resident cards, holder "证件样本" / "ZHENGJIAN, YANGBEN"); the others are fictional.
"""

from __future__ import annotations

from datetime import date

import pytest

from peripherals.idcard import codec
from peripherals.idcard.driver import SamIdCardReader
from peripherals.idcard.errors import (
    CardReadFailed,
    IdCardCodecError,
    InvalidCardField,
    InvalidIdNumber,
    TextBlockTruncated,
    UnsupportedCardLayout,
)
from peripherals.idcard.id_number import complete
from peripherals.idcard.models import (
    LONG_TERM,
    CardType,
    ForeignPermanentResidentCard2017,
    ForeignPermanentResidentCard2023,
    HmtResidencePermit,
    ResidentIdCard,
)
from peripherals.idcard.sim import scripted_card


def hand_block(*fields: tuple[int, str]) -> bytes:
    """256 bytes of UCS-2LE spaces with each (offset, text) written in place."""
    block = bytearray("\u0020".encode("utf-16-le") * 128)
    for offset, text in fields:
        raw = text.encode("utf-16-le")
        block[offset : offset + len(raw)] = raw
    return bytes(block)


# Synjones web-API manual V3.3.4, "2023版永居证返回示例": the specimen card, laid out per the
# 2023 table (t_idforeigner2023 / CEPRSampleDemo: 0 中文姓名, 30 性别, 32 换证次数, 36 出生日期,
# 52 英文姓名 1-35, 122 证件号码, 158 预留, 188/204 有效期, 220 英文姓名 36-46, 242 国籍, 248 'Y', 250 关联项).
SPECIMEN_2023 = hand_block(
    (0, "证件样本"), (30, "2"), (32, "00"), (36, "19800101"), (52, "ZHENGJIAN, YANGBEN"),
    (122, "931586198001010028"), (188, "20230808"), (204, "20330807"), (242, "PAK"), (248, "Y"), (250, "000"),
)
# Same manual, "2017版外国人居住证返回示例", per the 2017 table (afzhan.com 数据项表, t_idforeigner):
# 0 英文姓名 (120 B), 120 性别, 122 证件号码 (15 chars), 152 国籍, 158 中文姓名, 188/204 有效期,
# 220 出生日期, 236 证件版本号, 240 受理机关代码, 248 'I'.
SPECIMEN_2017 = hand_block(
    (0, "ZHENGJIAN,YANGBEN"), (120, "2"), (122, "CAN110081080319"), (152, "CAN"), (158, "证件样本"),
    (188, "20151025"), (204, "20251024"), (220, "19810803"), (236, "01"), (240, "1500"), (248, "I"),
)
# A fictional HK permit per the 'J' table (t_idcardinfor: the resident layout, then 220 通行证号码
# (18 B), 238 签发次数 (4 B), 248 'J'); the number is fictional with a valid MOD 11-2 character.
HMT = hand_block(
    (0, "陈嘉欣"), (30, "2"), (36, "19950808"), (52, "重庆市江北区观音桥街道建新北路66号"), (122, "810000199508080024"),
    (158, "重庆市公安局江北区分局"), (188, "20230901"), (204, "20280901"), (220, "H60123456"), (238, "01"), (248, "J"),
)
# A resident card per the GA/T 490 table (wiki.nfc.im 机读文字信息): the number is GB 11643's own example.
RESIDENT = hand_block(
    (0, "李明"), (30, "1"), (32, "01"), (36, "19491231"), (52, "北京市朝阳区示例路1号"), (122, "11010519491231002X"),
    (158, "北京市公安局朝阳分局"), (188, "20100101"), (204, "长期"),
)


def test_2023_specimen():
    card = codec.decode_card(codec.CardData(text=SPECIMEN_2023, photo=b""))
    assert isinstance(card, ForeignPermanentResidentCard2023) and card.card_type is CardType.FOREIGN_PR
    assert card.name == card.english_name == "ZHENGJIAN, YANGBEN" and card.chinese_name == "证件样本"
    assert (card.sex, card.birth_date, card.id_number) == ("女", date(1980, 1, 1), "931586198001010028")
    assert (card.valid_from, card.valid_to) == (date(2023, 8, 8), date(2033, 8, 7))
    assert (card.nationality, card.renewal_count, card.previous_card_link) == ("PAK", 0, "000")
    assert codec.encode_text(card) == SPECIMEN_2023  # and our encoder lays it out the same way


def test_2017_specimen():
    card = codec.decode_card(codec.CardData(text=SPECIMEN_2017, photo=b""))
    assert isinstance(card, ForeignPermanentResidentCard2017)
    assert card.name == "ZHENGJIAN,YANGBEN" and card.chinese_name == "证件样本"
    assert (card.id_number, card.nationality, card.card_version, card.issuer) == ("CAN110081080319", "CAN", "01", "1500")
    assert (card.birth_date, card.valid_from, card.valid_to) == (date(1981, 8, 3), date(2015, 10, 25), date(2025, 10, 24))
    assert codec.encode_text(card) == SPECIMEN_2017


def test_2023_english_name_continues_at_220():
    name = "MUELLER-SCHMIDT, ANNA MARIA KATHARINA"  # 37 characters: 35 at byte 52, 2 at byte 220
    block = hand_block((0, "穆安娜"), (30, "2"), (32, "01"), (36, "19850512"), (52, name[:35]),
                       (122, "950276198505120021"), (188, "20231201"), (204, "20331201"), (220, name[35:]),
                       (242, "DEU"), (248, "Y"))
    card = codec.decode_card(codec.CardData(text=block, photo=b""))
    assert card.english_name == name and card.renewal_count == 1 and card.previous_card_link == ""
    assert card.public_dict()["name"] == name


def test_hmt_permit():
    card = codec.decode_card(codec.CardData(text=HMT, photo=b""))
    assert isinstance(card, HmtResidencePermit) and card.name == "陈嘉欣" and card.nation is None
    assert (card.pass_number, card.issue_count, card.address) == ("H60123456", 1, "重庆市江北区观音桥街道建新北路66号")
    assert card == scripted_card("hmt").model_copy(update={"photo_wlt": b""})
    assert codec.encode_text(card) == HMT


def test_resident_card():
    card = codec.decode_card(codec.CardData(text=RESIDENT, photo=b""))
    assert isinstance(card, ResidentIdCard) and (card.name, card.nation, card.valid_to) == ("李明", "汉", LONG_TERM)
    assert card.public_dict(reveal=True)["nation_code"] == "01" and card.issuer == "北京市公安局朝阳分局"
    assert codec.encode_text(card) == RESIDENT


def test_the_public_dict_hides_numbers_unless_revealed():
    card = codec.decode_card(codec.CardData(text=HMT, photo=b""))
    hidden, shown = card.public_dict(), card.public_dict(reveal=True)
    assert hidden["id_number"] == "**************0024" and hidden["pass_number"] == "*****3456"
    assert shown["id_number"] == "810000199508080024" and shown["pass_number"] == "H60123456"
    assert "810000" not in repr(card) and "陈嘉欣" not in repr(card)  # personal fields stay out of repr


def _with(block: bytes, offset: int, text: str) -> bytes:
    raw = text.encode("utf-16-le", "surrogatepass")
    return block[:offset] + raw + block[offset + len(raw):]


@pytest.mark.parametrize("block, error, field", [
    (SPECIMEN_2023[:255], TextBlockTruncated, None),
    (SPECIMEN_2023 + b"  ", TextBlockTruncated, None),
    (_with(SPECIMEN_2023, 248, "Z"), UnsupportedCardLayout, None),
    (_with(SPECIMEN_2023, 36, "19801301"), InvalidCardField, "birth_date"),
    (_with(SPECIMEN_2023, 242, "P1K"), InvalidCardField, "nationality"),
    (_with(SPECIMEN_2023, 32, "0X"), InvalidCardField, "renewal_count"),
    (_with(SPECIMEN_2023, 0, "\ud800"), InvalidCardField, "chinese_name"),
    (_with(SPECIMEN_2023, 122, "131586198001010028"[:17] + "0"), InvalidIdNumber, None),  # not 9…, bad check
    (_with(SPECIMEN_2017, 122, "CA1110081080319"), InvalidIdNumber, None),  # not 3 letters + 12 digits
    (_with(SPECIMEN_2017, 120, "7"), InvalidCardField, "sex"),
    (_with(HMT, 238, "A1"), InvalidCardField, "issue_count"),
    (_with(RESIDENT, 32, "77"), InvalidCardField, "nation"),
    (_with(RESIDENT, 204, "长久"), InvalidCardField, "valid_to"),
])
def test_bad_blocks_raise_typed_errors_naming_the_field(block, error, field):
    with pytest.raises(error) as info:
        codec.decode_card(codec.CardData(text=block, photo=b""))
    assert isinstance(info.value, IdCardCodecError)
    if field:
        assert info.value.field == field
    assert "1980" not in str(info.value) and "PAK" not in str(info.value)  # never the contents


def test_a_2023_number_must_start_with_9():
    other = "110105194912310021"[:17]
    with pytest.raises(InvalidIdNumber, match="start with 9"):
        codec.decode_card(codec.CardData(text=_with(SPECIMEN_2023, 122, complete(other)), photo=b""))


def test_the_driver_reports_a_bad_field_as_a_read_to_repeat(monkeypatch):
    """A frame with a right XOR but a wrong field is a misread: CardReadFailed (place the card again)."""
    bad = _with(SPECIMEN_2023, 36, "19801301")
    encode = codec.encode_card

    def encode_with_bad_text(card, with_fingerprint=False):
        data = encode(card, with_fingerprint)
        return data[:4] + bad + data[4 + 256:]

    monkeypatch.setattr(codec, "encode_card", encode_with_bad_text)  # what the simulator sends
    with SamIdCardReader("sim://idcard?card=foreign_y", retries=0) as reader:
        with pytest.raises(CardReadFailed, match="birth_date"):
            reader.read_card()


# -- the appended address (追加住址, 30 03) ------------------------------------------------------
def _reader(query: str, **kw):
    import secrets

    from peripherals.sim import registry

    name = "idc-" + secrets.token_hex(4)
    reader = SamIdCardReader(f"sim://idcard?name={name}&{query}", timeout=0.3, retries=1, **kw)
    reader.open()
    return reader, registry.named(name)


@pytest.mark.parametrize("query, expected", [
    ("latest_address=1", "重庆市渝北区龙溪街道金龙路100号5栋2-1"),  # moved: the SAM answers 90 + 70 bytes
    ("", ""),  # never moved: 91 (no content)
    ("card=hmt&latest_address=1", "重庆市渝北区龙溪街道金龙路100号5栋2-1"),
])
def test_the_appended_address_is_read_on_request(query, expected):
    reader, _ = _reader(query, with_latest_address=True)
    try:
        card = reader.read_card()
        assert card.latest_address == expected and card.public_dict()["latest_address"] == expected
        assert card.address != expected  # the address printed on the card stays as it was
    finally:
        reader.close()
    plain, _ = _reader(query)  # not asked: one read less, nothing appended
    try:
        assert plain.read_card().latest_address == ""
    finally:
        plain.close()


def test_a_sam_without_the_address_command_still_reads_the_card(monkeypatch):
    from peripherals.idcard.codec import Command, Sw3

    reader, sim = _reader("latest_address=1", with_latest_address=True)
    dispatch = sim._dispatch

    def no_30_03(request):
        if request.command == Command.READ_LATEST_ADDRESS:
            sim._answer(Sw3.COMMAND_ERROR)
        else:
            dispatch(request)

    monkeypatch.setattr(sim, "_dispatch", no_30_03)
    try:
        card = reader.read_card()
        assert card.name == "王晓东" and card.latest_address == ""
    finally:
        reader.close()


def test_appended_address_codec():
    raw = codec.encode_latest_address("重庆市渝北区金龙路100号")
    assert len(raw) == 70 and codec.decode_latest_address(raw) == "重庆市渝北区金龙路100号"
    with pytest.raises(IdCardCodecError):
        codec.decode_latest_address(raw[:69])
    with pytest.raises(IdCardCodecError):
        codec.encode_latest_address("长" * 36)
