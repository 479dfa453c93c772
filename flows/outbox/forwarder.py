"""The forwarder: sends the outbox to the back office in order, once, without blocking anyone.

- In order: the oldest pending write first (a waybill is never sent before the application
  it refers to); a parked write does not hold up the ones behind it.
- Once: a write leaves the outbox only after the back office answered it. A kill -9, a
  timeout after the back office committed, a 5xx or a restart of the back office just
  mean the same body is sent again with the same Idempotency-Key, and the back office
  answers from its record instead of doing it twice.
- Backoff, jitter and a circuit breaker (breaker.py) between failed attempts; a 4xx is
  final: the write is parked (store.park) and `on_parked` tells the fleet.
- Never blocking: it is an asyncio task beside the flows. A flow that just queued a write
  may wait a little for its answer (`await_item`); while the breaker is open it gets
  `Queued` at once and carries on with a provisional reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from flows.errors import JournalCorrupt, JournalError
from flows.outbox.breaker import BreakerState, CircuitBreaker
from flows.outbox.store import OutboxItem, OutboxStore
from flows.outbox.writes import UnknownWrite, spec_for
from flows.services.errors import ServiceError, ServiceRejected

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivered:
    result: BaseModel


@dataclass(frozen=True)
class Queued:
    """Not answered yet; the write stays in the outbox and goes later."""

    reason: str  # backoffice_unreachable | backoffice_slow


@dataclass
class DrainReport:
    delivered: int = 0
    parked: int = 0
    failures: int = 0
    last_error: str = ""
    remaining: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)

    @property
    def drained(self) -> bool:
        return self.remaining == 0


class Forwarder:
    """`backoffice` is any object with the `flows.services` write methods (HttpBackOffice)."""

    def __init__(
        self,
        store: OutboxStore,
        backoffice: Any,
        *,
        breaker: CircuitBreaker | None = None,
        on_parked: Callable[[OutboxItem, str], None] | None = None,
        on_change: Callable[[], None] | None = None,
        probe_interval_s: float | None = 30.0,
    ):
        self.store = store
        self.probe_interval_s = probe_interval_s  # idle: ask /v1/health this often (None: never)
        self._last_probe: float | None = None
        self.backoffice = backoffice
        self.breaker = breaker or CircuitBreaker()
        self.on_parked = on_parked
        self.on_change = on_change
        self._waiters: dict[int, asyncio.Future[Delivered | Queued]] = {}
        self._wake = asyncio.Event()
        self._sent_since_truncate = 0

    # -- status ----------------------------------------------------------------------------

    @property
    def online(self) -> bool | None:
        """True after a delivery with the breaker closed, False while it is not closed, None before any try."""
        if self.breaker.state is not BreakerState.CLOSED:
            return False
        return True if self.breaker.last_success is not None else None

    def wake(self) -> None:
        self._wake.set()

    # -- flows' side -------------------------------------------------------------------------

    async def await_item(self, item: OutboxItem, timeout: float) -> Delivered | Queued:
        """Wait up to `timeout` for this write's answer; ServiceRejected if the back office refused it."""
        if not self.breaker.allows():
            return Queued("backoffice_unreachable")
        fut = self._waiters.get(item.seq)
        if fut is None or fut.done():
            fut = self._waiters[item.seq] = asyncio.get_running_loop().create_future()
        self.wake()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            return Queued("backoffice_slow")
        finally:
            if self._waiters.get(item.seq) is fut and fut.done():
                del self._waiters[item.seq]

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Forever: send what is pending, sleep while the breaker is open, wait for work when empty.

        With nothing to send it probes the back office's health (at once, then every
        `probe_interval_s`, and whenever the breaker is half-open), so the home screen knows
        the back office is down before a citizen starts an errand that needs it.
        """
        while True:
            wait = self.breaker.wait_s()
            if wait > 0:
                self._release_waiters("backoffice_unreachable")
                self._wake.clear()
                await asyncio.sleep(wait)
                continue
            result = await self.send_next()
            if result != "empty":
                continue
            if self._probe_due():
                await self.probe()
                continue
            self._wake.clear()
            if not self.store.pending(limit=1):
                timeout = None
                if self.probe_interval_s is not None and self._last_probe is not None:
                    timeout = max(0.0, self._last_probe + self.probe_interval_s - time.monotonic())
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)

    def _probe_due(self) -> bool:
        if self.probe_interval_s is None or not hasattr(self.backoffice, "health"):
            return False
        if self._last_probe is None or self.breaker.state is not BreakerState.CLOSED:
            return True
        return time.monotonic() - self._last_probe >= self.probe_interval_s

    async def probe(self) -> bool:
        """One health check; its result moves the breaker like a send would."""
        self._last_probe = time.monotonic()
        try:
            await self.backoffice.health()
        except ServiceError as e:
            delay = self.breaker.failure()
            log.info("outbox: back office health check failed (%s); next in %.1f s", e.code, delay)
            self._changed()
            return False
        self.breaker.success()
        self._changed()
        return True

    async def drain(self, *, max_failures: int = 3) -> DrainReport:
        """Send until the queue is empty or `max_failures` attempts in a row failed (the flush command)."""
        report = DrainReport()
        failed_in_row = 0
        while True:
            result = await self.send_next(report)
            if result == "empty":
                break
            if result == "failed":
                failed_in_row += 1
                report.failures += 1
                if failed_in_row >= max_failures:
                    break
                await asyncio.sleep(self.breaker.wait_s())
            else:
                failed_in_row = 0
        self.store.truncate_wal()
        report.remaining = self.store.stats().depth
        return report

    async def send_next(self, report: DrainReport | None = None) -> str:
        """Send the oldest pending write: 'delivered', 'parked', 'rejected', 'failed' or 'empty'."""
        head = self.store.pending(limit=1)
        if not head:
            if self._sent_since_truncate:
                self.store.truncate_wal()
                self._sent_since_truncate = 0
            return "empty"
        item = head[0]
        try:
            spec = spec_for(item.kind)
            request = spec.request.model_validate(self.store.body(item))
            method = getattr(self.backoffice, item.kind)
        except (UnknownWrite, JournalCorrupt, ValidationError, AttributeError) as e:
            return self._park(item, "unreadable", report, type(e).__name__)
        try:
            result = await method(request, idempotency_key=item.idempotency_key)
        except ServiceRejected as e:
            waiter = self._waiters.pop(item.seq, None)
            if waiter is not None and not waiter.done():
                self.store.delivered(item.seq)  # the citizen at the kiosk sees the refusal now
                waiter.set_exception(e)
                self._changed()
                return "rejected"
            return self._park(item, e.code, report)
        except ServiceError as e:
            delay = self.breaker.failure()
            self._record_attempt(item, e.code)
            if report is not None:
                report.last_error = e.code
            log.info("outbox: %s #%d not sent (%s); next try in %.1f s", item.kind, item.seq, e.code, delay)
            if not self.breaker.allows():
                self._release_waiters("backoffice_unreachable")
            self._changed()
            return "failed"
        self.breaker.success()
        self.store.delivered(item.seq)
        self._sent_since_truncate += 1
        if report is not None:
            report.delivered += 1
        waiter = self._waiters.pop(item.seq, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(Delivered(result))
        self._changed()
        return "delivered"

    # -- internals ---------------------------------------------------------------------------

    def _park(self, item: OutboxItem, code: str, report: DrainReport | None, detail: str = "") -> str:
        log.warning("outbox: %s #%d refused for good (%s%s); parked", item.kind, item.seq, code,
                    f", {detail}" if detail else "")
        self.store.park(item.seq, code)
        if report is not None:
            report.parked += 1
            report.rejections.append((item.seq, code))
        waiter = self._waiters.pop(item.seq, None)
        if waiter is not None and not waiter.done():
            waiter.set_exception(ServiceRejected(code=code))
        if self.on_parked is not None:
            self.on_parked(item, code)
        self._changed()
        return "parked"

    def _record_attempt(self, item: OutboxItem, code: str) -> None:
        try:
            self.store.record_attempt(item.seq, code)
        except JournalError:
            log.error("outbox: could not record an attempt")

    def _release_waiters(self, reason: str) -> None:
        waiters, self._waiters = self._waiters, {}
        for fut in waiters.values():
            if not fut.done():
                fut.set_result(Queued(reason))

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # a telemetry hook must not stop the forwarder
                log.exception("outbox: on_change hook failed")


def age_s(item: OutboxItem, wall: Callable[[], float] = time.time) -> float:
    return max(0.0, wall() - item.created_at)
