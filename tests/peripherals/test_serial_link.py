"""SerialLink: every way a port can vanish under a driver becomes DeviceNotPresent and closes it."""

from __future__ import annotations

import os
import pty

import pytest

from peripherals.errors import DeviceNotPresent
from peripherals.transport.serial_link import SerialLink


def test_reads_and_writes_through_an_open_port():
    link = SerialLink("loop://", kind="height", what="the height station", baudrate=9600, timeout=0.05)
    link.open()
    link.write(b"abc")
    got = b""
    while len(got) < 3:
        got += link.read()
    assert got == b"abc" and link.read() == b""  # nothing waiting: empty within the read timeout
    link.close()
    assert not link.is_open


def test_an_operation_on_a_closed_link_says_which_device_is_not_open():
    link = SerialLink("loop://", kind="cardreader", what="the reader", baudrate=115200, timeout=0.05)
    with pytest.raises(DeviceNotPresent, match="the reader is not open"):
        link.write(b"x")


@pytest.mark.parametrize("op", ["read", "write", "flush_input"])
def test_a_port_closed_under_the_driver_is_device_not_present_and_the_link_closes(op):
    link = SerialLink("loop://", kind="height", what="the height station", baudrate=9600, timeout=0.05)
    link.open()
    link.port().close()  # as pyserial leaves a port whose device went away
    with pytest.raises(DeviceNotPresent) as err:
        getattr(link, op)(*((b"x",) if op == "write" else ()))
    assert err.value.kind == "height" and not link.is_open


def test_a_pty_whose_other_end_vanished_is_device_not_present():
    master, slave = pty.openpty()
    link = SerialLink(os.ttyname(slave), kind="idcard", what="the ID card reader", baudrate=115200, timeout=0.05)
    link.open()
    os.close(master)  # the USB adapter is pulled
    os.close(slave)
    with pytest.raises(DeviceNotPresent):
        for _ in range(20):  # the first read may still return what the kernel had buffered
            link.read()
    assert not link.is_open


def test_a_read_that_must_not_block_returns_nothing_at_once_and_a_drained_write_arrives():
    link = SerialLink("loop://", kind="eye", what="the vision tester", baudrate=115200, timeout=5.0)
    link.open()
    assert link.read(block=False) == b""  # a 5 s read timeout, yet no wait
    link.write(b"KVT", drain=True)
    assert link.read(block=False) == b"KVT"


def test_a_port_lost_while_a_write_drains_is_device_not_present(monkeypatch):
    """pyserial's flush (tcdrain) on a pty or adapter pulled mid-write raises termios.error,
    not an OSError: the link must still close and say the device is gone."""
    import termios

    link = SerialLink("loop://", kind="eye", what="the vision tester", baudrate=115200, timeout=0.05)
    link.open()

    def lost():
        raise termios.error(5, "Input/output error")

    monkeypatch.setattr(link.port(), "flush", lost)
    with pytest.raises(DeviceNotPresent) as err:
        link.write(b"KVT", drain=True)
    assert err.value.kind == "eye" and not link.is_open
