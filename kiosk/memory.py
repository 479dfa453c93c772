"""glibc malloc for a process that runs for months: fewer arenas, and freed memory given back.

Why (measured in docs/memory.md): most of what the kiosk process held after a renewal was
memory already freed but still kept by malloc — `malloc_trim(0)` at the end of a
renewal gave back 130 MiB of 520. Label textures, camera frames and llvmpipe's buffers
are large blocks allocated and freed all the time; glibc raises its mmap threshold each
time such a block is freed (up to 32 MiB), so later ones come from the heap, which then
fragments and is given back only from its top; and every thread that mallocs gets an
arena of its own (up to 8 per core).

- `tune()`, once at start, before threads: at most 2 arenas. The mmap and trim thresholds
  stay dynamic (setting either one fixes both): with a fixed 256 KiB mmap threshold every
  camera frame became a fresh mapping the kernel zeroes, and the simulator's noise step
  took 9.2 ms a frame instead of 0.44 ms.
- `Trimmer.soon()`: `malloc_trim(0)` (which also returns free pages inside the heap)
  half a second after a screen change or a session end, on the UI thread's clock, once
  for a burst of changes; it takes a few milliseconds.

`KIOSK_MALLOC_TUNE=0` turns both off, to measure what they save.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8
DISABLE_ENV = "KIOSK_MALLOC_TUNE"
TRIM_DELAY_S = 0.5

_libc = None


def _glibc():
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            libc.malloc_trim.argtypes = [ctypes.c_size_t]
            _libc = libc
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
            _libc = False
    return _libc or None


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV) != "0"


def tune() -> bool:
    """Arena count, mmap and trim thresholds; True when applied."""
    libc = _glibc() if enabled() else None
    if libc is None:
        return False
    ok = all(libc.mallopt(param, value) == 1 for param, value in
             ((M_ARENA_MAX, 2),))
    if not ok:
        log.warning("mallopt refused a setting")
    return ok


def trim() -> None:
    libc = _glibc() if enabled() else None
    if libc is not None:
        libc.malloc_trim(0)


class Trimmer:
    """`soon()` from the UI thread: one `trim()` TRIM_DELAY_S after the last call of a burst."""

    def __init__(self, delay_s: float = TRIM_DELAY_S) -> None:
        self.delay_s = delay_s
        self._event = None
        self.count = 0

    def soon(self) -> None:
        if not enabled():
            return
        if self._event is None:
            from kivy.clock import Clock

            self._event = Clock.create_trigger(self._run, self.delay_s)
        self._event.cancel()
        self._event()

    def _run(self, _dt) -> None:
        trim()
        self.count += 1

    def cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
