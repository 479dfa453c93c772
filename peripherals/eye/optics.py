"""GB 11533 geometry: 5-point record, decimal acuity and the size of a tumbling E.

GB 11533-1989 (text at eyecarechina.com readArticle id=974; GB/T 11533-2011):
- L = 5 − lg α, α the minimum angle of resolution (MAR) in arcmin;
- decimal acuity V = 1/α = 10^(L−5), so 5.0 ≙ 1.0;
- the E is 5α × 5α (stroke and gap α), so at distance d its side is d·tan(5α/60 °).
At the standard 5 m the 5.0 E is 5000·tan(5′) ≈ 7.27 mm.
"""

from __future__ import annotations

import math

from .models import LEVELS

STANDARD_DISTANCE_MM = 5000

# The decimal values printed beside each row of the chart (GB 11533 5-point/decimal
# table, e.g. 360docs.net doc 646560275 "标准对数视力表 小数记录视力表"): the calculated
# 10^(L−5) rounded to the customary decimal series.
NOMINAL_DECIMAL: dict[float, float] = {
    4.0: 0.1, 4.1: 0.12, 4.2: 0.15, 4.3: 0.2, 4.4: 0.25, 4.5: 0.3, 4.6: 0.4,
    4.7: 0.5, 4.8: 0.6, 4.9: 0.8, 5.0: 1.0, 5.1: 1.2, 5.2: 1.5, 5.3: 2.0,
}  # fmt: skip


def mar_arcmin(level: float) -> float:
    """Minimum angle of resolution α (arcmin) of a 5-point level: α = 10^(5−L)."""
    return 10 ** (5 - level)


def level_from_mar(mar: float) -> float:
    """L = 5 − lg α."""
    if mar <= 0:
        raise ValueError("MAR must be positive")
    return 5 - math.log10(mar)


def decimal_acuity(level: float) -> float:
    """V = 10^(L−5)."""
    return 10 ** (level - 5)


def level_from_decimal(v: float) -> float:
    if v <= 0:
        raise ValueError("decimal acuity must be positive")
    return 5 + math.log10(v)


def e_size_mm(level: float, distance_mm: float = STANDARD_DISTANCE_MM) -> float:
    """Side of the tumbling E that tests `level` at `distance_mm`: d·tan(5·10^(5−L)/60 °)."""
    return distance_mm * math.tan(math.radians(5 * mar_arcmin(level) / 60))


def stroke_mm(level: float, distance_mm: float = STANDARD_DISTANCE_MM) -> float:
    """Stroke (and gap) width: α seen from `distance_mm`."""
    return distance_mm * math.tan(math.radians(mar_arcmin(level) / 60))


def e_size_px(level: float, distance_mm: float, pixel_pitch_mm: float) -> float:
    """The E side in display pixels, for a display seen at optical distance `distance_mm`."""
    if pixel_pitch_mm <= 0:
        raise ValueError("pixel pitch must be positive")
    return e_size_mm(level, distance_mm) / pixel_pitch_mm


def row_table(distance_mm: float = STANDARD_DISTANCE_MM) -> list[tuple[float, float, float]]:
    """(level, decimal acuity, E side mm) for every chart row 4.0..5.3."""
    return [(lv, decimal_acuity(lv), e_size_mm(lv, distance_mm)) for lv in LEVELS]
