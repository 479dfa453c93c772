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


@dataclass(frozen=True)
class Palette:
    """Every colour the citizen screens use. `NORMAL` is calm blue on light grey; `HIGH_CONTRAST`
    is white and yellow on black (≥ 7:1 for every text on every surface it is drawn on, checked
    from the widget tree in tests/ui/test_layout.py with tests/ui/audit.py's contrast)."""

    name: str
    BACKGROUND: Colour  # page
    SURFACE: Colour  # cards
    HEADER: Colour  # header bar
    TEXT: Colour  # on BACKGROUND / SURFACE / SELECTED
    TEXT_MUTED: Colour  # secondary text, still ≥ 7:1 on BACKGROUND / SURFACE
    TEXT_ON_DARK: Colour  # on HEADER
    TEXT_ON_PRIMARY: Colour  # on PRIMARY / DANGER buttons
    PRIMARY: Colour
    PRIMARY_DOWN: Colour
    SECONDARY: Colour  # outlined, TEXT
    SECONDARY_BORDER: Colour
    DANGER: Colour  # Cancel (a button), and error text on BACKGROUND
    DANGER_DOWN: Colour
    SELECTED: Colour  # a picked option (with a check mark, not colour alone)
    DISABLED: Colour  # a button that cannot be used now (TEXT_MUTED on it)
    ACCENT_OK: Colour  # success marks (icons only)
    ACCENT_WARN: Colour
    DIVIDER: Colour
    PROGRESS_TRACK: Colour
    PROGRESS_FILL: Colour


NORMAL = Palette(
    name="normal",
    BACKGROUND=hex_colour("#F4F6F8"), SURFACE=hex_colour("#FFFFFF"), HEADER=hex_colour("#0B3D91"),
    TEXT=hex_colour("#1B1F24"),  # ~15:1
    TEXT_MUTED=hex_colour("#3A4048"), TEXT_ON_DARK=hex_colour("#FFFFFF"), TEXT_ON_PRIMARY=hex_colour("#FFFFFF"),
    PRIMARY=hex_colour("#0B4A9E"),  # white text ~8.6:1
    PRIMARY_DOWN=hex_colour("#08356F"), SECONDARY=hex_colour("#FFFFFF"), SECONDARY_BORDER=hex_colour("#0B4A9E"),
    DANGER=hex_colour("#9E1B14"),  # white text ~8:1
    DANGER_DOWN=hex_colour("#741410"), SELECTED=hex_colour("#DCE8F8"), DISABLED=hex_colour("#E4E8ED"),
    ACCENT_OK=hex_colour("#1D6B2E"), ACCENT_WARN=hex_colour("#8A4B00"), DIVIDER=hex_colour("#C9D1DB"),
    PROGRESS_TRACK=hex_colour("#D5DCE5"), PROGRESS_FILL=hex_colour("#0B4A9E"),
)

HIGH_CONTRAST = Palette(
    name="high_contrast",
    BACKGROUND=hex_colour("#000000"), SURFACE=hex_colour("#000000"), HEADER=hex_colour("#000000"),
    TEXT=hex_colour("#FFFFFF"),  # 21:1
    TEXT_MUTED=hex_colour("#E6E6E6"),  # ~17:1
    TEXT_ON_DARK=hex_colour("#FFFFFF"), TEXT_ON_PRIMARY=hex_colour("#000000"),
    PRIMARY=hex_colour("#FFE500"),  # black text ~17:1
    PRIMARY_DOWN=hex_colour("#FFF27A"), SECONDARY=hex_colour("#000000"), SECONDARY_BORDER=hex_colour("#FFFFFF"),
    DANGER=hex_colour("#FF9E9E"),  # black text ~10:1; as text on black ~10:1
    DANGER_DOWN=hex_colour("#FFC4C4"), SELECTED=hex_colour("#003A70"),  # white text ~12:1
    DISABLED=hex_colour("#262626"),  # #E6E6E6 on it ~13:1
    ACCENT_OK=hex_colour("#7CFC9A"), ACCENT_WARN=hex_colour("#FFC04D"), DIVIDER=hex_colour("#FFFFFF"),
    PROGRESS_TRACK=hex_colour("#4D4D4D"), PROGRESS_FILL=hex_colour("#FFE500"),
)

PALETTES = {p.name: p for p in (NORMAL, HIGH_CONTRAST)}
palette: Palette = NORMAL


def use(p: Palette) -> None:
    """Switch every colour name below to `p` (screens read `theme.X` when they build, so a re-render
    draws the new palette). The app calls it for the citizen's high-contrast switch and resets it at
    the end of the session."""
    global palette
    palette = p
    globals().update({k: getattr(p, k) for k in Palette.__dataclass_fields__ if k != "name"})


