"""Figure and ground colours for each plate kind, chosen on the dichromat confusion lines.

A vanishing plate for deficiency X: ground G and figure F = G + a·d_X in linear RGB,
d_X the null vector of the Machado matrix of X (`cvd.confusion_direction`). X's observer
sees F and G as one colour (exactly, in linear light; under 0.5 ΔE even when the matrix is
applied to gamma-encoded sRGB, as some simulators do), a normal observer sees them ΔE ≈ 35–60
apart. The figure's extra luminance for a normal observer (a step along d_X changes Y a
little) is kept small (|ΔL*| ≲ 4) and is hidden by every dot's random luminance (±40 %
in linear light, about ±13 L*). Candidates are drawn at random and scored; the best few
are kept and one is picked, so plates differ in hue from one another.

A transformation plate adds a second figure B along an isoluminant blue-yellow direction
(`BLUE_YELLOW`), which protans and deutans see as well as normals do: the normal observer
reads the strong red-green figure A, the dichromat — for whom A vanishes — reads B.
A demonstration plate's figure differs from its ground in luminance and hue, so everyone,
whatever their colour vision, reads it.
"""

from __future__ import annotations

import random

import numpy as np
from pydantic import BaseModel, ConfigDict

from flows.colour.cvd import LUMA, Deficiency, confusion_direction, lab_of_linear, machado, to_linear, to_srgb

LUMINANCE_JITTER = 0.4  # each dot's linear RGB is scaled by a factor in 1 ± this
BLUE_YELLOW = np.array([0.0, -0.0722 / 0.7152, 1.0])  # LUMA · BLUE_YELLOW == 0
_CANDIDATES = 6000


class Palette(BaseModel):
    """Linear-RGB colours of one plate (before the per-dot luminance jitter)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    ground: tuple[float, float, float]
    figure: tuple[float, float, float]  # the normal observer's figure (A)
    second: tuple[float, float, float] | None = None  # transformation plates: the shift that draws B
    gap: tuple[float, float, float]  # the paper between the dots


def _norm(lab: np.ndarray) -> np.ndarray:
    return np.linalg.norm(lab, axis=-1)


def _gamma_model_de(m: np.ndarray, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """ΔE when the matrix is (wrongly but commonly) applied to gamma-encoded sRGB."""
    fs, gs = np.clip(to_srgb(f) @ m.T, 0, 1), np.clip(to_srgb(g) @ m.T, 0, 1)
    return _norm(lab_of_linear(to_linear(fs)) - lab_of_linear(to_linear(gs)))


def _in_gamut(x: np.ndarray) -> np.ndarray:
    lo, hi = 0.02 / (1 - LUMINANCE_JITTER), 0.97 / (1 + LUMINANCE_JITTER)
    return np.all((x >= lo) & (x <= hi), axis=-1)


def vanishing(deficiency: Deficiency, rng: random.Random, *, max_normal_de: float = 60.0) -> Palette:
    """Ground and figure on `deficiency`'s confusion line."""
    nrng = np.random.default_rng(rng.getrandbits(64))
    d = confusion_direction(deficiency)
    m = machado(deficiency)
    g = nrng.uniform(0.03, 0.75, (_CANDIDATES, 3))
    a = nrng.uniform(-0.6, 0.6, (_CANDIDATES, 1))
    f = g + a * d
    ok = _in_gamut(f) & _in_gamut(g)
    g, f = g[ok], f[ok]
    lab_f, lab_g = lab_of_linear(f), lab_of_linear(g)
    normal = _norm(lab_f - lab_g)
    dl = np.abs(lab_f[:, 0] - lab_g[:, 0])
    gamma = _gamma_model_de(m, f, g)
    good = (normal >= 35) & (dl <= 4.0) & (gamma <= 1.0)
    score = np.minimum(normal, max_normal_de) - 3 * dl - 5 * gamma + np.where(good, 100, 0)
    top = np.argsort(-score)[:12]
    i = int(top[rng.randrange(len(top))])
    return _palette(g[i], f[i])


def transformation(deficiency: Deficiency, rng: random.Random) -> Palette:
    """A vanishing pair plus an isoluminant blue-yellow shift for the second figure."""
    base = vanishing(deficiency, rng, max_normal_de=50.0)
    g = np.array(base.ground)
    room = min(float(g[2]) - 0.03, 0.95 / (1 + LUMINANCE_JITTER) - float(g[2]))
    beta = max(0.06, min(0.12, room)) * (1 if rng.random() < 0.5 else -1)
    if not (_in_gamut(g + beta * BLUE_YELLOW) and _in_gamut(np.array(base.figure) + beta * BLUE_YELLOW)):
        beta = -beta
    return base.model_copy(update={"second": tuple(float(v) for v in beta * BLUE_YELLOW)})


def demonstration(rng: random.Random) -> Palette:
    """A figure darker than its ground and of another hue: readable by every observer."""
    hue = rng.choice([(0.55, 0.18, 0.04), (0.10, 0.20, 0.55), (0.45, 0.10, 0.30)])
    g = np.array([0.62, 0.60, 0.52])
    f = np.array(hue) * 0.55
    return _palette(g, f)


def _palette(g: np.ndarray, f: np.ndarray) -> Palette:
    y = float(g @ LUMA)
    return Palette(ground=tuple(float(v) for v in g), figure=tuple(float(v) for v in f),
                   gap=(y, y, y))
