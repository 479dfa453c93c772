"""sRGB ⇄ linear light ⇄ CIELAB, and the Machado et al. 2009 dichromat simulation.

Machado, Oliveira & Fernandes, "A Physiologically-based Model for Simulation of Color
Vision Deficiency", IEEE TVCG 15(6), 2009: a 3×3 matrix per deficiency and severity,
applied to *linear* RGB. The matrices come from colorspacious (`machado_et_al_2009_matrix`,
the paper's table). At severity 1 (dichromacy) a matrix has rank 2: colours that differ
only along its null vector look identical to that observer. That null vector is the
confusion line the plates' figure and ground colours lie on.

Contrast is measured as CIELAB ΔE (CIE76, D65) between the mean colour of the figure and
the mean colour of the ground, after simulation — the figure fades when that ΔE is small.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from colorspacious import cspace_convert
from colorspacious.cvd import machado_et_al_2009_matrix


class Deficiency(StrEnum):
    PROTAN = "protan"
    DEUTAN = "deutan"


_MACHADO_NAME = {Deficiency.PROTAN: "protanomaly", Deficiency.DEUTAN: "deuteranomaly"}
LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 / sRGB relative luminance Y


def machado(deficiency: Deficiency | str, severity: float = 1.0) -> np.ndarray:
    """The 3×3 linear-RGB matrix; severity 0..1 (1 = protanopia / deuteranopia)."""
    return machado_et_al_2009_matrix(_MACHADO_NAME[Deficiency(deficiency)], round(severity * 100))


def confusion_direction(deficiency: Deficiency | str) -> np.ndarray:
    """The null vector of the dichromat matrix in linear RGB, scaled so that its red part is 1."""
    w, v = np.linalg.eig(machado(deficiency))
    d = np.real(v[:, int(np.argmin(np.abs(w)))])
    return d / d[0]


def to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB in 0..1 → linear light (IEC 61966-2-1)."""
    srgb = np.asarray(srgb, dtype=float)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(np.asarray(linear, dtype=float), 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def lab_of_linear(linear: np.ndarray) -> np.ndarray:
    return cspace_convert(to_srgb(linear), "sRGB1", "CIELab")


def simulate_linear(linear: np.ndarray, deficiency: Deficiency | str | None, severity: float = 1.0) -> np.ndarray:
    """Linear RGB (…, 3) as the observer sees it; None = normal vision."""
    if deficiency is None:
        return np.asarray(linear, dtype=float)
    return np.clip(np.asarray(linear, dtype=float) @ machado(deficiency, severity).T, 0.0, 1.0)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def figure_contrast(rgb8: np.ndarray, mask: np.ndarray, deficiency: Deficiency | str | None,
                    severity: float = 1.0) -> float:
    """ΔE between the mean colours of figure (mask) and ground (the rest), as `deficiency` sees them.

    Means are taken in linear light (what the eye integrates over a dot pattern), then
    converted to CIELAB.
    """
    lin = simulate_linear(to_linear(np.asarray(rgb8, dtype=float)[..., :3] / 255.0), deficiency, severity)
    inside = np.asarray(mask) > 127
    if not inside.any() or inside.all():
        raise ValueError("the mask must cover part of the plate, not none or all of it")
    return delta_e(lab_of_linear(lin[inside].mean(axis=0)), lab_of_linear(lin[~inside].mean(axis=0)))


def lightness_difference(rgb8: np.ndarray, mask: np.ndarray) -> float:
    """|ΔL*| between figure and ground for normal vision: how much luminance alone gives away."""
    lin = to_linear(np.asarray(rgb8, dtype=float)[..., :3] / 255.0)
    inside = np.asarray(mask) > 127
    y_in, y_out = float(lin[inside].mean(axis=0) @ LUMA), float(lin[~inside].mean(axis=0) @ LUMA)
    return abs(_lstar(y_in) - _lstar(y_out))


def _lstar(y: float) -> float:
    return 116 * np.cbrt(y) - 16 if y > (6 / 29) ** 3 else y * (29 / 3) ** 3
