"""systemd readiness and watchdog notifications, without a dependency.

kiosk.service is `Type=notify` with `WatchdogSec=30`: the app says READY=1 once its first
screen is up, and the UI loop says WATCHDOG=1 while it keeps turning. If the loop hangs,
the pings stop and systemd kills and restarts the app. That only works if the ping comes
from the UI loop itself (a Kivy `Clock` interval, every frame or second) — never from a
helper thread, which would keep pinging for a frozen screen.

The protocol (sd_notify(3)): newline-separated `KEY=VALUE` lines in one datagram to the
AF_UNIX socket named by $NOTIFY_SOCKET; a leading '@' means the abstract namespace.
$WATCHDOG_USEC is the watchdog interval; $WATCHDOG_PID, if set, names the process that
is meant to ping (sd_watchdog_enabled(3)). Outside systemd (tests, a developer's shell)
$NOTIFY_SOCKET is unset and every call here is a cheap no-op.

Used by every service of the project; the kiosk app ticks `WatchdogPinger` from its own
Kivy Clock callback (kiosk/service_loop.py).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

__all__ = ["SystemdNotifier", "WatchdogPinger", "watchdog_period"]

log = logging.getLogger(__name__)


def _socket_address(name: str) -> str | None:
    """The sendto() address for a $NOTIFY_SOCKET value, or None if we cannot use it."""
    if name.startswith("/"):
        return name
    if name.startswith("@") and len(name) > 1:
        return "\0" + name[1:]
    return None  # vsock:... and other forms are not used for system services here


class SystemdNotifier:
    """Sends sd_notify messages to the service manager; a no-op when not under systemd.

    Failures to send are logged once and swallowed: a missing or broken notify socket
    must never take the kiosk UI down. (If READY=1 never arrives, systemd's start
    timeout reports it.)
    """

    def __init__(self, socket_name: str | None = None, *, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        name = socket_name if socket_name is not None else environ.get("NOTIFY_SOCKET", "")
        self._address = _socket_address(name) if name else None
        if name and self._address is None:
            log.warning("NOTIFY_SOCKET %r is not a unix socket address; notifications disabled", name)
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, **fields: str | int) -> bool:
        """Send one datagram of KEY=VALUE lines (keys as given, e.g. READY=1).

        Returns True if the datagram was sent, False if notifications are disabled or the
        send failed.
        """
        if self._address is None:
            return False
        lines = []
        for key, value in fields.items():
            text = str(value)
            if "\n" in text or "\n" in key:
                raise ValueError(f"sd_notify field {key} must be one line")
            lines.append(f"{key}={text}")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(lines).encode(), self._address)
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("sd_notify failed: %s", exc)
                self._warned = True
            self.close()
            return False

    def ready(self, status: str | None = None) -> bool:
        """READY=1: start-up finished, systemd may consider the unit active."""
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        """STATUS=...: a one-line state shown by `systemctl status`."""
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        """WATCHDOG=1: the service is alive; resets systemd's watchdog timer."""
        return self.notify(WATCHDOG=1)

    def stopping(self, status: str | None = None) -> bool:
        """STOPPING=1: shutting down on purpose; do not treat silence as a hang."""
        return self.notify(STOPPING=1, **({"STATUS": status} if status else {}))

    def extend_timeout(self, seconds: float) -> bool:
        """EXTEND_TIMEOUT_USEC=...: start-up (or stop) needs this much longer from now."""
        return self.notify(EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_period(env: Mapping[str, str] | None = None, *, pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None if no watchdog.

    Follows sd_watchdog_enabled(3): $WATCHDOG_USEC must be a positive integer, and if
    $WATCHDOG_PID is set it must be this process (a child that inherited the variables
    must not ping for its parent).
    """
    environ = os.environ if env is None else env
    usec_text = environ.get("WATCHDOG_USEC", "")
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid_text = environ.get("WATCHDOG_PID", "")
    if pid_text:
        try:
            if int(pid_text) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 1_000_000 / 2


class WatchdogPinger:
    """Rate-limits WATCHDOG=1 pings from a loop that calls `tick()` often.

    Call `tick()` from the UI loop on every frame (or every second): it sends WATCHDOG=1
    at most once per `period` (half of WatchdogSec by default), so a 60 fps loop costs
    one datagram per 15 s. When the loop hangs, tick() is not called, the pings stop and
    systemd restarts the service.
    """

    def __init__(
        self,
        notifier: SystemdNotifier | None = None,
        period: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notifier = notifier if notifier is not None else SystemdNotifier()
        self.period = period if period is not None else watchdog_period()
        self._clock = clock
        self._last_ping: float | None = None

    @property
    def enabled(self) -> bool:
        return self.period is not None and self.notifier.enabled

    def tick(self) -> bool:
        """Ping if a period has passed since the last ping; True if a ping was sent."""
        if not self.enabled:
            return False
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < self.period:  # type: ignore[operator]
            return False
        if self.notifier.watchdog():
            self._last_ping = now
            return True
        return False