use(NORMAL)
BACKGROUND = NORMAL.BACKGROUND  # (set by `use`; named here for readers and linters)
SURFACE, HEADER, TEXT, TEXT_MUTED = NORMAL.SURFACE, NORMAL.HEADER, NORMAL.TEXT, NORMAL.TEXT_MUTED
TEXT_ON_DARK, TEXT_ON_PRIMARY, PRIMARY, PRIMARY_DOWN = (NORMAL.TEXT_ON_DARK, NORMAL.TEXT_ON_PRIMARY, NORMAL.PRIMARY,
                                                        NORMAL.PRIMARY_DOWN)
SECONDARY, SECONDARY_BORDER, DANGER, DANGER_DOWN = (NORMAL.SECONDARY, NORMAL.SECONDARY_BORDER, NORMAL.DANGER,
                                                    NORMAL.DANGER_DOWN)
SELECTED, DISABLED, ACCENT_OK, ACCENT_WARN = NORMAL.SELECTED, NORMAL.DISABLED, NORMAL.ACCENT_OK, NORMAL.ACCENT_WARN
DIVIDER, PROGRESS_TRACK, PROGRESS_FILL = NORMAL.DIVIDER, NORMAL.PROGRESS_TRACK, NORMAL.PROGRESS_FILL

ELDERLY_SCALE = 1.25
LARGER_SCALE = 1.12  # the text-size step between normal and elderly
REFERENCE_HEIGHT = 1920  # the long side of the reference 1080×1920 portrait screen
REFERENCE_WIDTH = 1080  # its short side


@dataclass(frozen=True)
class Sizes:
    """Pixel sizes for one window and mode.

    `scale` is the window's scale against 1080×1920 (short side against 1080, long side
    against 1920, whichever is smaller, so a 1920×1080 landscape kiosk keeps the same text
    size as the portrait one) times the mode's factor. `landscape` screens put the view's
    answers in a right-hand pane beside its picture and question.
    """

    scale: float
    landscape: bool = False
    elderly: bool = False
    factor: float = 1.0  # the mode's part of `scale` (1.25 elderly, 1.12 larger text, 1 normal)

    def px(self, v: float) -> float:
        return round(v * self.scale)

    @property
    def body(self) -> float:  # ≥ 32 px at 1080×1920
        return self.px(44)

    def capped(self, v: float, cap: float = 1.1) -> float:
        """`v` scaled, but by at most `cap` of the mode factor: headings and big numbers grow less
        than body text in large-text mode, so the answers still fit."""
        return round(v * self.window * min(self.scale / self.window, cap))

    @property
    def window(self) -> float:
        return self.scale / self.factor

    @property
    def heading(self) -> float:
        return self.capped(60 if not self.landscape else 54)

    @property
    def small(self) -> float:  # still ≥ 32 px
        return self.px(34)

    @property
    def button_text(self) -> float:
        return self.px(44)

    @property
    def primary_target(self) -> float:  # aim 120 px for primary actions
        return min(self.px(132 if not self.landscape else 120), 136)

    @property
    def target(self) -> float:  # ≥ 60 px for every touch target (≥ 90 px in elderly mode)
        return self.px(104 if not self.landscape else 96)

    @property
    def key(self) -> float:
        """Height of an on-screen keyboard key: ≥ 90 px in elderly mode, smaller keys elsewhere."""
        return max(self.px(78), 92 if self.elderly else 72)

    @property
    def chrome(self) -> float:
        """Height of the header's and footer's buttons (the hand touches them too)."""
        return max(self.capped(88 if self.landscape else 96, 1.05), 92 if self.elderly else 72)

    @property
    def gap(self) -> float:
        return self.px(18 if not self.landscape else 16)

    @property
    def margin(self) -> float:
        return self.px(40 if not self.landscape else 36)


def window_scale(width: float | None, height: float) -> float:
    if width is None:
        return max(0.5, height / REFERENCE_HEIGHT)
    short, long = sorted((width, height))
    return max(0.5, min(short / REFERENCE_WIDTH, long / REFERENCE_HEIGHT))


def sizes_for(window_height: float, elderly: bool, window_width: float | None = None,
              larger: bool = False) -> Sizes:
    """Sizes for a window; `larger` is the text-size step between normal and elderly."""
    factor = ELDERLY_SCALE if elderly else LARGER_SCALE if larger else 1.0
    landscape = window_width is not None and window_width > window_height
    return Sizes(scale=window_scale(window_width, window_height) * factor, landscape=landscape, elderly=elderly,
                 factor=factor)
