"""End every frame with glFinish when Kivy draws into an SDL offscreen (EGL pbuffer) surface.

Why: on a real window the buffer swap at the end of a frame makes the GL driver execute
the frame's commands and release what they referenced. SDL's offscreen video driver
(the headless kiosk, CI, the autopilot) renders into an EGL pbuffer, and
`eglSwapBuffers` "has no effect" on a pbuffer (EGL 1.5 §3.10.3). Mesa llvmpipe then
never flushes: every draw call's binned commands, and every texture they referenced
(including textures Kivy has already deleted), stay queued until something reads pixels.
The kiosk process grew by ~45 MiB per keyboard tap and peaked at 2.5 GiB over one
licence renewal (docs/memory.md). `glFinish` at each flip does what a swap would do:
the frame is rasterised and its memory released, so frame times are real as well.
"""

from __future__ import annotations

import os


DISABLE_ENV = "KIOSK_GL_FINISH"  # "0" turns it off, to measure what it saves (docs/memory.md)


def offscreen() -> bool:
    return os.environ.get("SDL_VIDEODRIVER") == "offscreen"


def _finish(*_args) -> None:
    from kivy.graphics.opengl import glFinish

    glFinish()


def install(window) -> bool:
    """Bind glFinish to the window's flip when rendering offscreen; True when installed (idempotent)."""
    if not offscreen() or os.environ.get(DISABLE_ENV) == "0":
        return False
    window.unbind(on_flip=_finish)
    window.bind(on_flip=_finish)
    return True
