"""GA 467 SAM codec: golden frames from public code, text-block layouts, ID numbers, nations."""

from __future__ import annotations

from datetime import date

import pytest

from peripherals.errors import DeviceFault, ProtocolError
from peripherals.idcard import codec, errors
from peripherals.idcard.codec import BadFrame, Command, Frame, FrameParser, Response
from peripherals.idcard.errors import IdCardCodecError, InvalidIdNumber, UnsupportedCardLayout
from peripherals.idcard.id_number import check_char, complete, is_valid, validate
from peripherals.idcard.models import LONG_TERM, CardType
from peripherals.idcard.nations import NATIONS, nation_code, nation_name
from peripherals.idcard.sim import scripted_card

H = "AA AA AA 96 69 "


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


# -- golden request frames --------------------------------------------------------------------
# raymond1860/idr source/host/IdentityCard.c `cmds_list` (reset, SAM id, find, select, read);
# 11 FF and 30 10 from libsamv.h SAMV_CMD/SAMV_PARA with the same XOR rule (HslCommunication
# SAMSerial.PackToSAMCommand), as listed in /work/shared/reference/peripherals.md §1.
@pytest.mark.parametrize(
    "command, golden",
    [
        (Command.RESET, H + "00 03 10 FF EC"),
        (Command.SAM_STATUS, H + "00 03 11 FF ED"),
        (Command.READ_SAM_ID, H + "00 03 12 FF EE"),
        (Command.FIND_CARD, H + "00 03 20 01 22"),
        (Command.SELECT_CARD, H + "00 03 20 02 21"),
        (Command.READ_BASE_INFO, H + "00 03 30 01 32"),
        (Command.READ_WITH_FINGERPRINT, H + "00 03 30 10 23"),
    ],
)
def test_golden_requests(command, golden):
    assert codec.command_frame(command) == hx(golden)
    (frame,) = codec.decode_frames(hx(golden))
    request = codec.decode_request(frame)
    assert (request.cmd, request.para, request.data) == (command.cmd, command.para, b"")


# -- golden replies ---------------------------------------------------------------------------
# raymond1860/idr IdentityCard.c `cmds_list[].resp` (reset OK `00 00 90 94`, find OK
# `00 00 9f 00 00 00 00 97`, select OK `00 00 90` + 8x00 + `9c`); the no-card and select-failed
# replies `…00 04 00 00 80 84` / `…00 04 00 00 81 85` from libsamv.h status codes.
@pytest.mark.parametrize(
    "golden, sw3, data",
    [
        (H + "00 04 00 00 90 94", 0x90, b""),
        (H + "00 08 00 00 9F 00 00 00 00 97", 0x9F, bytes(4)),
        (H + "00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", 0x90, bytes(8)),
        (H + "00 04 00 00 80 84", 0x80, b""),
        (H + "00 04 00 00 81 85", 0x81, b""),
    ],
)
def test_golden_responses(golden, sw3, data):
    assert codec.encode_response(Response(sw3=sw3, data=data)) == hx(golden)
    (frame,) = codec.decode_frames(hx(golden))
    assert codec.decode_response(frame) == Response(sw3=sw3, data=data)


def test_read_reply_layout_matches_published_offsets():
    # DeviceConstants.java comment + IdentityCard.c: LEN 0x0508, 1295 bytes, `01 00` `04 00`;
    # HslCommunication ExtractIdentityCard takes the text at frame offset 14 and photo at 270.
    card = scripted_card("resident")
    frame = codec.encode_read_reply_frame(card)
    assert len(frame) == 1295
    assert frame[:14] == hx(H + "05 08 00 00 90 01 00 04 00")
    assert frame[14:270] == codec.encode_text(card)
    assert frame[270:1294] == card.photo_wlt
    with_fp = codec.encode_read_reply_frame(card, with_fingerprint=True)
    assert len(with_fp) == 2321 and with_fp[5:7] == b"\x09\x0a" and with_fp[10:16] == hx("01 00 04 00 04 00")


def test_sam_id_format():
    # `xx.xx-<u32 LE>-<u32 LE>-<u32 LE>`: HslCommunication ExtractSafeModuleNumber (the dot,
    # bytes 0/2) and raymond1860/idr SamID_Caculate (u16 LE x2, u32 LE x3, 8/10/10 digits).
    raw = bytes([5, 0, 1, 0]) + (20190322).to_bytes(4, "little") + (1234567).to_bytes(4, "little") + (3000123456).to_bytes(4, "little")
    reply = codec.encode_response(Response(sw3=0x90, data=raw))
    assert len(reply) == 7 + 3 + 16 + 1
    (frame,) = codec.decode_frames(reply)
    assert str(codec.decode_sam_id(codec.decode_response(frame).data)) == "05.01-20190322-0001234567-3000123456"
    assert codec.encode_sam_id(5, 1, 20190322, 1234567, 3000123456) == raw
    with pytest.raises(IdCardCodecError):
        codec.decode_sam_id(raw[:15])


