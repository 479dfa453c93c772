"""A pyusb backend whose devices are simulators: real pyusb, real python-escpos, no hardware.

`SimUsbBackend` implements the `usb.backend.IBackend` calls pyusb 1.3.1 makes
(`usb/core.py`: `Device.__init__`, `_ResourceManager`, `write`/`read`, `ctrl_transfer`;
`usb/util.py`: string descriptors through GET_DESCRIPTOR). Each plugged
`SimUsbDevice` is one USB printer-class device (interface 0x07/0x01/0x02, bulk OUT 0x01,
bulk IN 0x82, as python-escpos's `Usb` expects by default):

- `bulk_write` feeds the bytes to the simulator and returns the count;
- the simulator answers through `SimUsbDevice.send` (the `SimHost` protocol) into an IN
  FIFO; `bulk_read` fills pyusb's buffer from it and returns the count (pyusb 1.3.1
  passes an `array('B')` buffer and expects the number of bytes read), or raises
  `USBTimeoutError` (errno ETIMEDOUT) when nothing came within the timeout;
- `unplug()` makes the device vanish from `enumerate_devices` and every call on an open
  handle raise `USBError` with errno ENODEV, as libusb reports LIBUSB_ERROR_NO_DEVICE;
  `replug()` brings it back (old handles stay dead, as a new USB address would).

The simulator's code runs under one lock (driver calls and timers), so simulators
written for the single-threaded fd hosts need no locks here either.
"""

from __future__ import annotations

import errno
import struct
import threading
from array import array
from types import SimpleNamespace
from dataclasses import dataclass, field
from typing import Callable

import usb.backend
import usb.core

from .base import Simulator

LIBUSB_ERROR_TIMEOUT = -7  # libusb error codes, as pyusb's libusb1 backend reports them
LIBUSB_ERROR_NO_DEVICE = -4
LIBUSB_ERROR_PIPE = -9

USB_CLASS_PRINTER = 0x07
PRINTER_SUBCLASS = 0x01
PRINTER_PROTOCOL_BIDIRECTIONAL = 0x02
GET_DESCRIPTOR = 0x06
DT_DEVICE, DT_CONFIG, DT_STRING = 0x01, 0x02, 0x03
# USB printer class request (Linux drivers/usb/class/usblp.c: USBLP_REQ_GET_ID = 0x00;
# the answer starts with its own length, 2 bytes big-endian, then the IEEE 1284 ID)
PRINTER_GET_DEVICE_ID = 0x00
PRINTER_GET_PORT_STATUS = 0x01
PRINTER_SOFT_RESET = 0x02
LANGID_EN_US = 0x0409


def _descriptor(fields: dict[str, object]) -> SimpleNamespace:
    """Any USB descriptor: pyusb reads its fields as attributes."""
    return SimpleNamespace(**fields)


@dataclass
class UsbIdentity:
    """What the device says about itself on the bus."""

    vid: int = 0x0416  # a Winbond/Nuvoton-based POS printer id seen on many Chinese models
    pid: int = 0x5011
    manufacturer: str = "Kiosk Sim"
    product: str = "Thermal Receipt Printer"
    serial: str = "SIM0001"
    bcd_device: int = 0x0100
    device_id: str = "MFG:Kiosk Sim;MDL:TRP-80;CMD:ESC/POS;CLS:PRINTER;"
    bus: int = 1
    address: int = 7


@dataclass
class _Handle:
    device: "SimUsbDevice"
    generation: int
    configuration: int = 0
    claimed: set[int] = field(default_factory=set)


