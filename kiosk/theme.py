"""Colours and sizes in one place: calm, high contrast, big.

Text colours are chosen for ≥ 7:1 contrast against the surface they sit on (WCAG AAA
body text; the tests measure it on rendered screenshots). Sizes are pixels at the
1080×1920 portrait reference resolution and scale with the window height; elderly mode
multiplies text and targets by `ELDERLY_SCALE`.
"""

from __future__ import annotations

from dataclasses import dataclass

Colour = tuple[float, float, float, float]


def hex_colour(h: str, a: float = 1.0) -> Colour:
    h = h.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, a)


# Surfaces
BACKGROUND = hex_colour("#F4F6F8")  # page
SURFACE = hex_colour("#FFFFFF")  # cards
HEADER = hex_colour("#0B3D91")  # header bar (government blue)
# Text
TEXT = hex_colour("#1B1F24")  # on BACKGROUND/SURFACE: ~15:1
TEXT_MUTED = hex_colour("#3A4048")  # secondary text, still ≥ 7:1 on BACKGROUND
TEXT_ON_DARK = hex_colour("#FFFFFF")  # on HEADER / PRIMARY / DANGER
# Buttons
PRIMARY = hex_colour("#0B4A9E")  # white text: ~8.6:1
PRIMARY_DOWN = hex_colour("#08356F")
SECONDARY = hex_colour("#FFFFFF")  # outlined, dark text
SECONDARY_BORDER = hex_colour("#0B4A9E")
DANGER = hex_colour("#9E1B14")  # Cancel: white text ~8:1
DANGER_DOWN = hex_colour("#741410")
SELECTED = hex_colour("#DCE8F8")  # a picked option (with a check mark, not colour alone)
ACCENT_OK = hex_colour("#1D6B2E")  # success marks; white text ~6.9:1, used for icons only
ACCENT_WARN = hex_colour("#8A4B00")
DIVIDER = hex_colour("#C9D1DB")
PROGRESS_TRACK = hex_colour("#D5DCE5")
PROGRESS_FILL = hex_colour("#0B4A9E")

ELDERLY_SCALE = 1.25
REFERENCE_HEIGHT = 1920


@dataclass(frozen=True)
class Sizes:
    """Pixel sizes for one window height and mode."""

    scale: float

    def px(self, v: float) -> float:
        return round(v * self.scale)

    @property
    def body(self) -> float:  # ≥ 32 px at 1080×1920
        return self.px(44)

    @property
    def heading(self) -> float:
        return self.px(60)

    @property
    def small(self) -> float:  # still ≥ 32 px
        return self.px(34)

    @property
    def button_text(self) -> float:
        return self.px(44)

    @property
    def primary_target(self) -> float:  # aim 120 px for primary actions
        return self.px(132)

    @property
    def target(self) -> float:  # ≥ 60 px for every touch target
        return self.px(104)

    @property
    def gap(self) -> float:
        return self.px(24)

    @property
    def margin(self) -> float:
        return self.px(48)


def sizes_for(window_height: float, elderly: bool) -> Sizes:
    base = max(0.5, window_height / REFERENCE_HEIGHT)
    return Sizes(scale=base * (ELDERLY_SCALE if elderly else 1.0))