def test_checksum_is_xor_of_length_and_body():
    assert codec.xor_checksum(b"") == 0
    assert codec.xor_checksum(hx("00 03 10 FF")) == 0xEC
    data = bytes(range(256)) * 5 + b"\x07"
    expected = 0
    for b in data:
        expected ^= b
    assert codec.xor_checksum(data) == expected


# -- strict and incremental frame parsing -----------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        hx(H + "00 03 10 FF ED"),  # wrong checksum
        hx(H + "00 03 10 FF"),  # truncated
        hx("AA AA AA 96 68 00 03 10 FF EC"),  # wrong preamble
        hx(H + "00 02 10 12"),  # length below minimum
        hx(H + "00 03 10 FF EC 00"),  # trailing byte
    ],
)
def test_decode_frames_rejects(bad):
    with pytest.raises(IdCardCodecError):
        codec.decode_frames(bad)


def test_parser_resyncs_after_garbage_and_bad_frames():
    good = codec.encode_response(Response(sw3=0x90, data=b"\x01\x02"))
    corrupt = good[:-1] + bytes([good[-1] ^ 1])
    stream = b"\x00\xaa\xaa\x13" + corrupt + b"\xaa\xaa\xaa\x96" + good + codec.command_frame(Command.RESET)
    parser = FrameParser()
    items = []
    for i in range(0, len(stream), 3):  # byte-wise arrival in small chunks
        items += parser.feed(stream[i : i + 3])
    frames = [i for i in items if isinstance(i, Frame)]
    assert [codec.decode_response(frames[0]).data, frames[1].body] == [b"\x01\x02", hx("10 FF")]
    assert any(isinstance(i, BadFrame) for i in items)
    assert parser.discarded > 0 and parser.pending == 0


def test_parser_holds_partial_preamble_and_frame():
    parser = FrameParser()
    frame = codec.command_frame(Command.FIND_CARD)
    assert parser.feed(b"\x55" + frame[:4]) == []
    assert parser.pending == 4 and parser.discarded == 1
    assert parser.feed(frame[4:]) == [Frame(body=hx("20 01"))]


def test_parser_reports_impossible_length():
    parser = FrameParser()
    items = parser.feed(hx(H + "FF FF 00"))
    assert items == [BadFrame(reason="length out of range")]


# -- text blocks ------------------------------------------------------------------------------
def test_resident_text_block_field_offsets():
    card = scripted_card("resident")
    block = codec.encode_text(card)
    assert len(block) == 256
    # IDReader.h / YinanSoft decodeInfo offsets (reference §1 table)
    assert block[0:6].decode("utf-16-le") == "王晓东" and block[6:8] == " ".encode("utf-16-le")
    assert block[30:32].decode("utf-16-le") == "1"
    assert block[32:36].decode("utf-16-le") == "01"
    assert block[36:52].decode("utf-16-le") == "19880315"
    assert block[122:158].decode("utf-16-le") == card.id_number
    assert block[188:204].decode("utf-16-le") == "20160520"
    assert block[204:220].decode("utf-16-le") == "20360520"
    assert block[248:250] == b" \x00"
    fields = codec.decode_text(block)
    assert fields["name"] == "王晓东" and fields["nation"] == "汉" and fields["sex"] == "男"
    assert fields["address"].startswith("重庆市渝中区")


def test_resident_long_term_validity():
    card = scripted_card("resident", long_term=True)
    block = codec.encode_text(card)
    assert block[204:220].decode("utf-16-le").rstrip() == "长期"
    assert codec.decode_text(block)["valid_to"] == LONG_TERM


def test_hmt_permit_fields():
    card = scripted_card("hmt")
    block = codec.encode_text(card)
    assert block[248:250].decode("utf-16-le") == "J"
    assert block[220:238].decode("utf-16-le") == "H60123456"
    assert block[238:242].decode("utf-16-le") == "01"
    decoded = codec.decode_card(codec.CardData(text=block, photo=card.photo_wlt))
    assert decoded == card
    assert decoded.card_type is CardType.HMT_PERMIT and decoded.nation is None and decoded.issue_count == 1


def test_foreign_i_fields():
    card = scripted_card("foreign_i")
    block = codec.encode_text(card)
    assert block[248:250].decode("utf-16-le") == "I"
    assert block[0:38].decode("utf-16-le") == "MUELLER, ANNA MARIA"
    assert block[122:152].decode("utf-16-le") == "DEU500185051204"
    assert block[152:158].decode("utf-16-le") == "DEU"
    assert block[158:164].decode("utf-16-le") == "穆安娜"
    assert block[220:236].decode("utf-16-le") == "19850512"
    decoded = codec.decode_card(codec.CardData(text=block, photo=card.photo_wlt))
    assert decoded == card and decoded.card_type is CardType.FOREIGN_PR and not hasattr(decoded, "nation")


def test_foreign_y_fields_and_long_english_name():
    card = scripted_card("foreign_y")
    assert len(card.english_name) > 35  # spills into the continuation at 220-241
    block = codec.encode_text(card)
    assert block[248:250].decode("utf-16-le") == "Y"
    assert block[52:122].decode("utf-16-le") == card.english_name[:35]
    assert block[220:242].decode("utf-16-le").rstrip() == card.english_name[35:]
    assert block[242:248].decode("utf-16-le") == "DEU"
    assert block[32:36].decode("utf-16-le") == "00"
    decoded = codec.decode_card(codec.CardData(text=block, photo=card.photo_wlt))
    assert decoded == card and decoded.card_flag == "Y"


