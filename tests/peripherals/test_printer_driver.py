"""EscPosUsbPrinter through real pyusb and python-escpos, on the simulated USB backend.

Every test asserts what the simulator decoded from the bytes it received, so a test
passes only if the right ESC/POS reached the (simulated) printer, or nothing did.
"""

from __future__ import annotations

import time

import pytest

from peripherals.base import DeviceKind
from peripherals.errors import DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.printer.driver import EscPosUsbPrinter
from peripherals.printer.errors import CoverOpen, CutterError, PaperOut, PrinterHardwareError, PrinterOffline
from peripherals.printer.escpos_decode import decode
from peripherals.printer.models import PaperLevel, Receipt, ReceiptLine
from peripherals.printer.sim import EscPosPrinterSimulator
from peripherals.sim import registry
from peripherals.sim.usb_backend import SimUsbBackend

TIMEOUT = 0.3

RECEIPT = Receipt(
    title="机动车驾驶证",
    lines=[
        ReceiptLine(text="业务：驾驶证期满换证", bold=True),
        ReceiptLine(text="工本费 ¥10.00", align="right"),
        ReceiptLine(text="合计 ¥10.00", bold=True, align="right", double=True),
    ],
    qr="https://gab.122.gov.cn/v?no=2024-000123",
    footer="请妥善保管",
)


def _printer(name: str = "p", **options: str) -> tuple[EscPosUsbPrinter, EscPosPrinterSimulator]:
    query = "&".join([f"name={name}", *(f"{k}={v}" for k, v in options.items())])
    driver = EscPosUsbPrinter(f"simusb://printer?{query}", timeout=TIMEOUT)
    driver.open()
    sim = registry.named(name)
    assert isinstance(sim, EscPosPrinterSimulator)
    return driver, sim


def _usb_device(sim: EscPosPrinterSimulator):
    return SimUsbBackend.for_simulator(sim).device_of(sim)


def _nothing_printed_since(sim: EscPosPrinterSimulator, mark: int) -> bool:
    """Only status requests reached the printer after byte `mark`."""
    docs, requests = decode(bytes(sim.received[mark:]))
    return docs == [] and len(requests) > 0


@pytest.fixture
def printer():
    driver, sim = _printer()
    yield driver, sim
    driver.close()


def test_prints_a_chinese_receipt_with_qr_and_cut(printer):
    driver, sim = printer
    driver.print_receipt(RECEIPT)
    (doc,) = sim.printed
    assert doc.cut and not doc.partial_cut and doc.initialised and doc.chinese_mode
    assert doc.texts == ["机动车驾驶证", "业务：驾驶证期满换证", "工本费 ¥10.00", "合计 ¥10.00", "请妥善保管"]
    assert doc.lines[0].double and doc.lines[0].bold and doc.lines[0].align == "center"
    total = next(l for l in doc.lines if l.text.startswith("合计"))
    assert (total.bold, total.align, total.double) == (True, "right", True)
    assert [q.payload for q in doc.qr_codes] == [RECEIPT.qr]
    assert sim.status_requests == [1, 2, 3, 4]  # status checked before printing
    assert sim.decode_errors == []


def test_info_comes_from_usb_descriptors(printer):
    driver, _ = printer
    info = driver.info()
    assert info.kind is DeviceKind.PRINTER
    assert (info.model, info.serial, info.firmware) == ("Kiosk Sim Thermal Receipt Printer", "SIM0001", "1.00")
    assert info.port.startswith("simusb://printer")


def test_status_and_consumables_track_the_paper(printer):
    driver, sim = printer
    assert driver.consumables() == {"paper": "ok"}
    sim.set_paper("near_end")
    assert driver.printer_status().paper is PaperLevel.NEAR_END
    assert driver.consumables() == {"paper": "near_end"}
    driver.print_receipt(RECEIPT)  # near end still prints
    assert sim.printed[-1].cut


