"""The kiosk app's outbox: opened on the flow loop, its forwarder a task there, read by the UI.

The forwarder runs on the flow host's event loop (kiosk/flowhost.py), never on the UI
thread: sending, backing off and waiting for a dead back office cost the UI nothing.
Three readers: every session's deps (`attach`: writes go through the outbox), the home
screen (`link`: which services are available now, flows/availability.py) and the fleet
health (`stats`: queue depth, oldest age, parked; the store is thread-safe).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path
from typing import Any, Callable

from flows.availability import LinkState, link_state
from flows.outbox import Forwarder, Outbox, OutboxItem, OutboxStats, OutboxStore

log = logging.getLogger(__name__)


def default_kiosk_id() -> str:
    """$KIOSK_ID (the fleet id the agent uses too), else the host name."""
    return os.environ.get("KIOSK_ID") or socket.gethostname().split(".")[0].lower() or "kiosk"


class KioskOutbox:
    def __init__(self, state_dir: Path, backoffice_factory: Callable[[], Any], *, kiosk_id: str | None = None):
        self.state_dir = Path(state_dir)
        self.backoffice_factory = backoffice_factory  # called on the flow loop (an httpx client binds to it)
        self.kiosk_id = kiosk_id or default_kiosk_id()
        self.outbox: Outbox | None = None
        self.on_link_change: Callable[[LinkState], None] | None = None  # called on the flow loop
        self.on_parked: Callable[[OutboxItem, str], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None
        self._last_link = LinkState.UNKNOWN

    # -- on the flow loop --------------------------------------------------------------------
    async def start(self) -> None:
        store = OutboxStore(self.state_dir, kiosk_id=self.kiosk_id)
        self._client = self.backoffice_factory()
        forwarder = Forwarder(store, self._client, on_change=self._changed, on_parked=self._parked)
        self.outbox = Outbox(store, forwarder)
        self._task = asyncio.get_running_loop().create_task(forwarder.run(), name="outbox-forwarder")
        log.info("outbox: %d waiting, %d parked", store.stats().depth, store.stats().parked)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        closer = getattr(self._client, "aclose", None)
        if closer is not None:
            await closer()
        if self.outbox is not None:
            self.outbox.store.close()

    def attach(self, deps: Any) -> Any:
        """A session's deps with writes going through the outbox."""
        if deps is not None and self.outbox is not None:
            deps.outbox = self.outbox
        return deps

    # -- any thread --------------------------------------------------------------------------
    def link(self) -> LinkState:
        return link_state(self.outbox.online) if self.outbox is not None else LinkState.UNKNOWN

    def stats(self) -> OutboxStats | None:
        return self.outbox.store.stats() if self.outbox is not None else None

    def _changed(self) -> None:
        now = self.link()
        if now is not self._last_link:
            self._last_link = now
            log.info("outbox: back office %s", now.value)
            if self.on_link_change is not None:
                self.on_link_change(now)

    def _parked(self, item: OutboxItem, code: str) -> None:
        if self.on_parked is not None:
            self.on_parked(item, code)
