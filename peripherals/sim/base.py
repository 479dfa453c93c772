"""The device side of a wire protocol, with scripted faults.

A `Simulator` receives the bytes the host wrote and answers with the bytes a real device
would send. It never touches a port: a *host* (`peripherals.sim.host`) carries its bytes
over a pseudo-terminal, a socket pair (the `sim://` URL) or a simulated USB backend,
and runs all of the simulator's code on one thread, so simulators need no locks.

Faults are queued on `sim.faults` and consumed by the next replies (see `FaultKind`).
`garbage`, `bad_checksum`, `truncate`, `silence` and `unplug` are applied generically by
`reply()`; `device_error` is read by each simulator in its own command handler, because
only it knows what an error answer looks like in its protocol.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, ClassVar, Protocol


RECEIVED_KEEP = 512 * 1024  # bytes of `Simulator.received` kept (at most twice that)


class FaultKind(StrEnum):
    GARBAGE = "garbage"  # random bytes instead of the reply
    BAD_CHECKSUM = "bad_checksum"  # the reply with its check byte(s) wrong
    TRUNCATE = "truncate"  # only the first half of the reply
    SILENCE = "silence"  # no reply at all
    UNPLUG = "unplug"  # half the reply, then the device disappears
    DEVICE_ERROR = "device_error"  # a protocol-level error answer (arg: the device's code)


@dataclass
class Fault:
    kind: FaultKind
    arg: str | None = None


class FaultQueue:
    """Faults waiting to be applied to the next replies, in order. Thread-safe."""

    def __init__(self) -> None:
        self._items: deque[Fault] = deque()
        self._lock = threading.Lock()

    def inject(self, kind: FaultKind | str, count: int = 1, arg: str | None = None) -> None:
        with self._lock:
            for _ in range(count):
                self._items.append(Fault(FaultKind(kind), arg))

    def take(self, *kinds: FaultKind) -> Fault | None:
        """Consume the next fault if it is one of `kinds`."""
        with self._lock:
            if self._items and self._items[0].kind in kinds:
                return self._items.popleft()
            return None

    def take_if(self, kind: FaultKind, arg: str) -> bool:
        """Consume the next fault if it is `kind` with this `arg` (a simulator's own named faults)."""
        with self._lock:
            if self._items and self._items[0].kind is kind and self._items[0].arg == arg:
                self._items.popleft()
                return True
            return False

    def next_arg(self) -> str | None:
        with self._lock:
            return self._items[0].arg if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    @classmethod
    def parse(cls, spec: str | None) -> "FaultQueue":
        """Parse `garbage,bad_checksum:2,device_error=0x80:1` (kind[=arg][:count])."""
        q = cls()
        for item in filter(None, (s.strip() for s in (spec or "").split(","))):
            count = 1
            if ":" in item:
                item, n = item.rsplit(":", 1)
                count = int(n)
            arg = None
            if "=" in item:
                item, arg = item.split("=", 1)
            q.inject(item, count, arg)
        return q


class SimHost(Protocol):
    """What a simulator may ask of whatever carries its bytes."""

    def send(self, data: bytes) -> None: ...
    def call_later(self, delay: float, fn: Callable[[], None]) -> object: ...
    def cancel(self, handle: object) -> None: ...
    def unplug(self) -> None: ...


class Simulator:
    """Base class: override `receive()`; answer with `reply()`; corrupt with `corrupt_checksum()`."""

    kind: ClassVar[str] = ""

    def __init__(self, faults: FaultQueue | str | None = None, **options: str) -> None:
        self.faults = faults if isinstance(faults, FaultQueue) else FaultQueue.parse(faults)
        self.options = options
        self.host: SimHost | None = None
        self.plugged = True  # False after an `unplug` fault until the test plugs it back
        # what the host wrote, for tests: the last RECEIVED_KEEP bytes at least (a kiosk's simulator runs
        # for weeks: without a bound this grew by every command and every receipt, docs/memory.md)
        self.received = bytearray()

    # -- wiring -------------------------------------------------------------------------
    def attach(self, host: SimHost) -> None:
        self.host = host
        self.on_attach()

    def on_attach(self) -> None:
        """Called when a host connects (power-on banner, etc.)."""

    def feed(self, data: bytes) -> None:
        """Called by the host with bytes written by the driver."""
        self.received += data
        if len(self.received) > 2 * RECEIVED_KEEP:
            del self.received[:-RECEIVED_KEEP]
        self.receive(data)

    # -- to override --------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        raise NotImplementedError

    def corrupt_checksum(self, frame: bytes) -> bytes:
        """Return `frame` with its check value wrong. Default: flip the last byte."""
        return frame[:-1] + bytes([frame[-1] ^ 0xFF]) if frame else frame

    # -- helpers for subclasses ---------------------------------------------------------
    def reply(self, frame: bytes) -> None:
        """Send one reply frame, applying the next generic fault if one is queued."""
        fault = self.faults.take(
            FaultKind.GARBAGE, FaultKind.BAD_CHECKSUM, FaultKind.TRUNCATE, FaultKind.SILENCE, FaultKind.UNPLUG
        )
        assert self.host is not None, "simulator is not attached to a host"
        if fault is None:
            self.host.send(frame)
        elif fault.kind is FaultKind.SILENCE:
            return
        elif fault.kind is FaultKind.GARBAGE:
            self.host.send(garbage_like(frame))
        elif fault.kind is FaultKind.BAD_CHECKSUM:
            self.host.send(self.corrupt_checksum(frame))
        elif fault.kind is FaultKind.TRUNCATE:
            self.host.send(frame[: max(1, len(frame) // 2)])
        elif fault.kind is FaultKind.UNPLUG:
            self.host.send(frame[: max(1, len(frame) // 2)])
            self.host.unplug()

    def device_error(self) -> Fault | None:
        """Consume a queued `device_error` fault, if it is next."""
        return self.faults.take(FaultKind.DEVICE_ERROR)


def garbage_like(frame: bytes) -> bytes:
    """Random bytes as long as `frame` (at least 8), never equal to it."""
    n = max(8, len(frame))
    data = os.urandom(n)
    return data if data != frame else bytes(b ^ 0x55 for b in data)
