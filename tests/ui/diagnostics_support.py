"""Shared set-up of the diagnostics UI tests: every device on its simulator under one real
Supervisor (the blood-pressure monitor is the 11073 bridge, whose static-pressure query the
calibration check needs), a Diagnostics object with an injectable clock, taps and screenshots."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from flows.deps import sim_device_configs, simulator_for
from kiosk.diagnostics import Diagnostics, DiagnosticsSettings
from peripherals.base import DeviceKind
from peripherals.config import DeviceConfig
from peripherals.supervisor import Supervisor

PIN = "246810"
HOLD_S = 0.3  # the corner's long press in tests (3 s on a kiosk)


class FakeClock:
    """Wall-clock stand-in for the PIN lockout."""

    def __init__(self, start: float | None = None) -> None:
        self.now = start if start is not None else time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SimKiosk:
    """The devices of one simulated kiosk, and their simulators for fault injection."""

    def __init__(self, options: dict | None = None) -> None:
        tag = secrets.token_hex(3)
        configs = sim_device_configs(options, tag=tag)  # options: per-kind simulator options
        configs[DeviceKind.BP] = DeviceConfig(
            driver="bp.ieee11073", port=f"sim://bp11073?name=bp-{tag}&duration=0.2",
            options={"timeout": 0.5, "frame_timeout": 0.5})
        self.configs = configs
        self.supervisor = Supervisor(configs, backoff_initial=0.1)
        self.supervisor.start(wait=20)
        self.sims = {kind.value: simulator_for(cfg) for kind, cfg in configs.items()}

    def stop(self) -> None:
        from flows.deps import _forget_sims

        self.supervisor.stop()
        _forget_sims(self.configs)


def make_diagnostics(state_dir: Path, supervisor, clock: FakeClock | None = None, **settings) -> Diagnostics:
    diag = Diagnostics(DiagnosticsSettings(state_dir=state_dir, hold_s=HOLD_S, **settings), lambda: supervisor,
                       clock=clock or FakeClock())
    diag.auth.set_pin(PIN)
    return diag


def long_press(ui, widget, seconds: float, until=None, limit_s: float = 30.0) -> None:
    """Hold a finger on the widget's centre for `seconds` (real time: the Clock measures it),
    and then, with `until`, on until it holds: on a loaded machine the Clock's hold timer
    fires at the first frame after it is due, which may come after `seconds` of our time."""
    from kiosk.autopilot import _touch_class

    x, y = widget.to_window(*widget.center)
    touch = _touch_class()(x, y)
    touch.touch_down()
    start = time.monotonic()
    while time.monotonic() < start + seconds or (until is not None and not until()
                                                    and time.monotonic() < start + limit_s):
        ui.frames(1)
        time.sleep(0.01)
    touch.touch_up()
    ui.frames(2)


def type_pin(ui, pin: str) -> None:
    for digit in pin:
        ui.tap(f"keypad.{digit}")


def login(ui, diag, pin: str = PIN) -> None:
    """Corner long press, PIN, wait for the diagnostics screen."""
    corner = diag.corners[0] if ui.app.sm.current == "home" else diag.corners[1]
    long_press(ui, corner, HOLD_S + 0.15, until=lambda: ui.app.sm.current == "staff_login")
    ui.wait_screen("staff_login")
    type_pin(ui, pin)
    ui.tap("diag.login.submit")
    ui.wait_screen("diagnostics")


def text_of(ui, kiosk_id: str) -> str:
    w = ui.find(kiosk_id)
    if w is None:
        return ""
    # a table row's text, or the text before line breaking (kiosk.widgets.wrap)
    return getattr(w, "row_text", None) or getattr(w, "source_text", None) or w.text


def wait_text(ui, kiosk_id: str, predicate, frames: int = 600) -> str:
    ui.wait_for(lambda: predicate(text_of(ui, kiosk_id)), frames, f"{kiosk_id} text (now {text_of(ui, kiosk_id)!r})")
    return text_of(ui, kiosk_id)


def staff_actions(diag) -> list:
    events = diag.events.fetch(diag.events.instance, 0, 10000).events
    return [e for e in events if e.kind.value == "staff_action"]


def screenshot(ui, directory: Path, name: str) -> Path:
    from kiosk.autopilot import grab_window

    ui.frames(3)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    grab_window().save(path)
    return path
