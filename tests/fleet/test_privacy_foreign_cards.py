"""The fleet's personal-data filter knows the foreign permanent resident cards' numbers and names."""

from __future__ import annotations

import pytest

from fleet.protocol.privacy import CANDIDATE_RE, REDACTED, find_personal_data, redact


@pytest.mark.parametrize("text, secret", [
    ("card DEU500185051204 read", "DEU500185051204"),  # 2017 card: 3 letters + 12 digits
    ("card 950276198505120021 read", "950276198505120021"),  # 2023 card: the resident shape
    ("english_name=MUELLER-SCHMIDT", "MUELLER-SCHMIDT"),
    ("chinese_name: 穆安娜", "穆安娜"),
    ("pass_number=H60123456", "H60123456"),
    ("通行证号码：H60123456", "H60123456"),
    ("英文姓名：ZHENGJIAN", "ZHENGJIAN"),
])
def test_foreign_card_data_is_found_and_redacted(text, secret):
    out = redact(text)
    assert secret not in out and REDACTED in out and redact(out) == out


@pytest.mark.parametrize("text", ["card DEU500185051204 read", "x can110081080319 y"])
def test_a_2017_number_alone_is_personal_data(text):
    assert find_personal_data(text) == ["id_number"] and CANDIDATE_RE.search(text)


@pytest.mark.parametrize("text", ["layout foreign_pr_2017 flag I", "frame AB123456789 ok", "DEU5001850512045"])
def test_not_a_card_number(text):
    assert find_personal_data(text) == []
