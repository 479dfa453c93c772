"""The submission outbox: back-office writes kept in the journal until the back office has them.

    store = OutboxStore(state_dir, kiosk_id="cq-yz-0042")     # the journal's DB and key
    forwarder = Forwarder(store, HttpBackOffice(url, retries=1))
    outbox = Outbox(store, forwarder)                          # FlowDeps.outbox
    asyncio.create_task(forwarder.run())                       # in the kiosk app
    await forwarder.drain()                                    # `kiosk outbox flush`
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import Any, AsyncIterator

from flows.outbox.breaker import BreakerState, CircuitBreaker
from flows.outbox.forwarder import Delivered, DrainReport, Forwarder, Queued
from flows.outbox.reference import is_valid as is_valid_reference
from flows.outbox.reference import make_reference
from flows.outbox.store import OutboxItem, OutboxStats, OutboxStore


@dataclass
class Outbox:
    """What the flows get as `deps.outbox`: the store and the forwarder that drains it."""

    store: OutboxStore
    forwarder: Forwarder

    @property
    def online(self) -> bool | None:
        return self.forwarder.online


__all__ = [
    "BreakerState", "CircuitBreaker", "Delivered", "DrainReport", "Forwarder", "Outbox", "OutboxItem",
    "OutboxStats", "OutboxStore", "Queued", "is_valid_reference", "make_reference", "running_outbox",
]


@contextlib.asynccontextmanager
async def running_outbox(
    state_dir: str | os.PathLike[str], backoffice: Any, *, kiosk_id: str, keystore: Any = None,
    breaker: CircuitBreaker | None = None, **forwarder_kw: Any,
) -> AsyncIterator[Outbox]:
    """The state directory's outbox with its forwarder running as a task of this event loop."""
    store = OutboxStore(state_dir, keystore, kiosk_id=kiosk_id)
    forwarder = Forwarder(store, backoffice, breaker=breaker, **forwarder_kw)
    task = asyncio.get_running_loop().create_task(forwarder.run(), name="outbox-forwarder")
    try:
        yield Outbox(store, forwarder)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()
