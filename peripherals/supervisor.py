"""Keeps every device's state, reconnects after an unplug, and publishes state changes.

One `DeviceSupervisor` per device owns the driver and a single worker thread: every
operation on the device runs there, one at a time (serial devices are not re-entrant),
and flows await it without blocking their event loop. The supervisor is the one place
that decides a device's state (the `_set_state` choke point, as OctoPrint's
`_changeState`):

- `DeviceNotPresent` → ABSENT; the driver is closed and reopened with exponential
  backoff (0.5 s doubling to 30 s, with jitter) until it answers again;
- a `DeviceError` whose class says `degrades_device` (SAM fault, paper out, cover open …)
  → FAULT, rechecked on the same backoff until the device is healthy again;
- any other error (no card on the reader, a measurement that failed, one timeout) is the
  operation's outcome, not the device's: the state returns to READY and the error is
  remembered in `last_errors`. Three consecutive timeouts count as an unplug.

Listeners (UI, diagnostics screen, fleet agent) get a `DeviceStatus` on every change.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
import time
from typing import Callable, Iterable, TypeVar

from peripherals.base import Device, DeviceKind, DeviceState, DeviceStatus, SelfTestResult
from peripherals.config import DeviceConfig
from peripherals.errors import DeviceError, DeviceNotPresent, DeviceTimeout

log = logging.getLogger(__name__)

T = TypeVar("T")
Listener = Callable[[DeviceStatus], None]

MAX_LAST_ERRORS = 10
TIMEOUTS_BEFORE_RECONNECT = 3


class Backoff:
    """Exponential backoff with ±20 % jitter, reset after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0) -> None:
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.attempt = 0


