"""GB 11533 geometry: known sizes, the chart's decimal column, inverses."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peripherals.eye import optics
from peripherals.eye.models import LEVELS


def test_five_point_zero_e_at_five_metres_is_7_27_mm():
    # 5000·tan(5′) (reference notes §3, GB 11533-1989: stroke = 1′ at the 1.0 design distance)
    assert optics.e_size_mm(5.0, 5000) == pytest.approx(7.2722, abs=1e-3)
    assert optics.stroke_mm(5.0, 5000) == pytest.approx(7.2722 / 5, abs=1e-3)


def test_row_sizes_at_five_metres():
    assert optics.e_size_mm(4.0) == pytest.approx(72.73, abs=0.01)  # the 0.1 row: 10× the 1.0 E
    assert optics.e_size_mm(5.3) == pytest.approx(3.645, abs=0.005)
    assert optics.e_size_mm(5.0, 3000) == pytest.approx(4.363, abs=0.001)


def test_adjacent_rows_differ_by_ten_to_the_tenth():
    sizes = [optics.e_size_mm(lv) for lv in LEVELS]
    for big, small in zip(sizes, sizes[1:]):
        assert big / small == pytest.approx(10**0.1, rel=1e-4)


@pytest.mark.parametrize("level,decimal", sorted(optics.NOMINAL_DECIMAL.items()))
def test_chart_decimal_column_is_the_nearest_customary_value(level, decimal):
    # The GB 11533 chart prints 4.0=0.1 … 5.2=1.5, 5.3=2.0 (360docs.net doc 646560275);
    # 10^(L−5) must round to exactly that entry of the customary series.
    series = sorted(set(optics.NOMINAL_DECIMAL.values()))
    computed = optics.decimal_acuity(level)
    assert min(series, key=lambda v: abs(math.log10(v / computed))) == decimal


def test_mar_and_level():
    assert optics.mar_arcmin(5.0) == pytest.approx(1.0)
    assert optics.mar_arcmin(4.0) == pytest.approx(10.0)
    assert optics.level_from_mar(2.0) == pytest.approx(4.699, abs=1e-3)
    assert optics.level_from_decimal(1.0) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        optics.level_from_mar(0)


@given(st.floats(3.0, 5.5))
def test_inverses(level):
    assert optics.level_from_mar(optics.mar_arcmin(level)) == pytest.approx(level)
    assert optics.level_from_decimal(optics.decimal_acuity(level)) == pytest.approx(level)


def test_pixels():
    assert optics.e_size_px(5.0, 5000, 0.1) == pytest.approx(72.72, abs=0.01)
    with pytest.raises(ValueError):
        optics.e_size_px(5.0, 5000, 0)
