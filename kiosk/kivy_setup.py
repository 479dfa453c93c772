"""Kivy configuration that must happen before the window exists (kiosk hardening, headless).

Call `configure(options)` before importing anything that creates the Kivy window
(kiosk.app does). Facts verified in /work/shared/reference/kivy.md §1 and §5:
- `SDL_VIDEODRIVER=offscreen` renders real frames without a display (no Xvfb needed);
- ESC must not quit (`exit_on_escape=0`) and the window close request is vetoed in the app;
- the cursor is hidden and the screensaver disabled;
- the mouse provider is set to `mouse,disable_on_activity`, so a touch screen that is
  also seen as a mouse (mtdev/hidinput + mouse) delivers each touch once, not twice;
- the size is set explicitly (fullscreen='auto' can draw only 800×600 without a WM);
- no multisampling by default, and glibc malloc tuned (memory: docs/memory.md, kiosk/memory.py).
"""

from __future__ import annotations

import logging
import os
import tempfile

from pydantic import BaseModel, Field

_configured = False


class DisplayOptions(BaseModel):
    width: int = Field(default=1080, ge=320)
    height: int = Field(default=1920, ge=320)
    fullscreen: bool = True
    headless: bool = False
    maxfps: int = Field(default=30, ge=0)  # 0 = as fast as possible (tests)
    # MSAA samples. Kivy's default is 2, which makes Mesa llvmpipe (kiosks without a GPU, CI, the
    # headless autopilot) keep multisampled colour and depth buffers: +55 MiB RSS at 1080×1920
    # (docs/memory.md). Text is a texture and is not affected; only polygon edges lose smoothing.
    multisamples: int = Field(default_factory=lambda: int(os.environ.get("KIOSK_MULTISAMPLES", "0")), ge=0, le=8)


def prepare_environment() -> None:
    """Environment Kivy reads at `import kivy`: no argv parsing, no ~/.kivy, Python logging, SDL2 images."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONFIG", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    # Images through SDL2_image only (PNG, JPEG): Kivy's PIL loader answers `extensions()` with
    # PIL's `Image.init()`, which imports ~50 format plugins (3.9 MiB) to learn that PNG is one.
    os.environ.setdefault("KIVY_IMAGE", "sdl2")
    os.environ.setdefault("KIVY_HOME", os.path.join(tempfile.gettempdir(), f"kiosk-kivy-{os.getuid()}"))


def configure(display: DisplayOptions) -> None:
    """Set Kivy's Config once per process, before the window is created."""
    global _configured
    if _configured:
        return
    prepare_environment()
    from kiosk import memory

    memory.tune()  # before Kivy, the GL driver and the device threads allocate (docs/memory.md)
    if display.headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    from kivy.config import Config

    logging.getLogger("kivy").setLevel(logging.WARNING)

    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "log_level", "warning")
    Config.set("graphics", "width", str(display.width))
    Config.set("graphics", "height", str(display.height))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "show_cursor", "0")
    Config.set("graphics", "allow_screensaver", "0")
    Config.set("graphics", "maxfps", str(display.maxfps))
    Config.set("graphics", "multisamples", str(display.multisamples))
    Config.set("graphics", "fullscreen", "1" if (display.fullscreen and not display.headless) else "0")
    Config.set("graphics", "borderless", "1" if (display.fullscreen and not display.headless) else "0")
    Config.set("input", "mouse", "mouse,disable_on_activity,disable_multitouch")
    _configured = True
