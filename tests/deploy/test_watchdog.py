"""lifecycle/notify.py against a fake NOTIFY_SOCKET: the datagrams systemd would receive."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from lifecycle.notify import SystemdNotifier, WatchdogPinger, watchdog_period

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify_socket():
    """A datagram socket standing in for systemd's notify socket, at a short path.

    (AF_UNIX paths are limited to 108 bytes; pytest's tmp_path can be longer.)
    """
    directory = tempfile.mkdtemp(prefix="ntf", dir="/tmp")
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield sock, path
    sock.close()
    os.unlink(path)
    os.rmdir(directory)


def receive(sock: socket.socket, timeout: float) -> str | None:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096).decode()
    except TimeoutError:
        return None


def test_ready_status_watchdog_stopping_reach_the_socket(notify_socket):
    sock, path = notify_socket
    notifier = SystemdNotifier(path)
    assert notifier.ready("first screen up")
    assert receive(sock, 1) == "READY=1\nSTATUS=first screen up"
    assert notifier.status("idle")
    assert receive(sock, 1) == "STATUS=idle"
    assert notifier.watchdog()
    assert receive(sock, 1) == "WATCHDOG=1"
    assert notifier.extend_timeout(2.5)
    assert receive(sock, 1) == "EXTEND_TIMEOUT_USEC=2500000"
    assert notifier.stopping()
    assert receive(sock, 1) == "STOPPING=1"
    notifier.close()


def test_abstract_namespace_socket():
    name = f"kiosk-test-notify-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        notifier = SystemdNotifier(env={"NOTIFY_SOCKET": "@" + name})
        assert notifier.enabled
        assert notifier.ready()
        assert receive(sock, 1) == "READY=1"
    finally:
        sock.close()


def test_without_notify_socket_everything_is_a_no_op():
    notifier = SystemdNotifier(env={})
    assert not notifier.enabled
    assert notifier.ready() is False
    pinger = WatchdogPinger(notifier, period=0.0)
    assert not pinger.enabled
    assert pinger.tick() is False


def test_unusable_socket_names_disable_notifications():
    assert not SystemdNotifier("relative/path").enabled
    assert not SystemdNotifier("@").enabled


def test_send_failure_returns_false_and_does_not_raise(tmp_path):
    notifier = SystemdNotifier(str(tmp_path / "nobody-listens"))
    assert notifier.enabled
    assert notifier.watchdog() is False  # ENOENT / ECONNREFUSED: logged, swallowed


def test_multi_line_values_are_refused(notify_socket):
    _, path = notify_socket
    with pytest.raises(ValueError):
        SystemdNotifier(path).status("two\nlines")


@pytest.mark.parametrize(
    ("env", "pid", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 1, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, 1, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "2"}, 1, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, 1, None),
        ({"WATCHDOG_USEC": "-5"}, 1, None),
        ({"WATCHDOG_USEC": "soon"}, 1, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"}, 1, None),
        ({}, 1, None),
    ],
)
def test_watchdog_period_is_half_of_watchdog_usec(env, pid, expected):
    assert watchdog_period(env, pid=pid) == expected


def test_tick_pings_at_most_once_per_period(notify_socket):
    sock, path = notify_socket
    now = [100.0]
    pinger = WatchdogPinger(SystemdNotifier(path), period=15.0, clock=lambda: now[0])
    sent = []
    for _ in range(40):  # 40 frames, one second apart
        sent.append(pinger.tick())
        now[0] += 1.0
    assert [i for i, s in enumerate(sent) if s] == [0, 15, 30]
    assert [receive(sock, 1) for _ in range(3)] == ["WATCHDOG=1"] * 3
    assert receive(sock, 0.05) is None


# A UI loop in its own process, as under systemd: READY once, tick() every 10 ms for a
# while, then the loop hangs (a blocking call on the UI thread) and never ticks again.
HANGING_APP = textwrap.dedent(
    """
    import sys, time
    from lifecycle.notify import SystemdNotifier, WatchdogPinger
    notifier = SystemdNotifier()
    pinger = WatchdogPinger(notifier)
    assert pinger.enabled, "watchdog not enabled from the environment"
    notifier.ready("loop running")
    end = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end:
        pinger.tick()
        time.sleep(0.01)
    time.sleep(60)  # hung: no more ticks
    """
)


def test_watchdog_pings_stop_when_the_ui_loop_hangs(notify_socket):
    sock, path = notify_socket
    watchdog_sec = 0.4  # WatchdogSec; pings every 0.2 s while the loop runs
    run_for = 1.0
    env = dict(
        os.environ,
        NOTIFY_SOCKET=path,
        WATCHDOG_USEC=str(int(watchdog_sec * 1_000_000)),
        PYTHONPATH=str(REPO),
    )
    app = subprocess.Popen([sys.executable, "-c", HANGING_APP, str(run_for)], env=env, cwd=REPO)
    try:
        assert receive(sock, 10) == "READY=1\nSTATUS=loop running"
        ready_at = time.monotonic()

        # Play systemd: collect pings until WatchdogSec passes without one.
        pings = []
        while True:
            message = receive(sock, watchdog_sec)
            if message is None:
                break
            if time.monotonic() - ready_at > run_for + 3:
                pytest.fail("WATCHDOG=1 pings went on while the UI loop was hung")
            assert message == "WATCHDOG=1"
            pings.append(time.monotonic() - ready_at)
        silent_since = time.monotonic() - ready_at

        # While the loop ran, it pinged about every WatchdogSec/2 (first ping right away).
        assert run_for / (watchdog_sec / 2) - 2 <= len(pings) <= run_for / (watchdog_sec / 2) + 1
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert all(gap >= watchdog_sec / 2 - 0.02 for gap in gaps), gaps
        # The silence began when the loop hung, not before.
        assert silent_since >= run_for
        # The process is still there, hung: exactly what systemd kills and restarts.
        assert app.poll() is None
        assert receive(sock, watchdog_sec) is None
    finally:
        app.kill()
        app.wait()
