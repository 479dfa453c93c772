"""Redaction of log text before it leaves the kiosk (`fleet.protocol.privacy.redact`,
`fleet.agent.logs`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.agent.logs import logs_from_command, redact_lines
from fleet.protocol.privacy import REDACTED, find_personal_data, redact


@pytest.mark.parametrize("line, secret", [
    ("read card 11010119900307123X ok", "11010119900307123X"),
    ("read card 11010119900307123x ok", "11010119900307123x"),
    ("id=110101 19900307 1234;", "110101 19900307 1234"),
    ("sms to 13812345678.", "13812345678"),
    ("sms to +86 138-1234-5678", "138-1234-5678"),
    ("sms to 008615912345678", "15912345678"),
    ("全角 １３８１２３４５６７８ 号码", "１３８１２３４５６７８"),
    ("holder name=张三 read", "张三"),
    ('holder name="Zhang San" read', "Zhang San"),
    ("姓名：李四，性别：男", "李四"),
    ("address=北京市东城区某街1号 done", "北京市东城区某街1号"),
    ("住址: 广州市天河区 ok", "广州市天河区"),
    ("trace <pii>王五 13900001111</pii> end", "王五"),
    ("citizen_name='Li Si'", "Li Si"),
])
def test_redact_removes_the_personal_value(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and REDACTED in cleaned
    assert not find_personal_data(cleaned)


@pytest.mark.parametrize("line", [
    "2026-11-26 04:11:07,123 INFO peripherals.printer: paper near end",
    "uptime 1795666195 s, disk free 12345678901234 bytes",
    "command 895b07fd-0268-4ea8-86b1-c3dbd8ce55b3 accepted",
    "bp monitor firmware 3.02, serial AB1234567",
])
def test_redact_leaves_ordinary_lines_alone(line):
    assert redact(line) == line


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 -+X姓名:：=name<>/pi\"'abc,")), max_size=80))
def test_nothing_recognisable_survives_redaction(text):
    assert find_personal_data(redact(text)) == []


def test_redact_lines_caps_and_strips():
    lines = redact_lines(["a" * 5000 + "\n", "tel 13812345678\n"])
    assert len(lines[0]) == 1000 and lines[1] == f"tel {REDACTED}"


def test_logs_from_a_command_are_redacted(tmp_path):
    script = tmp_path / "journal.sh"
    script.write_text("#!/bin/sh\necho \"line count $1\"\necho 'reader: 440308198812240011'\n")
    script.chmod(0o755)
    lines = logs_from_command([str(script), "{lines}"], lines=10)
    assert lines == ["line count 10", f"reader: {REDACTED}"]
    with pytest.raises(RuntimeError):
        logs_from_command(["false"], lines=10)


@pytest.mark.parametrize(
    "text",
    ["姓名:张三 phone=13812345678", 'name="王 五", addr: 重庆市渝中区', "身份证号：11010519491231002X 已读"],
)
def test_redact_is_idempotent(text):
    from fleet.protocol.privacy import redact

    once = redact(text)
    assert redact(once) == once and "]]" not in once


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 -+Xx<>/pi86")), max_size=60))
def test_every_match_contains_a_candidate(text):
    """CANDIDATE_PATTERN (the fast pre-check) is a part of every match of the patterns."""
    from fleet.protocol.privacy import CANDIDATE_RE, ID_NUMBER_RE, MOBILE_RE, PII_MARKER_RE

    for pattern in (ID_NUMBER_RE, MOBILE_RE, PII_MARKER_RE):
        for match in pattern.finditer(text):
            assert CANDIDATE_RE.search(match.group()), (pattern.pattern, match.group())


@pytest.mark.parametrize("text", [
    "read card 11010119900307123X ok", "id=110101 19900307 1234;", "sms to +86 138-1234-5678",
    "sms to 008615912345678", "trace <pii>x</pii>", "13812345678",
])
def test_candidate_check_keeps_every_known_match(text):
    from fleet.protocol.privacy import CANDIDATE_BYTES_RE, CANDIDATE_RE, may_hold_candidate

    assert find_personal_data(text) and CANDIDATE_RE.search(text) and CANDIDATE_BYTES_RE.search(text.encode())
    assert may_hold_candidate(text.encode())


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 -+Xx<>/pia.:T\n\"")), max_size=80))
def test_the_regex_free_check_misses_no_candidate(text):
    """may_hold_candidate (ingest's fast path) is False only where CANDIDATE_BYTES_RE finds nothing."""
    from fleet.protocol.privacy import CANDIDATE_BYTES_RE, may_hold_candidate

    data = text.encode()
    if CANDIDATE_BYTES_RE.search(data):
        assert may_hold_candidate(data), text


@pytest.mark.parametrize("text", ["a1381234b", "138-1234", "x 138 1234", "12345678", "<pii>", "ts 20261207 1"])
def test_the_regex_free_check_keeps_the_shortest_candidates(text):
    from fleet.protocol.privacy import CANDIDATE_BYTES_RE, may_hold_candidate

    assert CANDIDATE_BYTES_RE.search(text.encode()) and may_hold_candidate(text.encode())


@pytest.mark.parametrize("text", ["2026-12-07T23:55:19.249651Z", "fw 1.4.2, serial AB-12-345", "load 0.25 of 4"])
def test_routine_health_text_passes_the_regex_free_check(text):
    from fleet.protocol.privacy import CANDIDATE_BYTES_RE, may_hold_candidate

    assert not CANDIDATE_BYTES_RE.search(text.encode()) and not may_hold_candidate(text.encode())
