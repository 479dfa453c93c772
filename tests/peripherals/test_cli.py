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
    assert set(card) == ID_KEYS
    assert card["card_type"] == "resident" and card["sex"] in ("男", "女")
    assert card["id_number"].startswith("*" * 14) and len(card["id_number"]) == 18
    assert card["birth_date"][4] == "-" and card["valid_from"][7] == "-"


def test_read_idcard_reveal_and_long_term(simulate):
    port = simulate("idcard", "-o", "long_term=1")
    card = json.loads(run("read", "idcard", "--port", port, "--reveal").stdout)
    assert "*" not in card["id_number"] and card["valid_to"] == "长期"


@pytest.mark.parametrize(
    ("card", "card_type"), [("hmt", "hmt_permit"), ("foreign_i", "foreign_pr"), ("foreign_y", "foreign_pr")]
)
def test_read_other_card_types_over_sim_url(card, card_type):
    result = run("read", "idcard", "--port", f"sim://idcard?card={card}")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == ID_KEYS and out["card_type"] == card_type


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
