"""Printers as the paper path sees them: print a receipt, tell the status, and — when a job
fails — whether any of it reached the paper (`PrintFailed.started`).

`DriverPrinter` owns a driver (the terminal's invoice and label printers) and runs its
blocking calls on one worker thread; `SupervisedPrinter` goes through the kiosk's device
supervisor (the citizen flow's printer). Both read the driver's `job_started`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Protocol

from peripherals.base import DeviceKind
from peripherals.errors import DeviceError


class PrintFailed(DeviceError):
    """A print that did not complete. `started`: bytes had gone out (a form may be spoiled)."""

    code = "print_failed"
    plain = "the print did not complete"

    def __init__(self, cause: DeviceError, *, started: bool):
        self.cause, self.started = cause, started
        super().__init__(cause.message, kind=cause.kind, detail=cause.code)

    @property
    def cause_code(self) -> str:
        return self.cause.code


class PaperPrinter(Protocol):
    async def print(self, receipt: Any) -> None:
        """Print, or raise PrintFailed."""

    async def status(self) -> Any:
        """The printer's PrinterStatus (raises DeviceError when it cannot be asked)."""


def _print_op(receipt: Any):
    def op(driver: Any) -> None:
        try:
            driver.print_receipt(receipt)
        except DeviceError as exc:
            raise PrintFailed(exc, started=bool(getattr(driver, "job_started", True))) from None
    return op


class DriverPrinter:
    def __init__(self, driver: Any, name: str = "printer"):
        self.driver = driver
        self.name = name
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"paper-{name}")

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def print(self, receipt: Any) -> None:
        await self._run(_print_op(receipt), self.driver)

    async def status(self) -> Any:
        return await self._run(self.driver.printer_status)

    def close(self) -> None:
        """Wait for a print under way to finish (never cut one short), then close the driver."""
        self._pool.shutdown(wait=True)
        self.driver.close()


class SupervisedPrinter:
    def __init__(self, devices: Any):
        self.devices = devices

    async def print(self, receipt: Any) -> None:
        await self.devices._run(DeviceKind.PRINTER, _print_op(receipt))

    async def status(self) -> Any:
        return await self.devices._run(DeviceKind.PRINTER, lambda d: d.printer_status())
