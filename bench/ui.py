"""UI figures: cold start to the first attract-screen frame, RSS, touch-to-next-screen latency.

    .venv/bin/python bench/ui.py [--runs 3] [--size 1080x1920]

Each run is a fresh process (a cold start) with SDL offscreen rendering (Mesa llvmpipe
on a machine without a GPU, so the figures are pessimistic for a kiosk with hardware
GL). Cold start counts from the process's own start time (/proc/self/stat), so the
interpreter, Kivy, the font and building every screen are included. Latency is counted
in frames: after a synthetic tap on the home tile, how many frames until the next screen
is the one drawn; after a keypad tap, until the digit is on screen. Frames are pumped
back to back (maxfps 0); the ms beside them are wall time, i.e. the cost of building and
drawing the new screen (on llvmpipe, ~100 ms for a full 1080×1920 redraw).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _process_age_s() -> float:
    """Seconds since this process started (field 22 of /proc/self/stat, in clock ticks since boot)."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(size: str) -> dict:
    os.environ.update(SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON", KIVY_NO_CONFIG="1",
                      KIVY_NO_FILELOG="1", KIVY_HOME=tempfile.mkdtemp(prefix="bench-kivy-"))
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "ui"))
    width, height = (int(v) for v in size.split("x"))
    from kiosk.kivy_setup import DisplayOptions, configure

    configure(DisplayOptions(width=width, height=height, headless=True, fullscreen=False, maxfps=0))
    from kivy.base import EventLoop, runTouchApp

    from demo_support import PHONE, demo_service  # the demo flow with in-process devices
    from kiosk.app import KioskOptions, create_app
    from kiosk.autopilot import find_widget, tap

    app = create_app(KioskOptions(voice=False, display=DisplayOptions(width=width, height=height, headless=True)),
                     [demo_service()])
    app._run_prepare()
    runTouchApp(embedded=True)
    EventLoop.idle()  # the first frame, with the attract screen built and drawn
    cold = _process_age_s()
    rss_home = _rss_mib()

    frames = 0

    def pump(n: int = 1) -> None:
        nonlocal frames
        for _ in range(n):
            EventLoop.idle()
            frames += 1

    def frames_until(pred, limit: int = 500) -> int:
        start = frames
        while not pred() and frames - start < limit:
            pump(1)
            time.sleep(0.001)  # the flow thread answers; frames are what we count
        pump(1)  # the frame that draws the new state
        return frames - start

    def tap_and_count(kiosk_id: str, pred) -> tuple[int, float]:
        w = find_widget(app.sm.current_screen, kiosk_id)
        t = time.perf_counter()
        start = frames
        tap(w, pump)  # touch down, frame, touch up, frame
        n = (frames - start) + frames_until(pred)
        return n, (time.perf_counter() - t) * 1000

    home_to_flow = tap_and_count("home.service.demo", lambda: app.sm.current != "home")
    frames_until(lambda: app.sm.current == "consent")
    app.screens["consent"].pick("identity", True)
    app.screens["consent"].pick("contact", True)
    to_form = tap_and_count("consent.confirm", lambda: app.sm.current == "form")
    key = tap_and_count(f"keypad.{PHONE[0]}", lambda: app.screens["form"].entry.label.text.startswith(PHONE[0]))
    rss_flow = _rss_mib()
    app.stop()
    return {"cold_start_s": round(cold, 3), "rss_home_mib": round(rss_home, 1), "rss_in_flow_mib": round(rss_flow, 1),
            "home_tap_to_flow_screen": {"frames": home_to_flow[0], "ms": round(home_to_flow[1])},
            "confirm_tap_to_next_screen": {"frames": to_form[0], "ms": round(to_form[1])},
            "keypad_tap_to_digit_shown": {"frames": key[0], "ms": round(key[1])}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--size", default="1080x1920")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.size)))
        return 0
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--child", "--size", args.size], capture_output=True, text=True,
                             cwd=ROOT, timeout=300)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    def med(path: str) -> float:
        vals = []
        for r in results:
            v = r
            for part in path.split("."):
                v = v[part]
            vals.append(v)
        return statistics.median(vals)

    print(f"kiosk UI bench ({args.size}, SDL offscreen, {args.runs} cold starts, medians)")
    print(f"  cold start to first attract-screen frame  {med('cold_start_s'):.2f} s")
    print(f"  RSS on the attract screen                 {med('rss_home_mib'):.0f} MiB")
    print(f"  RSS during a flow                         {med('rss_in_flow_mib'):.0f} MiB")
    for key, label in (("home_tap_to_flow_screen", "tap home tile -> first flow screen"),
                       ("confirm_tap_to_next_screen", "tap confirm -> next screen"),
                       ("keypad_tap_to_digit_shown", "tap keypad key -> digit shown")):
        print(f"  {label:<40}  {med(key + '.frames'):.0f} frames ({med(key + '.ms'):.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