class SimUsbDevice:
    """One simulated device on the bus, and the `SimHost` its simulator talks through."""

    def __init__(self, sim: Simulator, identity: UsbIdentity | None = None) -> None:
        self.sim = sim
        self.identity = identity or UsbIdentity()
        self.lock = threading.RLock()
        self._in_fifo = bytearray()
        self._data_ready = threading.Condition(self.lock)
        self._timers: dict[int, threading.Timer] = {}
        self._timer_seq = 0
        self.generation = 0  # bumped by unplug: handles from before are dead
        self.plugged = True
        sim.plugged = True
        sim.attach(self)

    # -- SimHost protocol ---------------------------------------------------------------
    def send(self, data: bytes) -> None:
        with self.lock:
            if self.plugged:
                self._in_fifo += data
                self._data_ready.notify_all()

    def call_later(self, delay: float, fn: Callable[[], None]) -> int:
        with self.lock:
            self._timer_seq += 1
            handle = self._timer_seq

            def fire() -> None:
                with self.lock:
                    if self._timers.pop(handle, None) is not None and self.plugged:
                        fn()

            timer = threading.Timer(delay, fire)
            timer.daemon = True
            self._timers[handle] = timer
            timer.start()
            return handle

    def cancel(self, handle: object) -> None:
        with self.lock:
            timer = self._timers.pop(handle, None)  # type: ignore[call-overload]
        if timer is not None:
            timer.cancel()

    def unplug(self) -> None:
        with self.lock:
            self.plugged = False
            self.sim.plugged = False
            self.generation += 1
            self._in_fifo.clear()
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._data_ready.notify_all()

    def replug(self) -> None:
        """Plug the device back in: it enumerates again and powers up (`sim.on_attach`)."""
        with self.lock:
            self.plugged = True
            self.sim.plugged = True
            self.identity.address += 1
            self.sim.attach(self)

    # -- I/O used by the backend ----------------------------------------------------------
    def check(self, handle: _Handle) -> None:
        if not self.plugged or handle.generation != self.generation:
            raise usb.core.USBError("No such device (it may have been disconnected)", LIBUSB_ERROR_NO_DEVICE, errno.ENODEV)

    def write(self, handle: _Handle, data: bytes) -> int:
        with self.lock:
            self.check(handle)
            self.sim.feed(data)
            self.check(handle)  # unplugged while taking the data: the transfer failed
            return len(data)

    def read(self, handle: _Handle, size: int, timeout_ms: int) -> bytes:
        timeout = (timeout_ms or 1000) / 1000.0
        with self.lock:
            self.check(handle)
            if not self._in_fifo:
                self._data_ready.wait_for(lambda: bool(self._in_fifo) or not self.plugged, timeout)
            self.check(handle)
            if not self._in_fifo:
                raise usb.core.USBTimeoutError("Operation timed out", LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT)
            data = bytes(self._in_fifo[:size])
            del self._in_fifo[:size]
            return data


