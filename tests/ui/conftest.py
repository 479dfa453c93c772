"""Headless Kivy for the UI tests (the verified pattern of /work/shared/reference/kivy.md §1).

One window for the whole session (SDL offscreen, 1080×1920), each test builds a fresh
app with `_run_prepare()` + `runTouchApp(embedded=True)` and pumps frames by hand, so
tests count frames, never seconds. Teardown stops the app, removes its widgets and
cancels every Clock event it left behind. Screenshots of the flow runs are kept under
artifacts/ui/ in the repository root (gitignored).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.update(
    SDL_VIDEODRIVER="offscreen", KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON", KIVY_NO_CONFIG="1", KIVY_NO_FILELOG="1",
    KIVY_HOME=tempfile.mkdtemp(prefix="kivy-home-"),
)

import pytest  # noqa: E402

from kiosk.kivy_setup import DisplayOptions, configure  # noqa: E402

configure(DisplayOptions(width=1080, height=1920, headless=True, fullscreen=False, maxfps=0))

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
QUICK_FRAMES = 100  # UI.wait_for: frames pumped back to back before it paces them


class UI:
    """Drive one app: start it, pump frames, tap widgets by kiosk_id, take screenshots."""

    def __init__(self):
        self.app = None

    def start(self, app):
        from kivy.base import runTouchApp

        self.app = app
        app._run_prepare()
        runTouchApp(embedded=True)
        self.frames(3)
        return app

    def frames(self, n: int = 1) -> None:
        from kivy.base import EventLoop

        for _ in range(n):
            EventLoop.idle()

    def find(self, kiosk_id: str, root=None):
        from kiosk.autopilot import find_widget

        return find_widget(root or self.app.sm.current_screen, kiosk_id)

    def tap(self, target) -> None:
        from kiosk.autopilot import tap

        w = self.find(target) if isinstance(target, str) else target
        assert w is not None, f"no widget {target!r} on screen {self.app.sm.current}"
        tap(w, self.frames)

    def wait_for(self, predicate, frames: int = 400, what: str = "") -> None:
        """Pump frames until `predicate()` (flows run on their own thread).

        The first QUICK_FRAMES frames follow each other 5 ms apart (most waits end there); after
        that 20 ms apart, so that a budget of N frames also gives the devices and the back office,
        which run on wall time, N × 20 ms or more however cheap a frame is to draw.
        """
        import time

        for n in range(frames):
            if predicate():
                return
            self.frames(1)
            time.sleep(0.005 if n < QUICK_FRAMES else 0.02)
        raise AssertionError(f"timed out waiting for {what or predicate}")

    def wait_screen(self, name: str, frames: int = 400) -> None:
        self.wait_for(lambda: self.app.sm.current == name, frames, f"screen {name} (now {self.app.sm.current})")
        self.frames(2)


@pytest.fixture
def kivy_ui():
    from kivy.clock import Clock
    from kivy.core.window import Window

    before = set(Clock.get_events())
    ui = UI()
    yield ui
    if ui.app is not None:
        ui.app.stop()
    from kivy.lang import Builder

    for f in list(Builder.files):  # the UI is built in Python; unload any kv a test may have loaded
        if "kivy/data" not in f.replace("\\", "/"):
            Builder.unload_file(f)
    for c in Window.children[:]:
        Window.remove_widget(c)
    for ev in Clock.get_events():
        if ev not in before:
            ev.cancel()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