@pytest.mark.parametrize(
    ("break_it", "fix_it", "error"),
    [
        (lambda s: s.set_paper("out"), lambda s: s.set_paper("ok"), PaperOut),
        (lambda s: s.open_cover(), lambda s: s.close_cover(), CoverOpen),
        (lambda s: s.set_online(False), lambda s: s.set_online(True), PrinterOffline),
    ],
    ids=["paper_out", "cover_open", "offline"],
)
def test_state_refuses_before_printing_then_recovers(printer, break_it, fix_it, error):
    driver, sim = printer
    break_it(sim)
    mark = len(sim.received)
    with pytest.raises(error):
        driver.print_receipt(RECEIPT)
    assert sim.printed == [] and _nothing_printed_since(sim, mark)
    assert not driver.printer_status().can_print
    fix_it(sim)
    driver.print_receipt(RECEIPT)
    assert len(sim.printed) == 1 and sim.printed[0].cut


def test_options_in_the_url_set_the_initial_state():
    driver, sim = _printer("opts", paper="out", cover="open")
    with pytest.raises(CoverOpen):  # the more specific cause first: close the cover, then paper
        driver.print_receipt(RECEIPT)
    sim.close_cover()
    with pytest.raises(PaperOut):
        driver.print_receipt(RECEIPT)
    assert sim.printed == []
    driver.close()


@pytest.mark.parametrize(
    ("code", "error", "flag"),
    [("cutter", CutterError, "cutter_error"), ("unrecoverable", PrinterHardwareError, "unrecoverable_error")],
)
def test_device_errors_from_status_bytes(printer, code, error, flag):
    driver, sim = printer
    sim.faults.inject("device_error", arg=code)
    mark = len(sim.received)
    with pytest.raises(error) as info:
        driver.print_receipt(RECEIPT)
    assert info.value.device_code == code
    assert _nothing_printed_since(sim, mark)
    assert getattr(driver.printer_status(), flag)
    sim.clear_error()
    driver.print_receipt(RECEIPT)
    assert sim.printed[-1].cut


def test_auto_recoverable_error_clears_by_itself(printer):
    driver, sim = printer
    sim.recover_s = 0.05
    sim.faults.inject("device_error", arg="recoverable")
    with pytest.raises(PrinterOffline):
        driver.print_receipt(RECEIPT)
    time.sleep(0.15)
    driver.print_receipt(RECEIPT)
    assert len(sim.printed) == 1


@pytest.mark.parametrize(("fault", "error"), [("silence", DeviceTimeout), ("truncate", DeviceTimeout)])
def test_no_status_answer_is_a_timeout_and_next_print_succeeds(printer, fault, error):
    driver, sim = printer
    sim.faults.inject(fault)
    started = time.monotonic()
    with pytest.raises(error):
        driver.print_receipt(RECEIPT)
    assert time.monotonic() - started < TIMEOUT * 3
    assert sim.printed == []
    driver.print_receipt(RECEIPT)
    assert len(sim.printed) == 1


@pytest.mark.parametrize("fault", ["garbage", "bad_checksum"])
def test_bad_status_answer_is_a_protocol_error_and_next_print_succeeds(printer, fault):
    driver, sim = printer
    sim.faults.inject(fault)
    mark = len(sim.received)
    with pytest.raises(ProtocolError):
        driver.print_receipt(RECEIPT)
    assert _nothing_printed_since(sim, mark)
    driver.print_receipt(RECEIPT)
    assert len(sim.printed) == 1 and sim.printed[0].cut


