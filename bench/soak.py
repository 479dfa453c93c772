"""Soak: citizen sessions back to back in ONE kiosk process, as a kiosk runs for weeks.

    .venv/bin/python bench/soak.py [--sessions 1000] [--flows licence-renewal,...] [--report-every 50]

The real kiosk app (headless, SDL offscreen, 1080×1920) on the virtual kiosk's simulated
devices and the reference back office; sessions run through the app's session machinery
(kiosk/session_driver.py): all five hall flows in turn (licence renewal, reissue, traffic
fines, inspection label, tax invoice), and mixed in: cancels, idle timeouts, the
blood-pressure monitor unplugged mid-measurement (plugged back in after the session: it
must come back READY on its own), and a back-office timeout. As under `kiosk run`, the
face engine runs in its own process. RSS, open
file descriptors and threads are read from /proc/self after session 50 and after the last
one; leftover files are journal rows still in the journal, files added to the state
directory and files left in the process's own temporary directory (TMPDIR) after the
last session. The last line is:

    soak: N sessions, RSS growth X MiB (50→N), fds A→B, threads C→D, leftover files K

Goals (issue 13): X ≤ 5 MiB, fds and threads flat, K = 0. The exit status is 1 when a goal
is missed or a session got stuck.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HALL_FLOWS = ("licence-renewal", "licence-reissue", "traffic-fines", "inspection-label", "tax-invoice")
# one session in seven has a twist; the unplug only makes sense where a measurement happens
TWIST_CYCLE = ("none", "cancel", "none", "idle", "none", "backoffice_timeout", "none")


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()} if path.exists() else set()


def plan(n: int, flows: tuple[str, ...]) -> list[tuple[str, str]]:
    """Session i: flow i mod len(flows); twist from TWIST_CYCLE; every 11th renewal has the BP unplugged."""
    out = []
    renewals = 0
    for i in range(n):
        flow = flows[i % len(flows)]
        twist = TWIST_CYCLE[(i // len(flows)) % len(TWIST_CYCLE)]
        if flow == "licence-renewal":
            renewals += 1
            if renewals % 11 == 3:
                twist = "unplug"
        out.append((flow, twist))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--flows", default=",".join(HALL_FLOWS))
    p.add_argument("--report-every", type=int, default=50)
    p.add_argument("--baseline-at", type=int, default=50, help="the session after which growth is counted (50)")
    p.add_argument("--lang", default="zh", choices=["zh", "en"])
    args = p.parse_args()
    flows = tuple(f for f in args.flows.split(",") if f)
    baseline_at = min(args.baseline_at, args.sessions)

    own_tmp = Path(tempfile.mkdtemp(prefix="kiosk-soak-tmp-"))
    os.environ["TMPDIR"] = str(own_tmp)  # everything this process puts in "/tmp" lands here
    tempfile.tempdir = None
    state_dir = Path(tempfile.mkdtemp(prefix="kiosk-soak-state-", dir=own_tmp.parent))
    sys.path.insert(0, str(ROOT))

    from kiosk.kivy_setup import DisplayOptions, configure

    configure(DisplayOptions(width=1080, height=1920, headless=True, fullscreen=False, maxfps=0))
    from kivy.base import EventLoop, runTouchApp

    from flows.deps import FlowSettings
    from flows.engine import EngineSettings, ResumePolicy
    from kiosk.app import KioskOptions, create_app
    from kiosk.runflow import AnswerBook, SkippableClock
    from kiosk.session_driver import SessionDriver
    from kiosk.virtual import VirtualKiosk

    specs = {f: AnswerBook.load(ROOT / "examples" / "answers" / f"{f}.yaml") for f in flows}
    sim: dict = {}
    settings: dict = {}
    for spec in specs.values():
        for kind, opts in spec.sim.items():
            sim.setdefault(kind, {}).update(opts)
        settings.update(spec.settings)
    virtual = VirtualKiosk(state_dir, sim_options=sim, flow_settings=FlowSettings(**settings),
                           client_options={"timeout": 0.5, "retries": 1, "backoff_initial": 0.05},
                           audio_realtime=False)
    virtual.start()
    if os.environ.get("KIOSK_FACE_ENGINE", "process") == "process":  # as `kiosk run` does (docs/memory.md)
        from peripherals.face.engine import ProcessEngine, set_engine

        set_engine(ProcessEngine())
    clock = SkippableClock()
    app = create_app(KioskOptions(lang=args.lang, voice=False, state_dir=state_dir, resume=ResumePolicy.NEVER,
                                  engine=EngineSettings(), final_linger_s=3600,
                                  display=DisplayOptions(width=1080, height=1920, headless=True, fullscreen=False)),
                     virtual.services(list(flows)), flow_clock=clock)
    app.host_ready_hooks.append(lambda host: host.submit(virtual.warm_up()))
    app.stop_hooks.append(lambda host: host.submit(virtual.close_devices()).result(15))
    code = 0
    try:
        app._run_prepare()
        runTouchApp(embedded=True)
        EventLoop.idle()
        app.host.submit(virtual.warm_up()).result(60)
        driver = SessionDriver(app, virtual, clock, specs)
        state_before: set[str] = set()
        tmp_before: set[str] = set()
        outcomes: collections.Counter = collections.Counter()
        per_flow: dict[str, list[float]] = collections.defaultdict(list)
        stuck = 0
        fallbacks: collections.Counter = collections.Counter()
        base = None
        start = time.monotonic()
        for i, (flow, twist) in enumerate(plan(args.sessions, flows), 1):
            result = driver.run(flow, twist)
            outcomes[(twist, result.status, result.reason or "")] += 1
            stuck += result.status == "stuck"
            per_flow[flow].append(result.seconds)
            fallbacks.update(result.fallbacks)
            if i == 1:  # the journal's database and key exist from the first session on; what is added later is left over
                state_before, tmp_before = files_under(state_dir), files_under(own_tmp)
            if i == baseline_at or i % args.report_every == 0 or i == args.sessions:
                _idle(driver)  # the kiosk idles on its home screen for a moment, as between two citizens
            if i == baseline_at:
                base = (rss_mib(), fds(), threads())
            if i % args.report_every == 0 or i == args.sessions:
                print(f"  after {i:5d} sessions: RSS {rss_mib():6.1f} MiB, fds {fds()}, threads {threads()}, "
                      f"{(time.monotonic() - start) / i:.2f} s/session", flush=True)
        end = (rss_mib(), fds(), threads())
        base = base or end
        journal_rows = len(app.host.submit(_journal_ids(app)).result(10))
        added_state = files_under(state_dir) - state_before
        added_tmp = files_under(own_tmp) - tmp_before
        leftover = journal_rows + len(added_state) + len(added_tmp)
        print("  outcomes (twist, status, reason): " + ", ".join(f"{k[0]}/{k[1]}/{k[2] or '-'} ×{v}"
                                                                   for k, v in sorted(outcomes.items())))
        print("  seconds per session: " + ", ".join(f"{f} {sum(v) / len(v):.2f}" for f, v in per_flow.items()))
        unplugs = sum(1 for _, twist in plan(args.sessions, flows) if twist == "unplug")
        print(f"  blood-pressure monitor unplugged {unplugs} times, plugged back and READY again {driver.replugs} times"
              + (f", NOT back {driver.replug_failures} times" if driver.replug_failures else ""))
        if fallbacks:
            print("  views without an answer (cancelled): " + ", ".join(f"{k} ×{v}" for k, v in fallbacks.items()))
        if leftover:
            print(f"  leftover: {journal_rows} journal rows, state files {sorted(added_state)[:5]}, "
                  f"temp files {sorted(added_tmp)[:5]}")
        growth = end[0] - base[0]
        print(f"soak: {args.sessions} sessions, RSS growth {growth:.1f} MiB ({baseline_at}→{args.sessions}), "
              f"fds {base[1]}→{end[1]}, threads {base[2]}→{end[2]}, leftover files {leftover}")
        if stuck or growth > 5 or end[1] > base[1] or end[2] > base[2] or leftover or driver.replug_failures:
            code = 1
    finally:
        app.stop()
        EventLoop.close()
        virtual.stop()
        from peripherals.face.engine import set_engine

        set_engine(None)  # ends the face process
    return code


def _idle(driver, seconds: float = 0.7) -> None:
    """Frames on the home screen for `seconds`: the app's own after-screen-change work runs (its
    malloc trim is due 0.5 s after the last change, kiosk/memory.py) before a figure is read."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        driver.frame()
        time.sleep(0.02)


async def _journal_ids(app) -> list[str]:
    journal = app.journal()
    return journal.session_ids() if journal is not None else []


if __name__ == "__main__":
    sys.exit(main())
