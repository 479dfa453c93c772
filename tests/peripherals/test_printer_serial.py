"""The same driver on a serial ESC/POS printer: over a real pty and over `sim://`."""

from __future__ import annotations

import time

import pytest

from peripherals.errors import DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.printer.driver import EscPosUsbPrinter
from peripherals.printer.errors import CoverOpen, CutterError, PaperOut
from peripherals.printer.escpos_decode import decode
from peripherals.printer.models import PaperLevel, Receipt, ReceiptLine
from peripherals.sim import registry

TIMEOUT = 0.3
RECEIPT = Receipt(
    title="机动车驾驶证",
    lines=[ReceiptLine(text="罚款 ¥200.00", bold=True, align="right")],
    qr="https://example.gov.cn/pay?id=42",
)


def _assert_receipt(doc) -> None:
    assert doc.cut and doc.texts == ["机动车驾驶证", "罚款 ¥200.00"]
    assert doc.lines[1].bold and doc.lines[1].align == "right"
    assert doc.qr_codes[0].payload == RECEIPT.qr


def _wait_printed(sim, count: int, within: float = 2.0) -> list:
    """The pty host decodes on its own thread: wait for the job to come out of the printer."""
    deadline = time.monotonic() + within
    while len(sim.printed) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return sim.printed


def test_over_a_real_pty(pty_sim):
    host = pty_sim("printer", link=True)
    with EscPosUsbPrinter(host.port, timeout=TIMEOUT) as driver:
        driver.print_receipt(RECEIPT)
        assert driver.info().model == "ESC/POS serial"
        host.sim.set_paper("near_end")
        assert driver.consumables() == {"paper": "near_end"}
    (doc,) = _wait_printed(host.sim, 1)
    _assert_receipt(doc)


def test_pty_faults_then_recovery(pty_sim):
    host = pty_sim("printer", link=True)
    sim = host.sim
    with EscPosUsbPrinter(host.port, timeout=TIMEOUT) as driver:
        for fault, error in (("garbage", ProtocolError), ("bad_checksum", ProtocolError), ("silence", DeviceTimeout)):
            sim.faults.inject(fault)
            with pytest.raises(error):
                driver.print_receipt(RECEIPT)
        sim.faults.inject("device_error", arg="cutter")
        with pytest.raises(CutterError):
            driver.print_receipt(RECEIPT)
        sim.clear_error()
        assert sim.printed == [] and decode(bytes(sim.received))[0] == []
        driver.print_receipt(RECEIPT)
        _assert_receipt(_wait_printed(sim, 1)[0])


def test_pty_unplug_then_replug(pty_sim):
    host = pty_sim("printer", link=True)
    with EscPosUsbPrinter(host.port, timeout=TIMEOUT) as driver:
        host.sim.faults.inject("unplug")
        with pytest.raises((DeviceNotPresent, DeviceTimeout)):
            driver.print_receipt(RECEIPT)
        with pytest.raises(DeviceNotPresent):  # the /dev link is gone
            driver.print_receipt(RECEIPT)
        host.replug()
        driver.print_receipt(RECEIPT)
    _assert_receipt(_wait_printed(host.sim, 1)[-1])


def test_over_sim_url_with_options():
    driver = EscPosUsbPrinter("sim://printer?name=s1&paper=out&cover=open", timeout=TIMEOUT)
    with pytest.raises(CoverOpen):
        driver.print_receipt(RECEIPT)
    sim = registry.named("s1")
    sim.close_cover()
    with pytest.raises(PaperOut):
        driver.print_receipt(RECEIPT)
    sim.set_paper(PaperLevel.OK)
    sim.faults.inject("truncate")
    with pytest.raises(DeviceTimeout):
        driver.print_receipt(RECEIPT)
    driver.print_receipt(RECEIPT)
    (doc,) = _wait_printed(sim, 1)
    driver.close()
    _assert_receipt(doc)


def test_a_port_lost_while_draining_is_device_not_present(pty_sim, monkeypatch):
    """The pty vanishing during tcdrain raises termios.error, not a SerialException: the
    driver must still say the printer is gone (CI met this race in the unplug test)."""
    import termios

    host = pty_sim("printer", link=True)
    with EscPosUsbPrinter(host.port, timeout=TIMEOUT) as driver:
        driver.printer_status()
        link = driver._printer

        def lost():
            raise termios.error(5, "Input/output error")

        monkeypatch.setattr(link._serial, "flush", lost)
        with pytest.raises(DeviceNotPresent):
            driver.print_receipt(RECEIPT)
