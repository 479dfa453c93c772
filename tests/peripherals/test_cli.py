"""`kiosk-devices` in the exact forms other tools rely on, run as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "peripherals.cli"]
ID_KEYS = {"card_type", "name", "sex", "nation", "birth_date", "address", "id_number", "issuer", "valid_from", "valid_to"}
# Every card prints the resident card's keys plus its layout's own fields (docs/devices/idcard.md).
LAYOUT_KEYS = {
    "resident": {"layout", "card_flag", "nation_code", "latest_address"},
    "hmt": {"layout", "card_flag", "pass_number", "issue_count", "latest_address"},
    "foreign_i": {"layout", "card_flag", "english_name", "chinese_name", "nationality", "card_version"},
    "foreign_y": {"layout", "card_flag", "english_name", "chinese_name", "nationality", "renewal_count",
                  "previous_card_link"},
}


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def simulate():
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        proc = subprocess.Popen([*CLI, "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        line = proc.stdout.readline().strip()
        assert line.startswith("/dev/"), (line, proc.stderr.read() if proc.poll() is not None else "")
        return line

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_read_idcard_over_a_simulated_pty(simulate):
    port = simulate("idcard")
    result = run("read", "idcard", "--port", port)
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    assert set(card) == ID_KEYS | LAYOUT_KEYS["resident"]
    assert card["card_type"] == "resident" and card["sex"] in ("男", "女") and card["nation_code"] == "01"
    assert card["id_number"].startswith("*" * 14) and len(card["id_number"]) == 18
    assert card["birth_date"][4] == "-" and card["valid_from"][7] == "-"


def test_read_idcard_reveal_and_long_term(simulate):
    port = simulate("idcard", "-o", "long_term=1")
    card = json.loads(run("read", "idcard", "--port", port, "--reveal").stdout)
    assert "*" not in card["id_number"] and card["valid_to"] == "长期"


@pytest.mark.parametrize(
    ("card", "card_type", "layout"),
    [("hmt", "hmt_permit", "hmt_permit"), ("foreign_i", "foreign_pr", "foreign_pr_2017"),
     ("foreign_y", "foreign_pr", "foreign_pr_2023")],
)
def test_read_other_card_types_over_sim_url(card, card_type, layout):
    result = run("read", "idcard", "--port", f"sim://idcard?card={card}")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == ID_KEYS | LAYOUT_KEYS[card] and out["card_type"] == card_type and out["layout"] == layout
    assert out["id_number"].startswith("*" * (len(out["id_number"]) - 4))


def _read_in_process(capsys, *args: str) -> dict:
    from peripherals.cli import main

    assert main(["read", "idcard", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_read_prints_every_field_of_each_layout(capsys):
    """The values, not only the keys: English name first on foreign cards, nationality, permit fields
    (in-process: `main()` as the console script runs it, on the same sim:// reader)."""
    outs = {card: _read_in_process(capsys, "--port", f"sim://idcard?card={card}", "--reveal")
            for card in ("hmt", "foreign_i", "foreign_y")}
    hmt, old, new = outs["hmt"], outs["foreign_i"], outs["foreign_y"]
    assert (hmt["name"], hmt["card_flag"], hmt["pass_number"], hmt["issue_count"]) == ("陈嘉欣", "J", "H60123456", 1)
    assert (old["name"], old["english_name"], old["chinese_name"]) == ("MUELLER, ANNA MARIA",) * 2 + ("穆安娜",)
    assert (old["nationality"], old["card_version"], old["issuer"], old["id_number"]) == \
        ("DEU", "01", "5000", "DEU500185051204")
    assert new["name"] == new["english_name"] == "MUELLER-SCHMIDT, ANNA MARIA KATHARINA"  # 37 > 35 characters
    assert (new["nationality"], new["renewal_count"], new["previous_card_link"], new["card_flag"]) == \
        ("DEU", 0, "010", "Y")
    assert new["id_number"].startswith("9") and len(new["id_number"]) == 18
    moved = _read_in_process(capsys, "--port", "sim://idcard?latest_address=1")
    assert moved["latest_address"] == "重庆市渝北区龙溪街道金龙路100号5栋2-1" and moved["address"].startswith("重庆市渝中区")
    masked = _read_in_process(capsys, "--port", "sim://idcard?card=hmt")
    assert masked["pass_number"] == "*****3456" and "H6012" not in json.dumps(masked)


def test_read_idcard_as_text():
    result = run("read", "idcard", "--port", "sim://idcard?card=foreign_y", "--format", "text")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "English name / 英文姓名: MUELLER-SCHMIDT, ANNA MARIA KATHARINA" in lines
    assert "Nationality / 国籍: DEU" in lines and "Card / 证件: foreign_pr_2023" in lines
    assert not any("95027619850512" in line for line in lines)  # masked without --reveal


def test_no_card_is_one_plain_line_on_stderr(simulate):
    port = simulate("idcard", "-o", "card=none")
    result = run("read", "idcard", "--port", port)
    assert result.returncode != 0 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("no card on the reader")


def test_missing_port_names_the_cause():
    result = run("read", "idcard", "--port", "/dev/ttyDOES-NOT-EXIST")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "not connected" in result.stderr


def test_simulate_with_faults_then_recovers(simulate):
    port = simulate("idcard", "--faults", "device_error=0x41")
    first = run("read", "idcard", "--port", port)
    assert first.returncode != 0 and "could not be read" in first.stderr
    second = run("read", "idcard", "--port", port)
    assert second.returncode == 0, second.stderr


def test_simulate_unknown_kind():
    result = run("simulate", "toaster")
    assert result.returncode != 0 and "no simulator" in result.stderr


def test_demo_uses_every_device_once():
    result = run("demo", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in ("ID card", "blood pressure", "eye tester", "licence photo", "cut=True", "All devices answered."):
        assert expected in result.stdout
    assert "**************1232" in result.stdout and "500103" not in result.stdout  # masked ID only


def test_read_bp_accutorr_over_a_simulated_pty(simulate):
    port = simulate("bp", "-o", "duration=0.2", "--baudrate", "9600")
    result = run("read", "bp", "--port", port, "--protocol", "accutorr", "--timeout", "20")
    assert result.returncode == 0, result.stderr
    reading = json.loads(result.stdout)
    assert set(reading) == {"systolic", "diastolic", "mean", "pulse", "unit"}
    assert reading["unit"] == "mmHg" and 90 <= reading["systolic"] <= 200 and reading["diastolic"] < reading["systolic"]


def test_read_bp_ieee11073_over_sim_url():
    result = run("read", "bp", "--port", "sim://bp11073?unit=kPa", "--protocol", "ieee11073", "--timeout", "20")
    assert result.returncode == 0, result.stderr
    reading = json.loads(result.stdout)
    assert reading["unit"] == "mmHg" and reading["systolic"] > reading["diastolic"] > 0


def test_read_bp_silent_monitor_is_one_plain_line():
    result = run("read", "bp", "--port", "sim://bp?duration=0.2&faults=silence:20", "--protocol", "accutorr", "--timeout", "20")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
