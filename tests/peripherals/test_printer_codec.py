"""ESC/POS decoder, status bytes and receipt renderer: golden bytes, round trips, fuzzing."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st

from peripherals.printer.errors import EscPosCodecError, EscPosTruncated
from peripherals.printer.escpos_decode import (
    EscPosStreamDecoder,
    check_status_byte,
    decode,
    decode_status,
    encode_status,
)
from peripherals.printer.models import PaperLevel, PrinterStatus, Receipt, ReceiptLine, StatusRequest
from peripherals.printer.receipt_render import (
    CHINESE_MODE_OFF,
    CHINESE_MODE_ON,
    encode_text,
    make_test_page,
    render_receipt,
)

# -- golden bytes -----------------------------------------------------------------------
# python-escpos src/escpos/constants.py: HW_INIT = ESC + b"@", PAPER_FULL_CUT = GS V 00,
# RT_STATUS_ONLINE = DLE EOT 01, RT_STATUS_PAPER = DLE EOT 04.
INIT = bytes.fromhex("1B 40")
FULL_CUT = bytes.fromhex("1D 56 00")
PARTIAL_CUT = bytes.fromhex("1D 56 01")
# python-escpos test/test_functions/test_function_qr_native.py::test_defaults
QR_1234_DEFAULTS = (
    b"\x1d(k\x04\x001A2\x00\x1d(k\x03\x001C\x03\x1d(k\x03\x001E0\x1d"
    b"(k\x07\x001P01234\x1d(k\x03\x001Q0"
)
# python-escpos test/test_functions/test_function_qr_native.py::test_ec (QR_ECLEVEL_H)
QR_1234_EC_H = (
    b"\x1d(k\x04\x001A2\x00\x1d(k\x03\x001C\x03\x1d(k\x03\x001E3\x1d"
    b"(k\x07\x001P01234\x1d(k\x03\x001Q0"
)
# python-escpos test/test_functions/test_function_cut.py::test_cut_without_feed
CUT_NO_FEED = b"\x1dV" + bytes((66,)) + b"\x00"


def test_golden_python_escpos_constants_match_reference():
    # reference §4 table, from python-escpos constants.py
    from escpos import constants as c

    assert c.HW_INIT == INIT
    assert c.PAPER_FULL_CUT == FULL_CUT
    assert c.PAPER_PART_CUT == PARTIAL_CUT
    assert c.RT_STATUS_ONLINE == bytes.fromhex("10 04 01")
    assert c.RT_STATUS_PAPER == bytes.fromhex("10 04 04")


def test_golden_init_and_full_cut_decode():
    docs, requests = decode(INIT + b"hello\n" + FULL_CUT)
    assert requests == []
    assert len(docs) == 1
    assert docs[0].initialised and docs[0].cut and not docs[0].partial_cut
    assert docs[0].texts == ["hello"]


def test_golden_partial_cut_and_cut_without_feed():
    docs, _ = decode(b"a\n" + PARTIAL_CUT + b"b\n" + CUT_NO_FEED)
    assert [d.partial_cut for d in docs] == [True, True]  # GS V 66 = feed and partial cut
    assert [d.texts for d in docs] == [["a"], ["b"]]


@pytest.mark.parametrize(
    ("stream", "ec"),
    [(QR_1234_DEFAULTS, "L"), (QR_1234_EC_H, "H")],
)
def test_golden_native_qr_blocks(stream: bytes, ec: str):
    docs, _ = decode(stream)
    (doc,) = docs
    assert not doc.cut
    (qr,) = doc.qr_codes
    assert (qr.payload, qr.model, qr.size, qr.ec) == ("1234", 2, 3, ec)


def test_golden_qr_block_layout_pl_ph_counts_cn_fn_m():
    # reference §4: 1D 28 6B pL pH 31 fn [m] data; pL/pH = len(data) + len(m) + 2
    p = Dummy()
    p.qr("机动车", native=True)
    store = "机动车".encode("utf-8")
    block = b"\x1d(k" + (len(store) + 3).to_bytes(2, "little") + b"1P0" + store
    assert block in p.output
    assert decode(p.output)[0][0].qr_codes[0].payload == "机动车"


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_golden_dle_eot_requests(n: int):
    docs, requests = decode(bytes([0x10, 0x04, n]))
    assert docs == []
    assert requests == [StatusRequest(n=n)]


# -- status bytes (reference §4; python-escpos masks RT_MASK_*) ---------------------------
def test_status_bytes_for_a_healthy_printer_are_the_base_value():
    ok = PrinterStatus()
    assert [encode_status(n, ok) for n in (1, 2, 3, 4)] == [0x12] * 4


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (PrinterStatus(paper=PaperLevel.NEAR_END), {4: 0x1E}),  # python-escpos RT_MASK_LOWPAPER
        (PrinterStatus(paper=PaperLevel.OUT), {1: 0x1A, 2: 0x32, 4: 0x72}),  # RT_MASK_NOPAPER
        (PrinterStatus(cover_open=True), {1: 0x1A, 2: 0x16}),
        (PrinterStatus(online=False), {1: 0x1A}),
        (PrinterStatus(cutter_error=True), {1: 0x1A, 2: 0x52, 3: 0x1A}),
        (PrinterStatus(unrecoverable_error=True), {1: 0x1A, 2: 0x52, 3: 0x32}),
    ],
)
def test_status_bytes_per_state_and_back(status: PrinterStatus, expected: dict[int, int]):
    replies = {n: encode_status(n, status) for n in (1, 2, 3, 4)}
    assert replies == {n: expected.get(n, 0x12) for n in (1, 2, 3, 4)}
    assert decode_status({n: bytes([v]) for n, v in replies.items()}) == status.model_copy(
        update={"online": status.can_print}
    )


def test_auto_recoverable_error_sets_offline_and_error_bits():
    ok = PrinterStatus()
    assert encode_status(3, ok, auto_recoverable=True) == 0x52
    assert encode_status(1, ok, auto_recoverable=True) == 0x1A


@pytest.mark.parametrize("reply", [b"", b"\x12\x12", b"\xed", b"\x13", b"\x92", b"\x02"])
def test_status_byte_with_wrong_length_or_fixed_bits_is_rejected(reply: bytes):
    with pytest.raises(EscPosCodecError):
        check_status_byte(1, reply)


def test_decode_status_needs_all_four_answers():
    with pytest.raises(EscPosCodecError):
        decode_status({1: b"\x12"})


@given(st.dictionaries(st.sampled_from([1, 2, 3, 4]), st.binary(max_size=3)))
def test_decode_status_arbitrary_replies_raise_only_codec_error(replies):
    try:
        decode_status(replies)
    except EscPosCodecError:
        pass


# -- renderer + decoder round trip --------------------------------------------------------
CHINESE_RECEIPT = Receipt(
    title="机动车驾驶证",
    lines=[
        ReceiptLine(text="业务：驾驶证换证", bold=True),
        ReceiptLine(text="工本费 ¥10.00", align="right"),
        ReceiptLine(text="合计 ¥10.00", bold=True, align="right", double=True),
        ReceiptLine(text="Post office kiosk 12", align="center"),
    ],
    qr="https://gab.122.gov.cn/m/verify?no=2024-000123&amt=¥10.00",
    footer="请妥善保管本凭条",
)


def test_receipt_round_trip_through_python_escpos_dummy():
    data = render_receipt(CHINESE_RECEIPT)
    assert data.startswith(INIT + CHINESE_MODE_ON)
    assert data.endswith(CHINESE_MODE_OFF + b"\x1bd\x06" + FULL_CUT)  # python-escpos cut(): ESC d 6, GS V 0
    assert "机动车驾驶证".encode("gb18030") in data
    docs, requests = decode(data)
    assert requests == []
    (doc,) = docs
    assert doc.cut and doc.initialised and doc.chinese_mode
    assert doc.texts == ["机动车驾驶证", *(l.text for l in CHINESE_RECEIPT.lines), "请妥善保管本凭条"]
    title, *rest = [l for l in doc.lines if l.text.strip()]
    assert (title.bold, title.align, title.double) == (True, "center", True)
    assert [(l.bold, l.align, l.double) for l in rest[:4]] == [
        (True, "left", False),
        (False, "right", False),
        (True, "right", True),
        (False, "center", False),
    ]
    (qr,) = doc.qr_codes
    assert qr.payload == CHINESE_RECEIPT.qr
    assert qr.after_line == 5  # after the title and the four lines


def test_receipt_without_chinese_mode_or_qr():
    receipt = Receipt(title="RECEIPT", lines=[ReceiptLine(text="total 5.00")])
    data = render_receipt(receipt, chinese_mode=False)
    assert CHINESE_MODE_ON not in data and b"\x1d(k" not in data
    (doc,) = decode(data)[0]
    assert doc.texts == ["RECEIPT", "total 5.00"] and doc.qr_codes == [] and not doc.chinese_mode


def test_control_characters_in_text_are_not_sent_as_commands():
    assert encode_text("a\x1b@b\x1dV\x00c\n") == b"a@bVc"


def test_test_page_round_trips():
    (doc,) = decode(render_receipt(make_test_page("M", "S")))[0]
    assert doc.texts[0] == "打印测试页 TEST PAGE" and doc.qr_codes[0].payload == "KIOSK-PRINTER-TEST"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(codec="gb18030", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20),
            st.booleans(),
            st.sampled_from(["left", "center", "right"]),
            st.booleans(),
        ),
        max_size=5,
    ),
    st.none() | st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
)
def test_any_receipt_round_trips(lines, qr):
    receipt = Receipt(
        title="标题",
        lines=[ReceiptLine(text=t, bold=b, align=a, double=d) for t, b, a, d in lines],
        qr=qr,
    )
    (doc,) = decode(render_receipt(receipt))[0]
    printed = [l for l in doc.lines if l.text]
    expected = [l for l in [ReceiptLine(text="标题", bold=True, align="center", double=True), *receipt.lines] if l.text]
    assert [(l.text, l.bold, l.align, l.double) for l in printed] == [
        (l.text, l.bold, l.align, l.double) for l in expected
    ]
    assert [q.payload for q in doc.qr_codes] == ([qr] if qr else [])


# -- malformed input ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "stream",
    [
        b"\x1b\x01",  # unknown ESC command
        b"\x1d\x7f",  # unknown GS command
        b"\x1c\x7f",  # unknown FS command
        b"\x10\x04\x09",  # DLE EOT with unsupported n
        b"\x10\x7f\x00",  # unknown DLE command
        b"\x1ba\x07",  # bad alignment
        b"\x1dV\x05",  # bad cut mode
        b"\x1d!\x88",  # bad size
        b"\x1d(k\x03\x001Q0",  # QR print with nothing stored
        b"\x1d(k\x04\x001P1x",  # QR store without m = 0x30
        b"\x1d(k\x01\x001",  # 2D block shorter than cn fn
        b"\x81\x0a",  # invalid GB18030 text (lone lead byte)
        b"\x07",  # BEL: unexpected control byte
    ],
)
def test_malformed_commands_raise_codec_error(stream: bytes):
    with pytest.raises(EscPosCodecError):
        decode(stream)


@pytest.mark.parametrize("stream", [b"\x1b", b"\x1b!", b"\x1dV", b"\x1d(k\x07\x001P0", b"\x10\x04", b"\x1dV\x41"])
def test_truncated_commands_raise_truncated(stream: bytes):
    with pytest.raises(EscPosTruncated):
        decode(stream)


def test_stream_decoder_waits_for_split_commands_and_characters():
    decoder = EscPosStreamDecoder()
    data = render_receipt(CHINESE_RECEIPT) + b"\x10\x04\x04"
    events = []
    for i in range(0, len(data), 3):  # every 3 bytes: splits commands and GB18030 characters
        events += decoder.feed(data[i : i + 3])
    assert events[-1] == StatusRequest(n=4)
    assert events[0].texts[0] == "机动车驾驶证"


def test_stream_decoder_resynchronises_after_garbage():
    decoder = EscPosStreamDecoder()
    with pytest.raises(EscPosCodecError):
        decoder.feed(b"\x10\x04\x01\x1b\x01rest")
    assert decoder.take_events() == [StatusRequest(n=1)]  # what came before the error stands
    assert decoder.feed(b"ok\n" + FULL_CUT)[0].texts == ["ok"]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_codec_error(data: bytes):
    try:
        decode(data)
    except EscPosCodecError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"\x1b", b"\x1d", b"\x1c", b"\x10", b"\x04", b"(k", b"1P0", b"\n", b"V", b"a", b"\x00", b"\x81", b"!"]), max_size=40))
def test_command_shaped_noise_raises_only_codec_error(parts: list[bytes]):
    try:
        decode(b"".join(parts))
    except EscPosCodecError:
        pass