class SimUsbBackend(usb.backend.IBackend):
    """pyusb backend over simulated devices; pass it as `usb.core.find(backend=...)`."""

    def __init__(self, devices: list[SimUsbDevice] | None = None) -> None:
        self.devices: list[SimUsbDevice] = list(devices or [])

    def add(self, sim: Simulator, identity: UsbIdentity | None = None) -> SimUsbDevice:
        device = SimUsbDevice(sim, identity)
        self.devices.append(device)
        return device

    @classmethod
    def for_simulator(cls, sim: Simulator, identity: UsbIdentity | None = None) -> "SimUsbBackend":
        """The backend hosting `sim` (created on first use), so every open of a named
        simulator lands on the same device and its faults, unplug and replug."""
        backend = getattr(sim, "_usb_backend", None)
        if backend is None:
            backend = cls()
            backend.add(sim, identity)
            sim._usb_backend = backend  # type: ignore[attr-defined]
        return backend

    def device_of(self, sim: Simulator) -> SimUsbDevice:
        return next(d for d in self.devices if d.sim is sim)

    # -- enumeration and descriptors ------------------------------------------------------
    def enumerate_devices(self):
        return [d for d in self.devices if d.plugged]

    def get_parent(self, dev: SimUsbDevice):
        return None

    def get_device_descriptor(self, dev: SimUsbDevice) -> SimpleNamespace:
        ident = dev.identity
        return _descriptor(
            dict(
                bLength=18, bDescriptorType=DT_DEVICE, bcdUSB=0x0200,
                bDeviceClass=0, bDeviceSubClass=0, bDeviceProtocol=0,  # class is per interface
                bMaxPacketSize0=64, idVendor=ident.vid, idProduct=ident.pid, bcdDevice=ident.bcd_device,
                iManufacturer=1, iProduct=2, iSerialNumber=3 if ident.serial else 0,
                bNumConfigurations=1, bus=ident.bus, address=ident.address,
                port_number=1, port_numbers=(1,), speed=3,  # LIBUSB_SPEED_HIGH
            )
        )  # fmt: skip

    def get_configuration_descriptor(self, dev: SimUsbDevice, config: int) -> SimpleNamespace:
        if config != 0:
            raise IndexError("configuration index out of range")
        return _descriptor(
            dict(
                bLength=9, bDescriptorType=DT_CONFIG, wTotalLength=32, bNumInterfaces=1,
                bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0, bMaxPower=50,
                extra_descriptors=[],
            )
        )  # fmt: skip

    def get_interface_descriptor(self, dev: SimUsbDevice, intf: int, alt: int, config: int) -> SimpleNamespace:
        if (intf, alt, config) != (0, 0, 0):
            raise IndexError("interface index out of range")  # pyusb stops iterating altsettings here
        return _descriptor(
            dict(
                bLength=9, bDescriptorType=0x04, bInterfaceNumber=0, bAlternateSetting=0,
                bNumEndpoints=2, bInterfaceClass=USB_CLASS_PRINTER, bInterfaceSubClass=PRINTER_SUBCLASS,
                bInterfaceProtocol=PRINTER_PROTOCOL_BIDIRECTIONAL, iInterface=0, extra_descriptors=[],
            )
        )  # fmt: skip

    def get_endpoint_descriptor(self, dev: SimUsbDevice, ep: int, intf: int, alt: int, config: int) -> SimpleNamespace:
        if (intf, alt, config) != (0, 0, 0) or ep not in (0, 1):
            raise IndexError("endpoint index out of range")
        address = 0x01 if ep == 0 else 0x82  # bulk OUT 0x01, bulk IN 0x82
        return _descriptor(
            dict(
                bLength=7, bDescriptorType=0x05, bEndpointAddress=address, bmAttributes=0x02,
                wMaxPacketSize=512, bInterval=0, bRefresh=0, bSynchAddress=0, extra_descriptors=[],
            )
        )  # fmt: skip

    # -- handles and configuration ------------------------------------------------------
    def open_device(self, dev: SimUsbDevice) -> _Handle:
        if not dev.plugged:
            raise usb.core.USBError("No such device", LIBUSB_ERROR_NO_DEVICE, errno.ENODEV)
        return _Handle(dev, dev.generation)

    def close_device(self, dev_handle: _Handle) -> None:
        dev_handle.claimed.clear()  # never fails, even for a device that is gone

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        dev_handle.device.check(dev_handle)
        if config_value not in (0, 1):
            raise usb.core.USBError("Invalid configuration", LIBUSB_ERROR_PIPE, errno.EPIPE)
        dev_handle.configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        dev_handle.device.check(dev_handle)
        return dev_handle.configuration or 1  # a printer is configured by the kernel on plug-in

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        dev_handle.device.check(dev_handle)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device.check(dev_handle)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.claimed.discard(intf)
        dev_handle.device.check(dev_handle)

    def reset_device(self, dev_handle: _Handle) -> None:
        dev_handle.device.check(dev_handle)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        dev_handle.device.check(dev_handle)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        dev_handle.device.check(dev_handle)
        return False  # no usblp bound to a simulated device

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device.check(dev_handle)

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.device.check(dev_handle)

    # -- transfers ----------------------------------------------------------------------
    def bulk_write(self, dev_handle: _Handle, ep: int, intf: int, data: array, timeout: int) -> int:
        if ep != 0x01:
            raise usb.core.USBError("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        return dev_handle.device.write(dev_handle, data.tobytes())

    def bulk_read(self, dev_handle: _Handle, ep: int, intf: int, buff: array, timeout: int) -> int:
        if ep != 0x82:
            raise usb.core.USBError("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        data = dev_handle.device.read(dev_handle, len(buff) * buff.itemsize, timeout)
        buff[: len(data)] = array("B", data)
        return len(data)

    def ctrl_transfer(self, dev_handle: _Handle, bmRequestType: int, bRequest: int, wValue: int, wIndex: int, data: array, timeout: int):
        device = dev_handle.device
        device.check(dev_handle)
        direction_in = bool(bmRequestType & 0x80)
        kind = (bmRequestType >> 5) & 0x03  # 0 standard, 1 class, 2 vendor
        if not direction_in:
            if kind == 1 and bRequest == PRINTER_SOFT_RESET:
                return len(data)
            raise usb.core.USBError("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        if kind == 0 and bRequest == GET_DESCRIPTOR:
            answer = self._descriptor_bytes(device, wValue >> 8, wValue & 0xFF)
        elif kind == 1 and bRequest == PRINTER_GET_DEVICE_ID:
            ident = device.identity.device_id.encode("ascii")
            answer = struct.pack(">H", len(ident) + 2) + ident
        elif kind == 1 and bRequest == PRINTER_GET_PORT_STATUS:
            answer = bytes([0x18])  # paper not empty, selected, no error (USB printer class 1.1)
        else:
            raise usb.core.USBError("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        answer = answer[: len(data) * data.itemsize]
        data[: len(answer)] = array("B", answer)
        return len(answer)

    @staticmethod
    def _descriptor_bytes(device: SimUsbDevice, desc_type: int, index: int) -> bytes:
        if desc_type != DT_STRING:
            raise usb.core.USBError("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        if index == 0:
            return bytes([4, DT_STRING]) + struct.pack("<H", LANGID_EN_US)
        ident = device.identity
        strings = {1: ident.manufacturer, 2: ident.product, 3: ident.serial}
        if index not in strings:
            raise usb.core.USBError("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        encoded = strings[index].encode("utf-16-le")
        return bytes([2 + len(encoded), DT_STRING]) + encoded
