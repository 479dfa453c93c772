"""Peak memory of a command, sampled from outside the process every 0.1 s (/proc/PID/status VmRSS).

    .venv/bin/python bench/rss.py [--interval 0.1] -- .venv/bin/kiosk run --virtual --headless \
        --autopilot licence-renewal --no-fleet

Prints the peak RSS of the command's own process (the kiosk UI), the peak of the sum over
all kiosk-side processes (the UI and its descendants except the reference back office, the
MQTT broker and the fleet server, which run elsewhere in a real deployment: the agent and
a face engine in its own process do count), each process's own peak, and an RSS timeline
of the kiosk process. Nothing is imported into the measured process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

NOT_KIOSK_SIDE = ("backoffice.cli", "mosquitto", "fleet.server", "kiosk-fleet-server", "kiosk-backoffice")


def children(pid: int) -> list[int]:
    """All descendants of `pid` (through /proc/PID/task/TID/children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(x) for x in f.read().split()]
        except OSError:
            continue
    for c in list(found):
        found += children(c)
    return found


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return 0.0  # a zombie has no VmRSS line


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return " ".join(p.decode(errors="replace") for p in f.read().split(b"\0") if p)
    except OSError:
        return ""


def kiosk_side(command: str) -> bool:
    return not any(marker in command for marker in NOT_KIOSK_SIDE)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--timeline-every", type=float, default=2.0, metavar="S", help="timeline resolution (seconds)")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give the command after --")
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks: dict[int, float] = {}
    names: dict[int, str] = {}
    own_peak = side_peak = 0.0
    timeline: list[tuple[float, float]] = []
    next_mark = 0.0
    while proc.poll() is None:
        side = 0.0
        for pid in [proc.pid, *children(proc.pid)]:  # a child counts from the sample it is first seen exec'd
            value = rss_mib(pid)
            if value is None:
                continue
            names[pid] = cmdline(pid) or names.get(pid, "?")  # read again: before exec a child shows its parent's
            if pid != proc.pid and names[pid] == names.get(proc.pid):
                continue  # forked, not yet exec'd: its RSS is the parent's pages, shared copy-on-write
            peaks[pid] = max(peaks.get(pid, 0.0), value)
            if pid == proc.pid:
                own_peak = max(own_peak, value)
            if kiosk_side(names[pid]):
                side += value
        side_peak = max(side_peak, side)
        now = time.monotonic() - start
        if now >= next_mark:
            timeline.append((now, rss_mib(proc.pid) or 0.0))
            next_mark += args.timeline_every
        time.sleep(args.interval)
    err = proc.stderr.read() if proc.stderr else ""
    tail = [line for line in err.splitlines() if line.strip() and " INFO " not in line][-3:]
    elapsed = time.monotonic() - start
    print(f"command exit {proc.returncode} after {elapsed:.1f} s" + ("" if not tail else ": " + " | ".join(tail)))
    for pid, value in sorted(peaks.items(), key=lambda kv: -kv[1]):
        side = "kiosk-side" if kiosk_side(names[pid]) else "not counted"
        print(f"  {value:7.1f} MiB  pid {pid:<7} {side:<11}  {names[pid][:90]}")
    print("  timeline (s:MiB) " + " ".join(f"{t:.0f}:{v:.0f}" for t, v in timeline))
    print(f"peak RSS: kiosk process {own_peak:.0f} MiB, all kiosk-side processes {side_peak:.0f} MiB")
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
