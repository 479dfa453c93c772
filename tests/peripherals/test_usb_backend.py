"""The simulated pyusb backend and the USB transport, exercised through real pyusb calls."""

from __future__ import annotations

import errno
import time

import pytest
import usb.core
import usb.util

from peripherals.errors import DeviceNotPresent, DeviceTimeout
from peripherals.sim import registry
from peripherals.sim.usb_backend import SimUsbBackend, UsbIdentity
from peripherals.transport.usb import is_usb_url, map_usb_error, parse_usb_url, resolve, usb_errors


@pytest.fixture
def printer_on_usb():
    sim = registry.create("printer")
    backend = SimUsbBackend()
    device = backend.add(sim, UsbIdentity(serial="ABC123"))
    return sim, backend, device


def test_find_and_descriptors(printer_on_usb):
    sim, backend, _ = printer_on_usb
    dev = usb.core.find(backend=backend, idVendor=0x0416, idProduct=0x5011)
    assert dev is not None
    assert (dev.manufacturer, dev.product, dev.serial_number) == ("Kiosk Sim", "Thermal Receipt Printer", "ABC123")
    cfg = dev.get_active_configuration()
    intf = cfg[(0, 0)]
    assert (intf.bInterfaceClass, intf.bInterfaceSubClass, intf.bInterfaceProtocol) == (0x07, 0x01, 0x02)
    eps = {ep.bEndpointAddress: ep for ep in intf}
    assert set(eps) == {0x01, 0x82}
    assert all(usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK for ep in eps.values())
    assert usb.core.find(backend=backend, serial_number="ABC123") is not None
    assert usb.core.find(backend=backend, idVendor=0x1234) is None


def test_bulk_write_reaches_simulator_and_bulk_read_returns_its_answer(printer_on_usb):
    sim, backend, _ = printer_on_usb
    dev = usb.core.find(backend=backend)
    dev.set_configuration()
    assert dev.write(0x01, b"\x10\x04\x04", 100) == 3
    assert bytes(dev.read(0x82, 16, 100)) == b"\x12"
    assert bytes(sim.received) == b"\x10\x04\x04"


def test_bulk_read_times_out_with_etimedout(printer_on_usb):
    _, backend, _ = printer_on_usb
    dev = usb.core.find(backend=backend)
    started = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError) as info:
        dev.read(0x82, 16, 50)
    assert info.value.errno == errno.ETIMEDOUT
    assert 0.04 <= time.monotonic() - started < 1.0


def test_ieee1284_device_id_class_request(printer_on_usb):
    _, backend, _ = printer_on_usb
    dev = usb.core.find(backend=backend)
    # GET_DEVICE_ID: class, interface, IN (0xA1), bRequest 0 (Linux usblp.c USBLP_REQ_GET_ID)
    answer = bytes(dev.ctrl_transfer(0xA1, 0, 0, 0, 1024))
    length = int.from_bytes(answer[:2], "big")
    assert length == len(answer)
    assert "CMD:ESC/POS;" in answer[2:].decode("ascii")
    assert answer[2:].decode("ascii").startswith("MFG:")


def test_unplug_hides_device_and_fails_io_with_enodev_until_replug(printer_on_usb):
    sim, backend, device = printer_on_usb
    dev = usb.core.find(backend=backend)
    dev.set_configuration()
    device.unplug()
    assert not sim.plugged
    assert usb.core.find(backend=backend) is None
    with pytest.raises(usb.core.USBError) as info:
        dev.write(0x01, b"\x10\x04\x01", 100)
    assert info.value.errno == errno.ENODEV
    device.replug()
    with pytest.raises(usb.core.USBError):  # the old handle belongs to the old address
        dev.read(0x82, 16, 10)
    fresh = usb.core.find(backend=backend)
    fresh.set_configuration()
    assert fresh.write(0x01, b"\x10\x04\x01", 100) == 3
    assert bytes(fresh.read(0x82, 16, 100)) == b"\x12"


def test_simulator_timers_run_through_the_host(printer_on_usb):
    _, _, device = printer_on_usb
    fired = []
    device.call_later(0.01, lambda: fired.append(1))
    cancelled = device.call_later(0.01, lambda: fired.append(2))
    device.cancel(cancelled)
    time.sleep(0.1)
    assert fired == [1]


def test_url_parsing():
    url = parse_usb_url("usb://0416:5011?serial=X1&in_ep=0x81&out_ep=0x02")
    assert (url.vid, url.pid, url.serial, url.in_ep, url.out_ep) == (0x0416, 0x5011, "X1", 0x81, 0x02)
    sim = parse_usb_url("simusb://printer?name=p&faults=silence&paper=near_end")
    assert (sim.sim_kind, sim.sim_name, sim.faults, sim.options) == ("printer", "p", "silence", {"paper": "near_end"})
    assert is_usb_url("usb://1:2") and not is_usb_url("/dev/ttyUSB0")
    for bad in ("usb://zz:5011", "usb://0416", "serial:///dev/x", "simusb://"):
        with pytest.raises(DeviceNotPresent):
            parse_usb_url(bad)


def test_resolve_named_simulator_and_not_present():
    dev, backend = resolve("simusb://printer?name=r1&cover=open")
    assert isinstance(backend, SimUsbBackend)
    assert registry.named("r1").cover_open
    again, backend2 = resolve("simusb://printer?name=r1")
    assert backend2 is backend  # the same simulated bus for the same named simulator
    backend.device_of(registry.named("r1")).unplug()
    with pytest.raises(DeviceNotPresent):
        resolve("simusb://printer?name=r1")
    with pytest.raises(DeviceNotPresent):
        resolve("simusb://nosuchkind")


def test_usb_error_mapping():
    assert isinstance(map_usb_error(usb.core.USBTimeoutError("t", -7, errno.ETIMEDOUT)), DeviceTimeout)
    assert isinstance(map_usb_error(usb.core.USBError("gone", -4, errno.ENODEV)), DeviceNotPresent)
    with pytest.raises(DeviceTimeout):
        with usb_errors(kind="printer"):
            raise usb.core.USBTimeoutError("t", -7, errno.ETIMEDOUT)
    with pytest.raises(DeviceNotPresent):
        with usb_errors(kind="printer"):
            raise usb.core.USBError("gone", -4, errno.ENODEV)