@pytest.mark.parametrize("kind", ["resident", "hmt", "foreign_i", "foreign_y"])
def test_read_reply_frame_round_trip(kind):
    card = scripted_card(kind)
    frame = codec.encode_read_reply_frame(card)
    assert codec.decode_read_reply_frame(frame) == card.model_copy(update={"fingerprint": None})
    fp_frame = codec.encode_read_reply_frame(card, with_fingerprint=True)
    assert codec.decode_read_reply_frame(fp_frame) == card


def test_unknown_flag_is_unsupported_layout():
    block = bytearray(codec.encode_text(scripted_card("resident")))
    block[248:250] = "Q".encode("utf-16-le")
    with pytest.raises(UnsupportedCardLayout):
        codec.decode_text(bytes(block))


def test_bad_id_checksum_is_invalid_id_number():
    card = scripted_card("resident")
    block = bytearray(codec.encode_text(card))
    wrong = "0" if card.id_number[-1] != "0" else "1"
    block[156:158] = wrong.encode("utf-16-le")
    with pytest.raises(InvalidIdNumber) as info:
        codec.decode_text(bytes(block))
    assert card.id_number[:10] not in str(info.value)  # no personal data in the message


@pytest.mark.parametrize(
    "offset, value",
    [(30, "5"), (32, "77"), (36, "19881315"), (204, "长久"), (0, "\ud800")],
)
def test_bad_fields_raise_codec_error(offset, value):
    block = bytearray(codec.encode_text(scripted_card("resident")))
    raw = value.encode("utf-16-le", "surrogatepass")
    block[offset : offset + len(raw)] = raw
    with pytest.raises(IdCardCodecError):
        codec.decode_text(bytes(block))


def test_read_reply_length_fields_checked():
    data = codec.encode_card(scripted_card("resident"))
    with pytest.raises(IdCardCodecError):
        codec.decode_card_data(data[:-1])
    with pytest.raises(IdCardCodecError):
        codec.decode_card_data(b"\x00\xff" + data[2:])
    assert codec.decode_card_data(data).fingerprint is None


def test_encode_rejects_too_long_fields():
    card = scripted_card("resident").model_copy(update={"name": "王" * 16})
    with pytest.raises(IdCardCodecError):
        codec.encode_text(card)


# -- ID numbers and nations ------------------------------------------------------------------
@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])  # GB 11643-1999 examples
def test_id_number_standard_examples(number):
    assert is_valid(number) and validate(number) == number and check_char(number[:17]) == number[17]


@pytest.mark.parametrize(
    "number", ["110105194912310021", "11010519491231002x", "1101051949123100", "A1010519491231002X", "１１010519491231002X"]
)
def test_id_number_rejects(number):
    assert not is_valid(number)
    with pytest.raises(InvalidIdNumber):
        validate(number)


def test_id_number_complete():
    assert complete("11010519491231002") == "11010519491231002X"


def test_nations_table_complete():
    assert len(NATIONS) == 58
    assert [f"{i:02d}" for i in range(1, 57)] + ["97", "98"] == list(NATIONS)
    assert nation_name("01") == "汉" and nation_name("56") == "基诺" and nation_name("98") == "外国血统中国籍人士"
    assert nation_code("蒙古族") == "02" and nation_code("其他") == "97"
    with pytest.raises(IdCardCodecError):
        nation_name("57")
    with pytest.raises(IdCardCodecError):
        nation_code("火星")


# -- SW3 -> typed errors ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "sw3, cls",
    [
        (0x80, errors.NoCard),
        (0x81, errors.CardSelectFailed),
        (0x41, errors.CardReadFailed),
        (0x10, errors.SamChecksumError),
        (0x11, errors.SamChecksumError),
        (0x40, errors.CardNotSupported),
        *[(c, errors.SamFault) for c in (0x60, 0x66, 0x31, 0x32, 0x33, 0x47)],
    ],
)
def test_status_errors(sw3, cls):
    err = errors.error_for_status(sw3)
    assert type(err) is cls and err.device_code == sw3 and f"0x{sw3:02X}" in str(err)


@pytest.mark.parametrize("sw3", [0x21, 0x23, 0x24, 0x91, 0xFF, 0x55])
def test_other_status_is_plain_device_fault(sw3):
    err = errors.error_for_status(sw3)
    assert type(err) is DeviceFault and err.device_code == sw3


def test_checksum_status_is_a_protocol_error():
    assert isinstance(errors.error_for_status(0x10), ProtocolError)


def test_scripted_cards_are_valid_and_personal_fields_hidden():
    for kind in ("resident", "hmt", "foreign_y"):
        card = scripted_card(kind)
        assert is_valid(card.id_number)
        assert card.id_number not in repr(card) and card.name not in repr(card)
    assert scripted_card("resident").birth_date == date(1988, 3, 15)
