"""Where the kiosk process's memory goes: import costs, a bare window, and RSS per screen of a renewal.

    .venv/bin/python bench/memory_parts.py [--imports] [--window] [--renewal] [--trace]

Without a flag all three parts run, each in a fresh child process so one does not hide
another (a library imported once costs nothing the second time):

- imports: the RSS (/proc/self/status VmRSS) one fresh interpreter gains by importing each
  heavy library alone, and what the kiosk app's own import (`kiosk.app`, `kiosk.virtual`)
  costs with everything it pulls in;
- window: a bare Kivy window as the kiosk opens it (1080×1920, SDL offscreen, Mesa,
  glFinish per frame), one CJK label, 30 frames; its RSS split by /proc/self/smaps_rollup;
- renewal: `kiosk run --virtual --headless --autopilot licence-renewal --no-fleet` in this
  process, the RSS at every screen change, then /proc/self/smaps grouped by mapping and the
  largest anonymous mappings (malloc arenas) at the end; with --trace also tracemalloc's
  largest Python allocation sites.

Figures are read from inside the measured process; bench/rss.py samples from outside.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "cv2", "dlib", "face_recognition_models", "PIL", "pydantic", "pydantic_settings", "httpx",
         "cryptography.fernet", "kivy", "yaml", "escpos.printer", "barcode", "qrcode", "img2pdf", "colorspacious",
         "scipy", "skimage", "usb.core", "serial", "paho.mqtt.client", "sounddevice")
APP_IMPORTS = ("kiosk.app", "kiosk.virtual", "flows.registry", "flows.deps")


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rollup() -> dict[str, int]:
    keep = ("Rss:", "Anonymous:", "Shared_Clean:", "Private_Clean:", "Private_Dirty:")
    with open("/proc/self/smaps_rollup") as f:
        return {p[0][:-1]: int(p[1]) // 1024 for p in (line.split() for line in f) if p and p[0] in keep}


def smaps_groups(pid: int | str = "self") -> collections.Counter:
    """Resident KiB per mapping name ([heap], [anon], a library path)."""
    acc: collections.Counter = collections.Counter()
    current = "?"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                current = parts[5] if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:":
                acc[current] += int(parts[1])
    return acc


def largest_anon(pid: int | str = "self", n: int = 8) -> list[tuple[int, int]]:
    """(resident MiB, mapping size MiB) of the largest anonymous mappings: malloc arenas, big arrays."""
    rows: list[tuple[int, int]] = []
    current: tuple[str, str] = ("", "")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                current = (parts[0], parts[5] if len(parts) > 5 else "[anon]")
            elif parts and parts[0] == "Rss:" and current[1] in ("[anon]", "[heap]"):
                lo, hi = (int(x, 16) for x in current[0].split("-"))
                rows.append((int(parts[1]) // 1024, (hi - lo) >> 20))
    return sorted(rows, reverse=True)[:n]


def _child(part: str, *extra: str) -> int:
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONFIG="1", KIVY_NO_FILELOG="1", KIVY_LOG_MODE="PYTHON")
    return subprocess.call([sys.executable, __file__, "--child", part, *extra], cwd=ROOT, env=env)


def child_import(name: str) -> None:
    import importlib

    before = rss_mib()
    try:
        importlib.import_module(name)
    except Exception as exc:  # not installed: say so
        print(f"  {name:<26} not importable ({type(exc).__name__})")
        return
    print(f"  {name:<26} +{rss_mib() - before:6.1f} MiB", flush=True)


def child_app_imports() -> None:
    import importlib

    before = rss_mib()
    for name in APP_IMPORTS:
        importlib.import_module(name)
    heavy = [m for m in ("cv2", "numpy", "dlib", "img2pdf", "scipy", "PIL", "httpx", "escpos", "barcode", "qrcode")
             if m in sys.modules]
    print(f"  {'+'.join(APP_IMPORTS):<26} +{rss_mib() - before:6.1f} MiB ({len(sys.modules)} modules; "
          f"heavy ones loaded: {', '.join(heavy) or 'none'})")


def child_window() -> None:
    start = rss_mib()
    from kiosk.kivy_setup import DisplayOptions, configure

    configure(DisplayOptions(width=1080, height=1920, headless=True, fullscreen=False, maxfps=0))
    import kivy  # noqa: F401

    after_import = rss_mib()
    from kivy.core.window import Window

    after_window = rss_mib()
    from kivy.base import EventLoop, runTouchApp
    from kivy.uix.label import Label

    from kiosk import gl_frames
    from kiosk.fonts import register_cjk_font

    register_cjk_font()
    gl_frames.install(Window)
    label = Label(text="请把身份证放在读卡区 ID card", font_size=40)
    Window.add_widget(label)
    runTouchApp(embedded=True)
    for i in range(30):
        label.text = f"请把身份证放在读卡区 {i}"
        EventLoop.idle()
    groups = smaps_groups()
    llvm = sum(v for k, v in groups.items() if "libLLVM" in k) / 1024
    dri = sum(v for k, v in groups.items() if "/dri/" in k) / 1024
    print(f"  interpreter {start:.0f} MiB, import kivy +{after_import - start:.0f}, window +{after_window - after_import:.0f}, "
          f"label + 30 frames +{rss_mib() - after_window:.0f} → {rss_mib():.0f} MiB")
    print(f"  of which libLLVM (llvmpipe's shader JIT) {llvm:.0f} MiB, the Mesa driver {dri:.0f} MiB; rollup {rollup()}")
    EventLoop.close()


def child_renewal(trace: bool) -> None:
    if trace:
        import tracemalloc

        tracemalloc.start(1)
    import time

    import kiosk.app as kiosk_app

    marks: list[tuple[float, float, str]] = []
    start = time.monotonic()
    original = kiosk_app.create_app

    def create_app(*args, **kwargs):
        app = original(*args, **kwargs)
        app.view_listeners.append(lambda name, _view: marks.append((time.monotonic() - start, rss_mib(), name)))
        return app

    kiosk_app.create_app = create_app
    from kiosk.cli import main

    code = main(["run", "--virtual", "--headless", "--autopilot", "licence-renewal", "--no-fleet"])
    kiosk_app.create_app = original
    peak_at = max(marks, key=lambda m: m[1]) if marks else (0, 0, "-")
    steps = []
    last = 0.0
    for t, value, name in marks:
        if abs(value - last) >= 4 or not steps:
            steps.append(f"{name}:{value:.0f}")
            last = value
    print(f"  exit {code}; {len(marks)} screens; RSS where it moved ≥ 4 MiB: {' '.join(steps)}")
    print(f"  highest at a screen change: {peak_at[1]:.0f} MiB ({peak_at[2]}, {peak_at[0]:.0f} s); "
          f"at the end {rss_mib():.0f} MiB, threads {len(os.listdir('/proc/self/task'))}")
    print("  resident by mapping at the end (MiB):")
    for name, kib in smaps_groups().most_common(10):
        print(f"    {kib / 1024:7.1f}  {name}")
    print("  largest anonymous mappings (resident/size MiB): "
          + ", ".join(f"{r}/{s}" for r, s in largest_anon()))
    if trace:
        import tracemalloc

        snapshot = tracemalloc.take_snapshot()
        total = sum(s.size for s in snapshot.statistics("filename")) / 2**20
        print(f"  tracemalloc: {total:.0f} MiB of Python allocations live at the end; largest sites:")
        for stat in snapshot.statistics("lineno")[:12]:
            frame = stat.traceback[0]
            print(f"    {stat.size / 2**20:6.1f} MiB  {Path(frame.filename).name}:{frame.lineno} ×{stat.count}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--imports", action="store_true")
    p.add_argument("--window", action="store_true")
    p.add_argument("--renewal", action="store_true")
    p.add_argument("--trace", action="store_true", help="tracemalloc during the renewal (slower)")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        sys.path[0] = str(ROOT)  # not bench/, whose flows.py would shadow the flows package
        part, *rest = args.child
        {"import": lambda: child_import(rest[0]), "app": child_app_imports, "window": child_window,
         "renewal": lambda: child_renewal("trace" in rest)}[part]()
        return 0
    everything = not (args.imports or args.window or args.renewal)
    if args.imports or everything:
        print("imports, each alone in a fresh interpreter:")
        for name in HEAVY:
            _child("import", name)
        _child("app")
    if args.window or everything:
        print("a bare kiosk window:")
        _child("window")
    if args.renewal or everything:
        print("the renewal autopilot in one process:")
        _child("renewal", *(["trace"] if args.trace else []))
    return 0


if __name__ == "__main__":
    sys.exit(main())
