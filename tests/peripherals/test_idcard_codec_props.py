"""Property tests: arbitrary bytes raise only IdCardCodecError; encode/decode round trips."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peripherals.idcard import codec
from peripherals.idcard.codec import BadFrame, Frame, FrameParser, Request, Response
from peripherals.idcard.errors import IdCardCodecError
from peripherals.idcard.id_number import complete, is_valid
from peripherals.idcard.models import (
    LONG_TERM,
    ForeignPermanentResidentCard2017,
    ForeignPermanentResidentCard2023,
    HmtResidencePermit,
    IdCard,
    ResidentIdCard,
)
from peripherals.idcard.nations import NATIONS
from peripherals.idcard.sim import scripted_card

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- arbitrary input --------------------------------------------------------------------------
@SETTINGS
@given(st.binary(max_size=600))
def test_decode_frames_raises_only_codec_error(data):
    try:
        for frame in codec.decode_frames(data):
            codec.encode_frame(frame.body)
    except IdCardCodecError:
        pass


@SETTINGS
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_parser_never_raises_and_yields_only_checked_frames(chunks):
    parser = FrameParser()
    for chunk in chunks:
        for item in parser.feed(chunk):
            assert isinstance(item, (Frame, BadFrame))
            if isinstance(item, Frame):
                assert codec.decode_frames(item.to_bytes()) == [item]


@SETTINGS
@given(st.binary(max_size=64), st.binary(min_size=2, max_size=40), st.integers(1, 16))
def test_parser_finds_frame_after_garbage(garbage, body, chunk):
    stream = garbage + codec.encode_frame(body)
    parser = FrameParser()
    frames = []
    for i in range(0, len(stream), chunk):
        frames += [f for f in parser.feed(stream[i : i + chunk]) if isinstance(f, Frame)]
    assert frames and frames[-1].body == body


@SETTINGS
@given(st.binary(min_size=256, max_size=256))
def test_text_block_raises_only_codec_error(block):
    try:
        codec.decode_card(codec.CardData(text=block, photo=b""))
    except IdCardCodecError:
        pass


@SETTINGS
@given(st.sampled_from(["resident", "hmt", "foreign_i", "foreign_y"]), st.integers(0, 255), st.binary(min_size=1, max_size=40))
def test_mutated_real_text_block_raises_only_codec_error(kind, offset, patch):
    """Start from a valid block so that decoding gets deep before the damage is met."""
    block = bytearray(codec.encode_text(scripted_card(kind)))
    block[offset : offset + len(patch)] = patch
    try:
        codec.decode_card(codec.CardData(text=bytes(block[:256]).ljust(256, b" "), photo=b""))
    except IdCardCodecError:
        pass


@SETTINGS
@given(st.binary(max_size=1400))
def test_card_data_raises_only_codec_error(data):
    try:
        codec.decode_card(codec.decode_card_data(data))
    except IdCardCodecError:
        pass


@SETTINGS
@given(st.binary(max_size=40))
def test_responses_and_sam_id_raise_only_codec_error(body):
    try:
        response = codec.decode_response(Frame(body=body))
        codec.decode_sam_id(response.data)
        codec.decode_read_reply_frame(codec.encode_frame(body))
    except IdCardCodecError:
        pass


# -- round trips ------------------------------------------------------------------------------
@SETTINGS
@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=2400))
def test_request_round_trip(cmd, para, data):
    request = Request(cmd=cmd, para=para, data=data)
    (frame,) = codec.decode_frames(codec.encode_request(request))
    assert codec.decode_request(frame) == request


@SETTINGS
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=2400))
def test_response_round_trip(sw1, sw2, sw3, data):
    response = Response(sw1=sw1, sw2=sw2, sw3=sw3, data=data)
    (frame,) = codec.decode_frames(codec.encode_response(response))
    assert codec.decode_response(frame) == response


def _text(max_len: int, alphabet=None, min_len: int = 1):
    """UCS-2 text with no trailing padding characters (what a card field can hold)."""
    if alphabet is None:
        alphabet = st.characters(min_codepoint=0x21, max_codepoint=0xFFFF, exclude_categories=("Cs",))
    return st.text(alphabet, min_size=min_len, max_size=max_len).filter(lambda s: s == s.rstrip(" \x00"))


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
LATIN = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ ,-")
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
valid_to = st.one_of(dates, st.just(LONG_TERM))
sexes = st.sampled_from(["男", "女", "未知", "未说明"])
id18 = st.from_regex(r"[0-9]{17}", fullmatch=True).map(complete)
photo = st.binary(min_size=1024, max_size=1024)
fingerprint = st.one_of(st.none(), st.binary(min_size=1, max_size=1024))


@st.composite
def cards(draw) -> IdCard:
    kind = draw(st.sampled_from(["resident", "J", "I", "Y"]))
    common = dict(
        sex=draw(sexes),
        birth_date=draw(dates),
        valid_from=draw(dates),
        valid_to=draw(valid_to),
        photo_wlt=draw(photo),
        fingerprint=draw(fingerprint),
    )
    if kind == "resident":
        return ResidentIdCard(
            name=draw(_text(15, HAN)),
            nation=draw(st.sampled_from(sorted(NATIONS.values()))),
            address=draw(_text(35, min_len=0)),
            id_number=draw(id18),
            issuer=draw(_text(15, min_len=0)),
            **common,
        )
    if kind == "J":
        return HmtResidencePermit(
            name=draw(_text(15, HAN)),
            address=draw(_text(35, min_len=0)),
            id_number=draw(id18),
            issuer=draw(_text(15, min_len=0)),
            pass_number=draw(st.from_regex(r"[HM][0-9]{8}", fullmatch=True)),
            issue_count=draw(st.one_of(st.none(), st.integers(0, 99))),
            **common,
        )
    nationality = draw(st.from_regex(r"[A-Z]{3}", fullmatch=True))
    if kind == "I":
        return ForeignPermanentResidentCard2017(
            english_name=draw(_text(60, LATIN, min_len=0)),
            chinese_name=draw(_text(15, HAN, min_len=0)),
            id_number=draw(st.from_regex(r"[A-Z]{3}[0-9]{12}", fullmatch=True)),
            nationality=nationality,
            card_version=draw(st.from_regex(r"[0-9]{0,2}", fullmatch=True)),
            issuer=draw(st.from_regex(r"[0-9]{0,4}", fullmatch=True)),
            **common,
        )
    return ForeignPermanentResidentCard2023(
        chinese_name=draw(_text(15, HAN, min_len=0)),
        renewal_count=draw(st.one_of(st.none(), st.integers(0, 99))),
        english_name=draw(_text(46, LATIN, min_len=0)),
        id_number=draw(st.from_regex(r"9[0-9]{16}", fullmatch=True).map(complete)),
        nationality=nationality,
        previous_card_link=draw(st.from_regex(r"[0-9A-Z]{0,3}", fullmatch=True)),
        **common,
    )


@SETTINGS
@given(cards(), st.booleans())
def test_card_round_trip(card, with_fingerprint):
    frame = codec.encode_read_reply_frame(card, with_fingerprint=with_fingerprint)
    decoded = codec.decode_read_reply_frame(frame)
    expected = card if with_fingerprint else card.model_copy(update={"fingerprint": None})
    assert decoded == expected
    (parsed,) = codec.decode_frames(frame)
    assert codec.decode_card(codec.decode_card_data(codec.decode_response(parsed).data)) == expected


@SETTINGS
@given(st.from_regex(r"[0-9]{17}", fullmatch=True), st.sampled_from("0123456789X"))
def test_exactly_one_check_char_is_valid(body, last):
    assert is_valid(body + last) == (complete(body) == body + last)
