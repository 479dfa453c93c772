"""SIGTERM and SIGINT become one orderly stop; a second signal stops at once.

A process asks for `on_stop_signals(callback)` from its main thread. The first signal
calls `callback(name)`, which must only *ask* the process to stop (set an event, schedule
the UI loop's stop): the handler runs between two bytecodes of the main thread, so it
must not block. A second signal while stopping exits at once with 128 + signal number,
as a shell would report it — the operator who presses Ctrl-C twice means it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """What the signal handlers set; `wait()` for it, or poll `requested`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def set(self, name: str) -> None:
        self.signal_name = self.signal_name or name
        self._event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


def on_stop_signals(callback: Callable[[str], None] | None = None, *,
                    signals: Iterable[signal.Signals] = STOP_SIGNALS) -> StopRequest:
    """Install the handlers (main thread only); returns the StopRequest they set."""
    request = StopRequest()

    def handle(signum: int, _frame) -> None:
        name = signal.Signals(signum).name
        if request.requested:
            log.warning("%s while stopping: exiting now", name)
            os._exit(128 + signum)
        log.info("%s: stopping", name)
        request.set(name)
        if callback is not None:
            callback(name)

    for sig in signals:
        signal.signal(sig, handle)
    return request
