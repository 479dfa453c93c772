"""Device interfaces: one abstract class per device kind.

One abstract interface per device kind. Drivers are blocking (pyserial and pyusb are)
and every call has a deadline; `peripherals.supervisor` runs them on one worker thread
per device and gives flows awaitables. Every operation returns a pydantic model or
raises a `peripherals.errors.DeviceError` subclass — never a pyserial/pyusb exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Callable, ClassVar

from peripherals.bp.models import BpProgress, BpReading
from peripherals.cardreader.models import LoadInitInfo, PurseCard
from peripherals.device_model import DeviceInfo, DeviceKind, DeviceState, DeviceStatus, SelfTestResult
from peripherals.eye.models import Optotype, PadAnswer
from peripherals.height.models import HeightReading
from peripherals.idcard.models import IdCard
from peripherals.printer.models import PrinterStatus, Receipt

if TYPE_CHECKING:
    import numpy as np

__all__ = ["BloodPressureMonitor", "Camera", "Device", "DeviceInfo", "DeviceKind", "DeviceState", "PurseReader",
           "DeviceStatus", "EyeTester", "HeightStation", "IdCardReader", "ReceiptPrinter", "SelfTestResult"]


class Device(ABC):
    """Common surface of every driver."""

    kind: ClassVar[DeviceKind]

    @abstractmethod
    def open(self) -> None:
        """Open the transport and check the device answers. Raises DeviceNotPresent."""

    @abstractmethod
    def close(self) -> None:
        """Release the transport; safe to call twice or after a failed open."""

    @abstractmethod
    def info(self) -> DeviceInfo: ...

    @abstractmethod
    def self_test(self) -> SelfTestResult:
        """Exercise the device end to end without a citizen (no card, no cuff needed)."""

    def check(self) -> None:
        """A cheap health query the supervisor repeats while the device is in FAULT.

        Raise the device's typed error while it is still unhealthy (paper out, cover
        open ...). The default has nothing to ask.
        """

    def consumables(self) -> dict[str, str]:
        """Consumable levels worth showing staff and the fleet (paper ...)."""
        return {}

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class IdCardReader(Device):
    kind = DeviceKind.IDCARD

    @abstractmethod
    def read_card(self, wait: float = 0.0) -> "IdCard":
        """Read the card on the reader, waiting up to `wait` s for one to be placed.

        Raises `peripherals.idcard.errors.NoCard` when none came, other DeviceErrors
        when the read fails.
        """


class BloodPressureMonitor(Device):
    kind = DeviceKind.BP

    @abstractmethod
    def measure(
        self, on_progress: Callable[["BpProgress"], None] | None = None, timeout: float = 120.0
    ) -> "BpReading":
        """Start a measurement (where the protocol can) and return its result."""

    @abstractmethod
    def cancel(self) -> None:
        """Stop a running measurement and deflate (thread-safe; called from another thread)."""


class EyeTester(Device):
    kind = DeviceKind.EYE

    @abstractmethod
    def show(self, optotype: "Optotype") -> None:
        """Show one tumbling E (level on the GB 11533 5-point scale, orientation, eye)."""

    @abstractmethod
    def blank(self) -> None: ...

    @abstractmethod
    def wait_answer(self, timeout: float) -> "PadAnswer":
        """The next answer from the response pad; DeviceTimeout when none comes."""


class HeightStation(Device):
    kind = DeviceKind.HEIGHT

    @abstractmethod
    def measure(self, timeout: float = 30.0) -> "HeightReading":
        """Wait for the next measurement of the person on the station (height, and weight if it weighs)."""

    @abstractmethod
    def cancel(self) -> None:
        """Stop waiting (thread-safe)."""


class ReceiptPrinter(Device):
    kind = DeviceKind.PRINTER

    @abstractmethod
    def print_receipt(self, receipt: "Receipt") -> None:
        """Print and cut. Checks the status first: PaperOut/CoverOpen are raised before printing."""

    @abstractmethod
    def printer_status(self) -> "PrinterStatus": ...

    @abstractmethod
    def print_test_page(self) -> None: ...


class Camera(Device):
    kind = DeviceKind.CAMERA

    @abstractmethod
    def read_frame(self) -> "np.ndarray":
        """One BGR frame (H×W×3 uint8). DeviceTimeout when the camera gives none."""


class PurseReader(Device):
    """A contactless reader with a transit card's electronic purse in its field (issuer-authorised loads)."""

    kind = DeviceKind.CARDREADER

    @abstractmethod
    def read_purse(self, wait: float = 0.0) -> "PurseCard":
        """Card number and balance, waiting up to `wait` s for a card (NoPurseCard after)."""

    @abstractmethod
    def initialize_load(self, amount_fen: int, wait: float = 0.0) -> "LoadInitInfo":
        """Phase 1 of a load: the card's balance, counter, random and MAC1 for the issuer."""

    @abstractmethod
    def credit_load(self, when: str, mac2: str) -> str:
        """Phase 2 with the issuer's MAC2; the card's TAC. CardWriteInterrupted when the outcome is unknown."""

    @abstractmethod
    def load_proof(self, online_counter: int, wait: float = 0.0) -> str | None:
        """The TAC of the load with this counter if the card did it, else None."""
