"""Blood-pressure monitor drivers: transport + codec + deadlines + typed errors.

- `AccutorrMonitor` (accutorr_driver.py): Datascope Accutorr 3 PC interface; read-only, so
  `measure()` polls for a new NIBP reading after the citizen presses start.
- `Ieee11073BridgeMonitor` (bridge_driver.py): a Bluetooth cuff behind a USB/serial bridge.

Both build on serial_monitor.py: after any fault the input is drained and flushed so that
the next operation starts clean; health values are never logged. The driver registry and
`kiosk-devices` name the drivers by this module.
"""

from peripherals.bp.accutorr_driver import AccutorrMonitor
from peripherals.bp.bridge_driver import Ieee11073BridgeMonitor

__all__ = ["AccutorrMonitor", "Ieee11073BridgeMonitor"]