def test_unplug_during_print_then_replug(printer):
    driver, sim = printer
    sim.unplug_after(80)  # the cable goes 80 bytes in: after the status questions and the title
    with pytest.raises(DeviceNotPresent):
        driver.print_receipt(RECEIPT)
    with pytest.raises(DeviceNotPresent):  # still gone: the driver cannot find it
        driver.print_receipt(RECEIPT)
    _usb_device(sim).replug()
    (partial,) = sim.printed  # what made it onto the paper before the cable went
    assert not partial.cut
    driver.print_receipt(RECEIPT)
    assert sim.printed[-1].cut and sim.printed[-1].texts[0] == "机动车驾驶证"
    assert sim.printed[-1].qr_codes[0].payload == RECEIPT.qr


def test_unplug_while_answering_status_then_replug(printer):
    driver, sim = printer
    sim.faults.inject("unplug")
    with pytest.raises(DeviceNotPresent):
        driver.printer_status()
    assert not sim.plugged
    _usb_device(sim).replug()
    assert driver.printer_status().can_print
    driver.print_receipt(RECEIPT)
    assert sim.printed[-1].cut


def test_open_fails_typed_when_absent():
    sim = registry.named("gone", "printer")
    SimUsbBackend.for_simulator(sim).device_of(sim).unplug()
    with pytest.raises(DeviceNotPresent):
        EscPosUsbPrinter("simusb://printer?name=gone", timeout=TIMEOUT).open()
    with pytest.raises(DeviceNotPresent):  # real libusb: no such device (or no libusb at all)
        EscPosUsbPrinter("usb://ffff:fffe", timeout=TIMEOUT).open()
    with pytest.raises(DeviceNotPresent):
        EscPosUsbPrinter("/dev/kiosk-no-such-printer", timeout=TIMEOUT).open()


def test_operations_open_lazily_and_close_is_idempotent():
    driver = EscPosUsbPrinter("simusb://printer?name=lazy", timeout=TIMEOUT)
    driver.close()
    assert driver.printer_status().can_print
    driver.close()
    driver.close()
    with EscPosUsbPrinter("simusb://printer?name=lazy", timeout=TIMEOUT) as again:
        again.print_receipt(RECEIPT)
    assert registry.named("lazy").printed[-1].cut


def test_self_test_and_test_page(printer):
    driver, sim = printer
    result = driver.self_test()
    assert result.passed and result.checks["usb"] and result.checks["paper"]
    assert sim.printed == []
    result = driver.self_test(print_test_page=True)
    assert result.passed and result.checks["test_page"]
    (page,) = sim.printed
    assert page.texts[0] == "打印测试页 TEST PAGE" and page.cut
    assert any("SIM0001" in t for t in page.texts)


def test_self_test_reports_faults_without_raising(printer):
    driver, sim = printer
    sim.open_cover()
    result = driver.self_test(print_test_page=True)
    assert not result.passed
    assert result.checks["cover_closed"] is False and result.checks["test_page"] is False
    assert sim.printed == []
    sim.close_cover()
    sim.faults.inject("silence")
    result = driver.self_test()
    assert not result.passed and result.checks["usb"] and result.checks["status"] is False
    assert "did not answer" in result.detail


def test_print_test_page(printer):
    driver, sim = printer
    driver.print_test_page()
    assert sim.printed[-1].qr_codes[0].payload == "KIOSK-PRINTER-TEST"


def test_paper_roll_counter_runs_out():
    driver, sim = _printer("roll", roll_lines="13")  # near end at 10 % (1 line), out at 0
    driver.print_receipt(RECEIPT)
    assert len(sim.printed[0].lines) == 6  # title, 3 lines, the feed after the QR, footer
    assert driver.consumables() == {"paper": "ok"}  # 7 lines left
    driver.print_receipt(RECEIPT)
    assert driver.consumables() == {"paper": "near_end"}  # 1 line left
    driver.print_receipt(RECEIPT)
    assert driver.consumables() == {"paper": "out"}
    with pytest.raises(PaperOut):
        driver.print_receipt(RECEIPT)
    sim.set_paper("ok")  # a new roll
    driver.print_receipt(RECEIPT)
    assert len(sim.printed) == 4
    driver.close()
