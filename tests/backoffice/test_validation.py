"""Format checks shared by the client models and the reference back office."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from backoffice import numbers
from backoffice.documents import render_pdf
from backoffice.testing import CITIZEN_ID, CITIZEN_NAME, make_id
from flows.services import validation as v
from flows.services.models import FineQuery, InvoiceRequest, LicenceQuery, MailingAddress, RealNameCheck


def test_gb11643_worked_example_check_character():
    # GB 11643-1999 Annex: 11010519491231002 -> check character X.
    assert v.id_check_char("11010519491231002") == "X"
    assert v.id_number_problem(CITIZEN_ID) is None


@pytest.mark.parametrize(
    "value, problem",
    [
        ("110105194912310021", "check character does not match"),
        ("99010519491231002X", "unknown region code"),
        ("110105194902300023", "birth date is not a real date"),
        ("11010519491231002", "must be 17 digits followed by a digit or X"),
        ("1101051949123100AX", "must be 17 digits followed by a digit or X"),
    ],
)
def test_id_number_problems(value, problem):
    assert v.id_number_problem(value) == problem


def test_future_birth_date_refused():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert v.id_number_problem(make_id(f"500103{tomorrow:%Y%m%d}123")) == "birth date out of range"


@given(st.text(max_size=20))
def test_id_validation_never_crashes(text):
    assert isinstance(v.is_valid_id_number(text), bool)


@given(st.integers(0, 16), st.integers(1, 9))
def test_check_character_catches_every_single_digit_error(position, delta):
    # ISO 7064 MOD 11-2 detects all single substitution errors.
    digits = list(CITIZEN_ID)
    digits[position] = str((int(digits[position]) + delta) % 10)
    assert v.id_check_char("".join(digits[:17])) != "X"


def test_lowercase_x_is_normalised():
    assert LicenceQuery(id_number=CITIZEN_ID.lower()).id_number == CITIZEN_ID


@pytest.mark.parametrize("phone, ok", [("13912345678", True), ("19900001111", True), ("12912345678", False), ("1391234567", False), ("+8613912345678", False)])
def test_mobile_numbers(phone, ok):
    assert v.is_valid_mobile(phone) is ok


@pytest.mark.parametrize(
    "plate, ok",
    [
        ("渝A12345", True), ("京AQX548", True), ("粤BD12345", True), ("粤BDA1234", True), ("沪A12345D", True),
        ("渝AI2345", False), ("渝A1234", False), ("渝A123456", False), ("AA12345", False), ("渝a12345", False),
    ],
)
def test_plates(plate, ok):
    assert v.is_valid_plate(plate) is ok


def test_plate_is_normalised():
    assert FineQuery(plate=" 渝a·12345 ").plate == "渝A12345"


def test_validation_errors_hide_personal_input():
    with pytest.raises(ValidationError) as info:
        InvoiceRequest(
            buyer_name="X", buyer_id_number="110105194912310021", amount_fen=100, item="rent",
            real_name_check=RealNameCheck(method="face", passed=True, reference="face-000001"),
        )
    text = str(info.value)
    assert "110105194912310021" not in text and "invalid_id_number" in text


def test_repr_leaves_personal_fields_out():
    addr = MailingAddress(recipient_name=CITIZEN_NAME, phone="13912345678", province="重庆市", city="重庆市", district="渝中区", street="民族路188号")
    assert CITIZEN_NAME not in repr(addr) and "13912345678" not in repr(addr) and "民族路" not in repr(addr)


def test_fine_query_needs_exactly_one_key():
    with pytest.raises(ValidationError, match="invalid_query"):
        FineQuery()
    with pytest.raises(ValidationError, match="invalid_query"):
        FineQuery(id_number=CITIZEN_ID, plate="渝A12345")


def test_s10_check_digit_upu_example():
    # UPU S10 standard's example item RR 47312482 9 GB.
    assert numbers.s10_check_digit("47312482") == 9
    assert numbers.is_valid_s10("RR473124829GB") and not numbers.is_valid_s10("RR473124828GB")


def test_invoice_pdf_structure():
    pdf = render_pdf(["电子发票", "价税合计：¥100.00"])
    assert pdf.startswith(b"%PDF-1.7") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref:].startswith(b"xref")
    entries = pdf[xref:].split(b"\n")[3:11]
    for number, entry in enumerate(entries, start=1):
        offset = int(entry[:10])
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
    assert "电子发票".encode("utf-16-be").hex().upper().encode() in pdf


# -- foreign permanent resident cards (docs/devices/idcard.md) --------------------------------
@pytest.mark.parametrize("value", [
    "931586198001010028",  # the 2023 specimen card of the Synjones reader manual (9, 31 Shanghai, 586 Pakistan)
    make_id("95027619850512002"),  # the simulated 2023 card
    "CAN110081080319",  # the 2017 specimen card (its check digit is not verified: the sources disagree)
    "DEU500185051204",  # the simulated 2017 card
])
def test_foreign_card_numbers_are_id_numbers(value):
    assert v.id_number_problem(value) is None
    assert InvoiceRequest(buyer_name="ZHENGJIAN, YANGBEN", buyer_id_number=value, amount_fen=100, item="rent",
                          real_name_check=RealNameCheck(method="face", passed=True, reference="face-check-1")
                          ).buyer_id_number == value


@pytest.mark.parametrize("value, problem", [
    ("991586198001010028", "unknown region code"),  # 9 + 99: no such province
    ("931586198013010028", "birth date is not a real date"),
    ("931586198001010027", "check character does not match"),
    ("CAN990081080319", "unknown region code"),
    ("CAN110081130319", "birth date is not a real date"),  # YYMMDD 811303
    ("CA1110081080319", "must be 17 digits followed by a digit or X"),  # neither shape
])
def test_foreign_card_number_problems(value, problem):
    assert v.id_number_problem(value) == problem


def test_a_15_character_number_is_masked_but_for_the_country_and_the_last_two():
    assert v.mask_id_number("DEU500185051204") == "DEU**********04"


@pytest.mark.parametrize("name, ok", [
    ("MUELLER-SCHMIDT, ANNA MARIA KATHARINA", True), ("O'NEILL, MARY JR.", True), ("ZHENGJIAN,YANGBEN", True),
    ("A" * 60, True), ("A" * 61, False), ("--", False), ("ANNA_MARIA", False), ("王晓东", True), ("王" * 31, False),
])
def test_person_names_in_latin_letters(name, ok):
    address = dict(recipient_name=name, phone="13912345678", province="广东省", city="广州市", district="天河区",
                   street="天河路208号")
    if ok:
        assert MailingAddress(**address).recipient_name == name
    else:
        with pytest.raises(ValidationError) as info:
            MailingAddress(**address)
        assert name not in str(info.value)  # inputs hidden in errors


def test_birth_dates_of_foreign_card_numbers():
    assert v.id_birth_date("DEU500185051204") == dt.date(1985, 5, 12)
    assert v.id_birth_date("CAN110008080319") == dt.date(2008, 8, 3)  # YYMMDD 080803
    assert v.id_birth_date(make_id("95027619850512002")) == dt.date(1985, 5, 12)


def test_every_simulated_card_has_a_seeded_licence_record():
    """The back office derives records from any valid number: foreign holders can look theirs up too."""
    from backoffice.seed import licence_for
    from peripherals.idcard.sim import scripted_card

    for kind in ("resident", "hmt", "foreign_i", "foreign_y"):
        record = licence_for(scripted_card(kind).id_number, dt.date(2026, 12, 7))
        assert record is not None and record.age >= 18
