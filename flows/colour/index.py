"""The plate pool on disk (plates.json + plates.meta.json) and one session's random draw.

`draw_session` picks, for each session, a demonstration plate, the screening plates and
the reserve plates of `medical_rules.COLOUR_PLATE_RULE` at random from the pool, and
shuffles each plate's answer choices, so the figures shown differ from session to
session and cannot be learnt by heart. `simulated_reading` is the simulated citizen of
the headless runner: it *looks at* the plate through the Machado simulation and answers
what that observer can read.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.colour.cvd import Deficiency, figure_contrast
from flows.errors import FlowError
from flows.medical_rules import COLOUR_PLATE_RULE, ColourPlateRule

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "assets" / "colour"
NOTHING = "nothing"
READABLE_DE = 8.0  # a simulated observer reads a figure whose mean ΔE to the ground is at least this


class PlatesMissing(FlowError):
    """The kiosk's plate pool is missing or unreadable (regenerate: python -m flows.colour.generate)."""

    code = "colour_plates_missing"


class PlateEntry(BaseModel):
    model_config = ConfigDict(frozen=True)
    file: str
    mask: str
    answer: str = Field(pattern=r"^[0-9]{1,2}$")
    kind: str = Field(pattern=r"^(demonstration|vanishing|transformation)$")
    detects: tuple[Deficiency, ...] = ()
    deficient_answer: str | None = None  # from plates.meta.json (transformation plates)
    deficient_mask: str | None = None

    @property
    def key(self) -> str:
        """The asset key views name the plate by (kiosk.images: colour/<stem>)."""
        return f"colour/{Path(self.file).stem}"


class PlatePool(BaseModel):
    directory: Path
    plates: tuple[PlateEntry, ...]

    def of(self, kind: str, detects: Deficiency | None = None) -> list[PlateEntry]:
        return [p for p in self.plates if p.kind == kind and (detects is None or detects in p.detects)]

    def by_key(self, key: str) -> PlateEntry | None:
        return next((p for p in self.plates if p.key == key), None)


@lru_cache(maxsize=4)
def _load(directory: str, stamp: float) -> PlatePool:
    d = Path(directory)
    try:
        index = json.loads((d / "plates.json").read_text(encoding="utf-8"))
        meta_path = d / "plates.meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        plates = tuple(PlateEntry(**e, **{k: meta.get(e["file"], {}).get(k) for k in ("deficient_answer", "deficient_mask")})
                       for e in index)
    except (OSError, ValueError, TypeError, KeyError, ValidationError) as exc:
        raise PlatesMissing(f"the colour plates in {d} cannot be read ({type(exc).__name__})") from None
    for p in plates:
        if not (d / p.file).is_file() or not (d / p.mask).is_file():
            raise PlatesMissing(f"plate {p.file} or its mask is missing in {d}")
    return PlatePool(directory=d, plates=plates)


def load_pool(directory: Path | str | None = None) -> PlatePool:
    d = Path(directory or DEFAULT_DIR)
    index = d / "plates.json"
    return _load(str(d), index.stat().st_mtime if index.is_file() else 0.0)


class SessionPlate(BaseModel):
    """One plate as shown in a session."""

    model_config = ConfigDict(frozen=True)
    entry: PlateEntry
    options: tuple[str, ...]  # shuffled; always holds the answer and NOTHING


class SessionPlates(BaseModel):
    demonstration: SessionPlate
    screening: tuple[SessionPlate, ...]
    reserve: tuple[SessionPlate, ...]


def _distractor(rng: random.Random, avoid: set[str]) -> str:
    while True:
        n = str(rng.randint(2, 9)) if rng.random() < 0.3 else str(rng.randint(22, 99))
        if n not in avoid and "0" not in n and "1" not in n:
            return n


def _shown(entry: PlateEntry, rng: random.Random) -> SessionPlate:
    options = [entry.answer, entry.deficient_answer or _distractor(rng, {entry.answer})]
    options.append(_distractor(rng, set(options)))
    rng.shuffle(options)
    return SessionPlate(entry=entry, options=(*options, NOTHING))


def draw_session(pool: PlatePool, rng: random.Random, rule: ColourPlateRule = COLOUR_PLATE_RULE) -> SessionPlates:
    """Random plates for one session: a demonstration, the screening set, the reserve set."""
    try:
        demo = rng.choice(pool.of("demonstration"))
        screening: list[PlateEntry] = []
        for kind in ("vanishing", "transformation"):
            for d in Deficiency:
                screening.append(rng.choice(pool.of(kind, d)))
        rng.shuffle(screening)
        left = [p for p in pool.of("vanishing") if p not in screening]
        reserve = [rng.choice([p for p in left if d in p.detects]) for d in Deficiency]
    except IndexError:
        raise PlatesMissing("the plate pool lacks a plate kind the screening needs") from None
    if len(screening) != rule.screening or len(reserve) != rule.reserve:
        raise PlatesMissing("the plate pool does not match the screening rule")
    return SessionPlates(demonstration=_shown(demo, rng), screening=tuple(_shown(p, rng) for p in screening),
                         reserve=tuple(_shown(p, rng) for p in reserve))


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _mask(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


@lru_cache(maxsize=256)
def _contrast(directory: Path, file: str, mask: str, deficiency: str | None, stamp: float) -> float:
    return figure_contrast(_rgb(directory / file), _mask(directory / mask), deficiency)


def simulated_reading(pool: PlatePool, entry: PlateEntry, deficiency: Deficiency | str | None) -> str:
    """What an observer with `deficiency` (None: normal) reads on the plate, judged from its pixels."""
    d = pool.directory
    stamp = (d / entry.file).stat().st_mtime
    deficiency = Deficiency(deficiency).value if deficiency is not None else None
    if _contrast(d, entry.file, entry.mask, deficiency, stamp) >= READABLE_DE:
        return entry.answer
    if entry.deficient_answer and entry.deficient_mask:
        if _contrast(d, entry.file, entry.deficient_mask, deficiency, stamp) >= READABLE_DE / 2:
            return entry.deficient_answer
    return NOTHING