class DeviceSupervisor:
    def __init__(
        self,
        kind: DeviceKind,
        factory: Callable[[], Device],
        *,
        backoff: Backoff | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        self.kind = kind
        self._factory = factory
        self._device: Device | None = None
        self._backoff = backoff or Backoff()
        self._listeners = list(listeners)
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"dev-{kind}")
        self._retry_timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._timeouts = 0
        self.status = DeviceStatus(kind=kind, state=DeviceState.ABSENT, reason="not_started", message="not started")

    # -- public -------------------------------------------------------------------------
    def start(self) -> concurrent.futures.Future[None]:
        """Try to open the device now (in the worker); on failure keep retrying."""
        return self._worker.submit(self._connect)

    def stop(self) -> None:
        self._stopped = True
        if self._retry_timer:
            self._retry_timer.cancel()
        self._worker.submit(self._close_device).result(timeout=10)
        self._worker.shutdown(wait=True)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def submit(self, operation: Callable[[Device], T]) -> concurrent.futures.Future[T]:
        """Run `operation(driver)` on the device's worker thread."""
        return self._worker.submit(self._run, operation)

    async def run(self, operation: Callable[[Device], T]) -> T:
        """Await `operation(driver)` from asyncio code (flows)."""
        return await asyncio.wrap_future(self.submit(operation))

    def self_test(self) -> SelfTestResult:
        try:
            return self.submit(lambda d: d.self_test()).result()
        except DeviceError as exc:
            return SelfTestResult(kind=self.kind, passed=False, detail=f"{exc.code}: {exc}")

    @property
    def state(self) -> DeviceState:
        return self.status.state

    # -- worker-thread internals ----------------------------------------------------------
    def _run(self, operation: Callable[[Device], T]) -> T:
        if self._device is None:
            self._connect()
            if self._device is None:
                raise DeviceNotPresent(self.status.message or None, kind=self.kind)
        previous = self.status.state
        self._set_state(DeviceState.BUSY)
        try:
            result = operation(self._device)
        except DeviceError as exc:
            self._record_error(exc)
            self._after_error(exc, previous)
            raise
        except Exception as exc:  # a driver bug: keep the kiosk up, say so, keep the device
            log.exception("driver for %s raised an untyped error", self.kind)
            err = DeviceError(f"internal driver error: {type(exc).__name__}", kind=self.kind)
            self._record_error(err)
            self._set_state(DeviceState.READY)
            raise err from exc
        self._timeouts = 0
        self._set_state(DeviceState.READY, consumables=self._read_consumables())
        return result

    def _after_error(self, exc: DeviceError, previous: DeviceState) -> None:
        if isinstance(exc, DeviceNotPresent):
            self._lost(exc)
        elif isinstance(exc, DeviceTimeout):
            self._timeouts += 1
            if self._timeouts >= TIMEOUTS_BEFORE_RECONNECT:
                self._lost(DeviceNotPresent(f"no answer {self._timeouts} times in a row", kind=self.kind))
            else:
                self._set_state(DeviceState.READY)
        elif getattr(exc, "degrades_device", False):
            self._set_state(DeviceState.FAULT, reason=exc.code, message=str(exc))
            self._schedule_retry(self._recheck)
        else:
            self._set_state(DeviceState.READY)

    def _connect(self) -> None:
        if self._stopped:
            return
        self._close_device()
        device = self._factory()
        try:
            device.open()
            info = device.info()
        except DeviceError as exc:
            try:
                device.close()
            except Exception:
                pass
            self._record_error(exc)
            self._set_state(DeviceState.ABSENT, reason=exc.code, message=str(exc))
            self._schedule_retry(self._connect)
            return
        self._device = device
        self._backoff.reset()
        self._timeouts = 0
        self._set_state(DeviceState.READY, info=info, consumables=self._read_consumables())
        self._recheck_degraded()

    def _recheck(self) -> None:
        """From FAULT: is the device healthy again (paper loaded, cover shut ...)?"""
        if self._device is None:
            self._connect()
        else:
            self._recheck_degraded()

    def _recheck_degraded(self) -> None:
        assert self._device is not None
        try:
            self._device.check()
        except DeviceNotPresent as exc:
            self._lost(exc)
        except DeviceError as exc:
            if getattr(exc, "degrades_device", False):
                self._set_state(DeviceState.FAULT, reason=exc.code, message=str(exc), consumables=self._read_consumables())
                self._schedule_retry(self._recheck)
        else:
            if self.status.state is DeviceState.FAULT:
                self._backoff.reset()
                self._set_state(DeviceState.READY, consumables=self._read_consumables())

    def _lost(self, exc: DeviceError) -> None:
        self._close_device()
        self._set_state(DeviceState.ABSENT, reason=exc.code, message=str(exc))
        self._schedule_retry(self._connect)

    def _close_device(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except Exception:
                log.warning("closing %s failed", self.kind, exc_info=True)

    def _read_consumables(self) -> dict[str, str]:
        if self._device is None:
            return {}
        try:
            return self._device.consumables()
        except DeviceError:
            return dict(self.status.consumables)

    def _schedule_retry(self, action: Callable[[], None]) -> None:
        if self._stopped:
            return
        with self._lock:
            if self._retry_timer is not None:
                self._retry_timer.cancel()
            delay = self._backoff.next_delay()
            self._retry_timer = threading.Timer(delay, self._submit_retry, args=(action,))
            self._retry_timer.daemon = True
            self._retry_timer.start()

    def _submit_retry(self, action: Callable[[], None]) -> None:
        if not self._stopped:
            try:
                self._worker.submit(action)
            except RuntimeError:  # executor shut down meanwhile
                pass

    def _record_error(self, exc: DeviceError) -> None:
        entry = f"{time.strftime('%H:%M:%S')} {exc.code}: {exc}"
        errors = (self.status.last_errors + [entry])[-MAX_LAST_ERRORS:]
        self.status = self.status.model_copy(update={"last_errors": errors})

    def _set_state(self, state: DeviceState, *, reason: str = "", message: str = "", **extra) -> None:
        old = self.status
        update = {"state": state, "reason": reason, "message": message, **extra}
        if state is not old.state:
            update["since"] = DeviceStatus.model_fields["since"].default_factory()  # type: ignore[misc]
        new = old.model_copy(update=update)
        self.status = new
        if (new.state, new.reason, new.consumables) != (old.state, old.reason, old.consumables):
            if new.state is not DeviceState.BUSY:
                log.info("%s: %s %s", self.kind, new.state, new.reason)
            for listener in list(self._listeners):
                try:
                    listener(new)
                except Exception:
                    log.exception("device state listener failed")


class Supervisor:
    """Every configured device, each under its own `DeviceSupervisor`."""

    def __init__(self, devices: dict[DeviceKind, DeviceConfig], *, backoff_initial: float = 0.5) -> None:
        from peripherals.registry import build_device

        self.devices: dict[DeviceKind, DeviceSupervisor] = {
            kind: DeviceSupervisor(
                kind, (lambda c=cfg: build_device(c)), backoff=Backoff(initial=backoff_initial)
            )
            for kind, cfg in devices.items()
            if cfg.enabled
        }

    def start(self, wait: float | None = None) -> None:
        futures = [d.start() for d in self.devices.values()]
        if wait:
            concurrent.futures.wait(futures, timeout=wait)

    def stop(self) -> None:
        for d in self.devices.values():
            d.stop()

    def subscribe(self, listener: Listener) -> None:
        for d in self.devices.values():
            d.add_listener(listener)

    def __getitem__(self, kind: DeviceKind | str) -> DeviceSupervisor:
        return self.devices[DeviceKind(kind)]

    def statuses(self) -> dict[DeviceKind, DeviceStatus]:
        return {kind: d.status for kind, d in self.devices.items()}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
