"""Let Kivy's SDL2 text provider drop each label's pixels once they are in the texture.

`kivy.core.text.text_sdl2.LabelSDL2._render_begin` makes an SDL surface (4 bytes a pixel,
the label's whole size) and keeps it as `self._surface` after `_render_end` has copied it
into the GL texture, so every live label holds its text twice: once as the texture, once
as that surface (Kivy's pygame provider deletes its surface there; the SDL2 one does not).
heaptrack over the renewal autopilot: 22 MiB of surfaces alive at the peak, one per label
(docs/memory.md). The surface is only used between `_render_begin` and `_render_end`.
"""

from __future__ import annotations

_MARK = "_kiosk_releases_surface"


def install() -> None:
    """Wrap the active text provider's `_render_end` (once)."""
    from kivy.core.text import Label as CoreLabel

    original = CoreLabel._render_end
    if getattr(original, _MARK, False):
        return

    def _render_end(self):
        try:
            return original(self)
        finally:
            self.__dict__.pop("_surface", None)

    setattr(_render_end, _MARK, True)
    CoreLabel._render_end = _render_end
