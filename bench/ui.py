"""UI figures over what a citizen really does: cold start, peak RSS, RSS over sessions, touch → next screen.

    .venv/bin/python bench/ui.py [--sessions 50] [--size 1080x1920]

One fresh process (a cold start) runs the real kiosk app headless (SDL offscreen; Mesa
llvmpipe on a machine without a GPU, so the figures are pessimistic for a kiosk with
hardware GL) on the virtual kiosk's simulated devices and the reference back office:

1. a whole licence renewal by synthetic touches (the autopilot with the shipped answers
   file: every screen type, the region picker, the pinyin keyboard of the street field,
   payment, printing) in Chinese, then in English, then in elderly mode (large text);
2. then renewals back to back through the session machinery (kiosk/session_driver.py)
   up to `--sessions` sessions in the same process.

Printed: cold start (process start → first attract-screen frame, interpreter and imports
included; the reference back office is started beforehand by this script, since on a
kiosk it is a server elsewhere), the peak RSS of the process sampled from outside every 0.1 s, the RSS after
sessions 1, 10 and 50 (and the peak with the face process, which counts as kiosk-side),
and for every type of screen touched (home, prompt, choice, form, consent, result …) the
frames from the touch that leaves it (touch up) until the next screen is drawn, median
and worst, with wall-clock ms.
Frames are pumped back to back; each frame ends with glFinish, so it is really drawn.
Goals (issue 13): peak ≤ 200 MiB, ≤ 2 frames at 60 fps per screen type, cold start ≤ 1 s.
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
sys.path.insert(0, str(ROOT / "bench"))


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


class FrameCounter:
    """Pumps frames, counts them, and times touch-up → the frame that draws the next screen."""

    def __init__(self):
        self.frames = 0
        self.in_pump = False
        self.pending: tuple[int, float, str] | None = None
        self.samples: dict[str, list[tuple[int, float]]] = {}

    def pump(self, n: int = 1) -> None:
        from kivy.base import EventLoop

        for _ in range(n):
            self.frames += 1
            self.in_pump = True
            try:
                EventLoop.idle()  # the listener below runs inside this frame, which then draws the new screen
            finally:
                self.in_pump = False

    def touched(self, screen: str) -> None:
        self.pending = (self.frames, time.perf_counter(), screen)

    def on_screen(self, name: str, _view) -> None:
        if self.pending is None or name.endswith(":update"):
            return
        start, t, touched = self.pending
        self.pending = None
        # shown inside a frame: drawn at its end (counted); shown by the touch itself, between two
        # frames (the result screen's "Done" goes home at once): drawn by the next frame
        frames = self.frames - start + (0 if self.in_pump else 1)
        self.samples.setdefault(touched, []).append((frames, (time.perf_counter() - t) * 1000))


def child(size: str, sessions: int, backoffice: str, state_dir: str) -> dict:
    width, height = (int(v) for v in size.split("x"))
    sys.path.insert(0, str(ROOT))
    from kiosk.kivy_setup import DisplayOptions, configure

    configure(DisplayOptions(width=width, height=height, headless=True, fullscreen=False, maxfps=0))
    from kivy.base import EventLoop, runTouchApp

    from flows.deps import FlowSettings
    from flows.engine import EngineSettings, ResumePolicy
    from kiosk.app import KioskOptions, create_app
    from kiosk.autopilot import Autopilot, _touch_class
    from kiosk.run import EXAMPLES
    from kiosk.runflow import AnswerBook, SkippableClock
    from kiosk.session_driver import SessionDriver
    from kiosk.virtual import VirtualKiosk

    counter = FrameCounter()
    base_touch = _touch_class()

    apps: list = []

    class CountedTouch(base_touch):
        def touch_up(self):
            counter.touched(apps[-1].sm.current if apps else "?")  # keyed by the screen the finger leaves
            super().touch_up()

    spec = AnswerBook.load(EXAMPLES / "licence-renewal.yaml")
    state = Path(state_dir)
    virtual = VirtualKiosk(state, sim_options=spec.sim, flow_settings=FlowSettings(**spec.settings),
                           backoffice_url=backoffice, audio_realtime=False).start()  # the back office runs outside
    out: dict = {"rss_after": {}, "runs": []}
    done = 0
    cold = None
    try:
        for lang, elderly in (("zh", False), ("en", False), ("zh", True)):
            clock = SkippableClock()
            app = create_app(KioskOptions(lang=lang, elderly=elderly, voice=False, state_dir=state,
                                          resume=ResumePolicy.NEVER, engine=EngineSettings(**spec.engine),
                                          final_linger_s=3600, display=DisplayOptions(width=width, height=height,
                                                                                      headless=True)),
                             virtual.services(["licence-renewal"]), flow_clock=clock)
            apps.append(app)
            app.host_ready_hooks.append(lambda host: host.submit(virtual.warm_up()))
            app.stop_hooks.append(lambda host: host.submit(virtual.close_devices()).result(15))
            app._run_prepare()
            runTouchApp(embedded=True)
            counter.pump(1)  # the first frame, with the attract screen built and drawn
            if cold is None:
                cold = _process_age_s()
            app.host.submit(virtual.warm_up()).result(60)
            app.view_listeners.append(counter.on_screen)
            book = AnswerBook(spec.answers, audio=virtual.audio)
            pilot = Autopilot(app, "licence-renewal", book.action_for, frames=counter.pump, timeout_s=300,
                              touch_class=CountedTouch)
            pilot.on_idle = lambda view, app=app, clock=clock: app.host.call_soon(clock.advance, view.timeout_s or 0.0)
            code = pilot.run()
            done += 1
            out["runs"].append({"lang": lang, "elderly": elderly, "exit": code})
            if done in (1, 10, 50):
                out["rss_after"][done] = round(_rss_mib(), 1)
            if done == 3 and sessions > 3:
                driver = SessionDriver(app, virtual, clock, {"licence-renewal": spec}, frame=counter.pump)
                app.view_listeners.remove(counter.on_screen)
                while done < sessions:
                    result = driver.run("licence-renewal")
                    done += 1
                    if result.status != "completed":
                        out["runs"].append({"session": done, "status": result.status, "reason": result.reason})
                    if done in (10, 50) or done == sessions:
                        out["rss_after"][done] = round(_rss_mib(), 1)
            app.stop()
    finally:
        EventLoop.close()
        virtual.stop()
        from peripherals.face.engine import set_engine

        set_engine(None)  # ends the face process
    out["cold_start_s"] = round(cold or float("nan"), 3)
    out["frames"] = counter.samples
    return out


def main() -> int:
    from rss import rss_mib  # bench/rss.py: /proc/PID/status of another process

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=50, help="sessions in the process (3 by touch, the rest driven)")
    p.add_argument("--size", default="1080x1920")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backoffice", help=argparse.SUPPRESS)
    p.add_argument("--state-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.size, max(3, args.sessions), args.backoffice, args.state_dir)))
        return 0
    from rss import children, cmdline

    sys.path.insert(0, str(ROOT))  # before bench/, whose flows.py would shadow the flows package
    from kiosk.runflow import ManagedBackOffice

    state = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    backoffice = ManagedBackOffice(state / "backoffice.sqlite3", pay_after=0.5).start()  # not part of the cold start
    env = dict(os.environ, KIOSK_FACE_ENGINE=os.environ.get("KIOSK_FACE_ENGINE", "process"))  # as `kiosk run`
    try:
        proc = subprocess.Popen([sys.executable, __file__, "--child", "--size", args.size, "--sessions",
                                 str(args.sessions), "--backoffice", backoffice.url, "--state-dir", str(state)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        peak = side_peak = 0.0
        own = cmdline(proc.pid)
        while proc.poll() is None:
            value = rss_mib(proc.pid) or 0.0
            peak = max(peak, value)
            side = value + sum(rss_mib(c) or 0.0 for c in children(proc.pid) if cmdline(c) not in ("", own))
            side_peak = max(side_peak, side)  # the UI and its face process
            time.sleep(0.1)
        stdout, stderr = proc.communicate()
    finally:
        backoffice.stop()
    if proc.returncode != 0 or not stdout.strip():
        print(stderr[-3000:], file=sys.stderr)
        return 1
    r = json.loads(stdout.strip().splitlines()[-1])
    print(f"kiosk UI bench ({args.size}, SDL offscreen, llvmpipe; one process, {args.sessions} sessions)")
    print(f"  cold start to first attract-screen frame   {r['cold_start_s']:.2f} s   (goal ≤ 1 s)")
    print(f"  peak RSS of the kiosk process              {peak:.0f} MiB (goal ≤ 200 MiB; sampled from outside)")
    print(f"  peak RSS, kiosk process + face process     {side_peak:.0f} MiB (goal ≤ 350 MiB)")
    for n, v in sorted(r["rss_after"].items(), key=lambda kv: int(kv[0])):
        print(f"  RSS after session {int(n):<3}                    {v:.0f} MiB")
    bad = [run for run in r["runs"] if run.get("exit", 0) != 0 or run.get("status") not in (None, "completed")]
    if bad:
        print(f"  sessions that did not complete: {bad}")
    print("  touch (up) on a screen -> the next screen drawn, per type of the touched screen: "
          "frames median / worst (ms median / worst; goal ≤ 2 frames = 33 ms at 60 fps)")
    for name, samples in sorted(r["frames"].items()):
        frames = [s[0] for s in samples]
        ms = [s[1] for s in samples]
        print(f"    {name:<16} {statistics.median(frames):4.0f} / {max(frames):<4d} ({statistics.median(ms):5.0f} / "
              f"{max(ms):5.0f} ms)  n={len(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
