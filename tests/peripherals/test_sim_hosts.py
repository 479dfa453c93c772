"""The simulator hosts: pty and sim:// carry bytes both ways, pace them, apply faults, unplug."""

from __future__ import annotations

import time

import pytest
import serial

from peripherals.errors import DeviceNotPresent
from peripherals.sim import registry
from peripherals.sim.base import FaultKind, FaultQueue, Simulator
from peripherals.sim.host import PtyHost
from peripherals.transport.serial_port import open_serial


class UpperEcho(Simulator):
    """A minimal device: answers every write with the same bytes upper-cased."""

    kind = "upper"

    def receive(self, data: bytes) -> None:
        self.reply(data.upper())


@pytest.fixture(autouse=True)
def _register_echo(monkeypatch):
    monkeypatch.setitem(registry.SIMULATORS, "upper", f"{__name__}:UpperEcho")


def test_fault_spec_parsing():
    q = FaultQueue.parse("garbage, bad_checksum:2 ,device_error=0x80")
    kinds = [q.take(*FaultKind).kind for _ in range(len(q))]
    assert kinds == ["garbage", "bad_checksum", "bad_checksum", "device_error"]
    with pytest.raises(ValueError):
        FaultQueue.parse("melt")


def test_sim_url_round_trip_and_faults():
    port = open_serial("sim://upper?name=u&faults=silence,garbage,truncate", timeout=0.2)
    try:
        port.write(b"hello")
        assert port.read(5) == b""  # silence
        port.write(b"hello")
        junk = port.read(64)
        assert junk and junk != b"HELLO"  # garbage
        port.write(b"abcdef")
        assert port.read(6) == b"ABC"  # truncate
        port.write(b"ok")
        assert port.read(2) == b"OK"  # and the next one is whole
        assert bytes(registry.named("u").received).endswith(b"ok")
    finally:
        port.close()


def test_sim_url_unplug_then_replug():
    port = open_serial("sim://upper?name=u2", timeout=0.3)
    registry.named("u2").faults.inject("unplug")
    port.write(b"abcd")
    with pytest.raises(serial.SerialException):
        port.read(4)
        port.read(4)
    port.close()
    with pytest.raises(DeviceNotPresent):
        open_serial("sim://upper?name=u2")
    registry.named("u2").plugged = True
    again = open_serial("sim://upper?name=u2", timeout=0.3)
    again.write(b"x")
    assert again.read(1) == b"X"
    again.close()


def test_unknown_kind_is_not_present():
    with pytest.raises(DeviceNotPresent, match="no simulator"):
        open_serial("sim://toaster")


def test_pty_paces_at_baud_rate(pty_sim):
    host = pty_sim("upper", baudrate=115200)
    port = open_serial(host.port, timeout=1)
    payload = b"x" * 2000
    start = time.monotonic()
    port.write(payload)
    got = port.read(len(payload))
    elapsed = time.monotonic() - start
    port.close()
    assert got == payload.upper()
    wire = len(payload) * 10 / 115200
    assert elapsed >= wire * 0.95  # never faster than a real UART


def test_pty_unplug_and_replug_keeps_the_link(pty_sim):
    host = pty_sim("upper", baudrate=None, link=True)
    port = open_serial(host.port, timeout=0.3)
    host.unplug()
    with pytest.raises(serial.SerialException):
        port.write(b"a")
        port.read(1)
    port.close()
    with pytest.raises(DeviceNotPresent):
        open_serial(host.port)
    host.replug()
    port = open_serial(host.port, timeout=0.3)
    port.write(b"b")
    assert port.read(1) == b"B"
    port.close()


def test_simulator_timers_run_on_the_host_thread(pty_sim):
    host = pty_sim("upper", baudrate=None)
    port = open_serial(host.port, timeout=1)
    host.call_later(0.05, lambda: host.sim.reply(b"late"))
    assert port.read(4) == b"late"
    port.close()
