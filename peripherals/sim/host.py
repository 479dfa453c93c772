"""Hosts that carry a simulator's bytes over a real file descriptor.

`FdHost` runs one thread that reads what the driver wrote, feeds it to the simulator and
fires the simulator's timers; replies are written back paced at the configured baud
rate, so a driver sees bytes arrive as fast as a real UART would deliver them (10 bit
times per byte, 8N1) and not faster.

- `PtyHost`: a pseudo-terminal; the driver opens `host.port` (a /dev/pts path, or a
  stable symlink) with pyserial exactly as it would open /dev/ttyUSB0.
- `SocketPairHost`: one end of a socket pair; the other end is what the `sim://`
  pyserial handler reads and writes.

`unplug()` closes the device end, so the driver's next read or write fails the way a
pulled USB-serial adapter does; `PtyHost.replug()` brings a new pty up under the same link.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pty
import select
import socket
import threading
import time
import tty
from typing import Callable

from .base import Simulator

_CHUNK = 32


class FdHost:
    def __init__(self, sim: Simulator, baudrate: int | None = 115200) -> None:
        self.sim = sim
        self.baudrate = baudrate
        self._fd: int | None = None
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bytes_sent = 0

    # -- SimHost protocol ---------------------------------------------------------------
    def send(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            return
        start = time.monotonic()
        for i in range(0, len(data), _CHUNK):
            chunk = data[i : i + _CHUNK]
            try:
                os.write(fd, chunk)
            except OSError:
                return
            self.bytes_sent += len(chunk)
            if self.baudrate:
                due = start + (i + len(chunk)) * 10 / self.baudrate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def call_later(self, delay: float, fn: Callable[[], None]) -> int:
        handle = next(self._seq)
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay, handle, fn))
        os.write(self._wake_w, b"x")
        return handle

    def call_soon(self, fn: Callable[[], None]) -> int:
        """Run `fn` on the host thread (for tests that poke the simulator)."""
        return self.call_later(0, fn)

    def cancel(self, handle: object) -> None:
        with self._lock:
            self._cancelled.add(handle)  # type: ignore[arg-type]

    def unplug(self) -> None:
        self.sim.plugged = False
        self._close_device_end()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, fd: int) -> None:
        self._fd = fd
        self.sim.plugged = True
        self.sim.attach(self)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"sim-{self.sim.kind}", daemon=True)
            self._thread.start()
        else:
            os.write(self._wake_w, b"x")  # the loop may be waiting on the old descriptor

    def stop(self) -> None:
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._close_device_end()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _close_device_end(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _next_timeout(self) -> float:
        with self._lock:
            if not self._timers:
                return 0.5
            return max(0.0, self._timers[0][0] - time.monotonic())

    def _fire_due_timers(self) -> None:
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > time.monotonic():
                    return
                _, handle, fn = heapq.heappop(self._timers)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                    continue
            fn()

    def _run(self) -> None:
        while not self._stop.is_set():
            fds = [self._wake_r] + ([self._fd] if self._fd is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], self._next_timeout())
            except (OSError, ValueError):
                ready = []
                time.sleep(0.01)
            if self._wake_r in ready:
                try:
                    os.read(self._wake_r, 512)
                except OSError:
                    pass
            fd = self._fd
            if fd is not None and fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if data:
                    self.sim.feed(data)
                elif self._fd is fd and isinstance(self, SocketPairHost):
                    self._close_device_end()  # the driver closed its end
            self._fire_due_timers()


class PtyHost(FdHost):
    """A simulator on a new pseudo-terminal; `port` is the path a driver opens."""

    def __init__(self, sim: Simulator, baudrate: int | None = 115200, link: str | None = None) -> None:
        super().__init__(sim, baudrate)
        self.link = link
        self._slave_fd: int | None = None
        self.tty_path = ""
        self._plug_lock = threading.RLock()  # an unplug on the host thread vs a replug from a test
        self._open_pty()

    @property
    def port(self) -> str:
        return self.link or self.tty_path

    def _open_pty(self) -> None:
        with self._plug_lock:
            self._open_pty_locked()

    def _open_pty_locked(self) -> None:
        master, slave = pty.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation before the driver opens it
        tty.setraw(master)
        self._slave_fd = slave  # held open so the master never sees EIO between opens
        self.tty_path = os.ttyname(slave)
        if self.link:
            tmp = f"{self.link}.tmp{os.getpid()}"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.tty_path, tmp)
            os.replace(tmp, self.link)
        self.start(master)

    def _close_device_end(self) -> None:
        with self._plug_lock:
            if self.link and os.path.lexists(self.link) and os.readlink(self.link) == self.tty_path:
                os.unlink(self.link)  # first, so the path is gone before reads start failing
            super()._close_device_end()
            fd, self._slave_fd = self._slave_fd, None
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def replug(self) -> None:
        """Bring the device back on a new pty (under the same link, if one was given)."""
        self._open_pty()


class SocketPairHost(FdHost):
    """A simulator on one end of a socket pair; `client` is the driver's end."""

    def __init__(self, sim: Simulator, baudrate: int | None = None) -> None:
        super().__init__(sim, baudrate)
        device_end, self.client = socket.socketpair()
        self.start(device_end.detach())
