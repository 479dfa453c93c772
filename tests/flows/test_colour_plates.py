"""The generated plates screen for real: simulate each deficiency (Machado et al. 2009) on
the shipped PNGs and measure the figure/ground contrast in CIELAB.

The simulation here goes through colorspacious' own "sRGB1+CVD" space (not flows.colour.cvd),
plus the common shortcut of applying the matrix to gamma-encoded sRGB: a plate must fade
for the deficiency it detects under both, and stay clearly visible to normal vision.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from colorspacious import cspace_convert
from colorspacious.cvd import machado_et_al_2009_matrix
from PIL import Image

from flows.colour import generate
from flows.colour.index import DEFAULT_DIR, NOTHING, load_pool, simulated_reading

INDEX = json.loads((DEFAULT_DIR / "plates.json").read_text(encoding="utf-8"))
CVD = {"protan": "protanomaly", "deutan": "deuteranomaly"}
VISIBLE = 20.0  # ΔE (CIE76) of figure vs ground means: clearly visible
FADED = 3.0  # … and faded


def _lab_means(rgb: np.ndarray, mask: np.ndarray, deficiency: str | None, *, gamma_shortcut: bool = False):
    srgb = rgb.astype(float) / 255.0
    if deficiency is not None:
        if gamma_shortcut:
            srgb = np.clip(srgb @ machado_et_al_2009_matrix(CVD[deficiency], 100).T, 0, 1)
        else:
            space = {"name": "sRGB1+CVD", "cvd_type": CVD[deficiency], "severity": 100}
            srgb = np.clip(cspace_convert(srgb, space, "sRGB1"), 0, 1)
    lin = cspace_convert(srgb, "sRGB1", "sRGB1-linear")
    inside = mask > 127
    fig, ground = lin[inside].mean(axis=0), lin[~inside].mean(axis=0)
    return cspace_convert(fig, "sRGB1-linear", "CIELab"), cspace_convert(ground, "sRGB1-linear", "CIELab")


def contrast(rgb, mask, deficiency, **kw) -> float:
    a, b = _lab_means(rgb, mask, deficiency, **kw)
    return float(np.linalg.norm(a - b))


def load(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    img = Image.open(DEFAULT_DIR / entry["file"])
    mask = Image.open(DEFAULT_DIR / entry["mask"])
    assert img.size == mask.size
    return np.asarray(img.convert("RGB")), np.asarray(mask.convert("L"))


def test_index_lists_every_kind_with_the_documented_fields():
    assert {e["kind"] for e in INDEX} == {"demonstration", "vanishing", "transformation"}
    for e in INDEX:
        assert set(e) == {"file", "mask", "answer", "kind", "detects"}
        assert set(e["detects"]) <= {"protan", "deutan"}
        assert (e["kind"] == "demonstration") == (not e["detects"])
    for kind in ("vanishing", "transformation"):
        assert {d for e in INDEX if e["kind"] == kind for d in e["detects"]} == {"protan", "deutan"}


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_figure_fades_for_the_deficiency_the_plate_detects(entry):
    rgb, mask = load(entry)
    assert set(np.unique(mask)) <= {0, 255} and 0.05 < (mask > 127).mean() < 0.6
    assert contrast(rgb, mask, None) >= VISIBLE
    for d in entry["detects"]:
        assert contrast(rgb, mask, d) <= FADED, d
        assert contrast(rgb, mask, d, gamma_shortcut=True) <= 2 * FADED, d
    if entry["kind"] == "demonstration":  # everyone reads it
        assert all(contrast(rgb, mask, d) >= VISIBLE for d in CVD)


@pytest.mark.parametrize("entry", [e for e in INDEX if e["kind"] != "demonstration"], ids=lambda e: e["file"])
def test_luminance_gives_nothing_away(entry):
    """The figure's mean lightness for normal vision is within a few L* of the ground's, while the
    dots' own lightness spreads much wider — a normal observer reads the hue, a dichromat sees nothing."""
    rgb, mask = load(entry)
    lab = cspace_convert(rgb.astype(float) / 255.0, "sRGB1", "CIELab")
    inside = mask > 127
    gap = abs(np.median(lab[inside][:, 0]) - np.median(lab[~inside][:, 0]))
    spread = np.percentile(lab[~inside][:, 0], 90) - np.percentile(lab[~inside][:, 0], 10)
    assert gap <= 5.0 and spread >= 3 * gap


def test_simulated_observers_read_what_they_can_see():
    pool = load_pool()
    for p in pool.plates:
        assert simulated_reading(pool, p, None) == p.answer
        for d in ("protan", "deutan"):
            reading = simulated_reading(pool, p, d)
            if d in p.detects:
                assert reading == (p.deficient_answer if p.kind == "transformation" else NOTHING)
            elif p.kind == "demonstration":
                assert reading == p.answer


def test_generator_draws_new_figures_that_meet_the_limits(tmp_path: Path):
    pool = {"demonstration": 1, "vanishing:protan": 1, "vanishing:deutan": 1, "transformation:deutan": 1}
    first = generate.generate(tmp_path / "a", seed=101, size=240, pool=pool)
    second = generate.generate(tmp_path / "b", seed=202, size=240, pool=pool)
    assert [e["answer"] for e in first] != [e["answer"] for e in second]
    for e in first:
        img = np.asarray(Image.open(tmp_path / "a" / e["file"]).convert("RGB"))
        mask = np.asarray(Image.open(tmp_path / "a" / e["mask"]).convert("L"))
        assert contrast(img, mask, None) >= VISIBLE
        assert all(contrast(img, mask, d) <= FADED for d in e["detects"])
    assert random.Random(1)  # generation never touched the module-level RNG state it was not given
