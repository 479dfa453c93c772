"""Driver names used in the device map, resolved lazily to classes.

Names, not classes, so that reading the configuration imports no driver (and so no
OpenCV or libusb) until a device of that kind is actually built.
"""

from __future__ import annotations

from peripherals.base import Device
from peripherals.config import DeviceConfig
from peripherals.lazy_import import class_from_table

DRIVERS: dict[str, str] = {
    "idcard.sam": "peripherals.idcard.driver:SamIdCardReader",
    "bp.accutorr": "peripherals.bp.driver:AccutorrMonitor",
    "bp.ieee11073": "peripherals.bp.driver:Ieee11073BridgeMonitor",
    "eye.kvt": "peripherals.eye.driver:KvtEyeTester",
    "printer.escpos_usb": "peripherals.printer.driver:EscPosUsbPrinter",
    "camera.opencv": "peripherals.camera.driver:OpenCvCamera",
    "height.tanita": "peripherals.height.driver:TanitaHeightStation",
    "cardreader.pn532": "peripherals.cardreader.driver:Pn532PurseReader",
    "doccam.opencv": "peripherals.camera.doccam:DocumentCamera",
}


def driver_class(name: str) -> type[Device]:
    return class_from_table(DRIVERS, name, "unknown driver")


def build_device(config: DeviceConfig) -> Device:
    """A closed driver instance for one entry of the device map."""
    return driver_class(config.driver)(config.port, **config.options)
