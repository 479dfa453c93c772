"""Which simulator speaks for which device kind, and the named instances tests reach.

Simulators are named by import path so that importing the registry imports no device
code. `sim://KIND?name=N` reuses the instance named N (created on first use), so a test
can inject faults into, or unplug, the very simulator a driver is talking to.
"""

from __future__ import annotations

import threading

from peripherals.lazy_import import class_from_table

from .base import Simulator

SIMULATORS: dict[str, str] = {
    "idcard": "peripherals.idcard.sim:SamReaderSimulator",
    "bp": "peripherals.bp.sim:AccutorrSimulator",
    "bp11073": "peripherals.bp.sim:Ieee11073BridgeSimulator",
    "eye": "peripherals.eye.sim:EyeTesterSimulator",
    "printer": "peripherals.printer.sim:EscPosPrinterSimulator",
    "height": "peripherals.height.sim:HeightStationSimulator",
    "cardreader": "peripherals.cardreader.sim:Pn532Simulator",
}

_named: dict[str, Simulator] = {}
_lock = threading.Lock()


def simulator_class(kind: str) -> type[Simulator]:
    return class_from_table(SIMULATORS, kind, "no simulator for device kind")


def create(kind: str, faults: str | None = None, **options: str) -> Simulator:
    return simulator_class(kind)(faults=faults, **options)


def named(name: str, kind: str | None = None, faults: str | None = None, **options: str) -> Simulator:
    """The simulator registered under `name`, created (needs `kind`) on first use."""
    with _lock:
        sim = _named.get(name)
        if sim is None:
            if kind is None:
                raise KeyError(f"no simulator named {name!r}")
            sim = _named[name] = create(kind, faults, **options)
        return sim


def forget(name: str | None = None) -> None:
    """Drop one named simulator (or all): tests call this between cases."""
    with _lock:
        if name is None:
            _named.clear()
        else:
            _named.pop(name, None)
