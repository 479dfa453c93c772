"""The CJK font every widget uses.

Kivy's SDL2 text provider opens only face 0 of a .ttc collection. Face 0 of
fonts-noto-cjk is the Japanese face (令/骨 come out in Japanese forms); face 0 of
WenQuanYi Micro Hei draws Simplified Chinese forms and has Latin glyphs, so it is the
default (docs/ui.md, /work/shared/reference/kivy.md §2). Register before any widget is
built; Label, Button and TextInput then all use it.
"""

from __future__ import annotations

import os
from pathlib import Path

WQY_MICROHEI = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_ENV = "KIOSK_FONT"  # override with a path to another font that draws Simplified Chinese


class FontMissing(RuntimeError):
    pass


def font_path() -> Path:
    path = Path(os.environ.get(FONT_ENV) or WQY_MICROHEI)
    if not path.is_file():
        raise FontMissing(
            f"The kiosk needs a Chinese font at {path}, which does not exist.\n"
            "Install it with: sudo apt-get install fonts-wqy-microhei\n"
            f"(or set {FONT_ENV}=/path/to/a font with Simplified Chinese glyphs)."
        )
    return path


def register_cjk_font() -> Path:
    """Make the CJK font Kivy's default font; returns its path."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = font_path()
    LabelBase.register(DEFAULT_FONT, str(path))
    return path
