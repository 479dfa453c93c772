"""Generate the plate pool: PNG plates, same-size PNG masks, plates.json and plates.meta.json.

    python -m flows.colour.generate [--out kiosk/assets/colour] [--seed N] [--size 360]

plates.json is a list of {"file", "mask", "answer", "kind", "detects"} (paths relative to
the index). plates.meta.json maps each file to what the kiosk needs besides: the figure a
dichromat reads on a transformation plate (and its mask), and the measured contrasts.
Every plate is measured after drawing (`cvd.figure_contrast`) and redrawn until it meets
`QUALITY`: clearly visible for normal vision, faded for the deficiencies it detects.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from flows.colour import palette as pal
from flows.colour.cvd import Deficiency, figure_contrast, lightness_difference
from flows.colour.draw import figure_mask, render

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "kiosk" / "assets" / "colour"
INDEX = "plates.json"
META = "plates.meta.json"
# How many plates of each kind the pool holds; a session draws from these (flows.colour.index).
POOL = {"demonstration": 3, "vanishing:protan": 6, "vanishing:deutan": 6,
        "transformation:protan": 4, "transformation:deutan": 4}
QUALITY = {"normal_min": 25.0, "faded_max": 2.5, "lightness_max": 3.5, "second_min": 6.0}
DIGITS = "23456789"


def random_figure(rng: random.Random, avoid: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    while True:
        n = rng.choice(DIGITS) if rng.random() < 0.3 else rng.choice(DIGITS) + rng.choice(DIGITS)
        if n not in avoid:
            return n


def _balanced_second(a_mask: Image.Image, b_text: str, size: int, rng: random.Random) -> Image.Image:
    """Place figure B so that it covers the same share of A as of the rest (mean colours balance)."""
    a = np.asarray(a_mask) > 127
    best, best_err = None, 9.0
    for _ in range(40):
        off = (rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08))
        b_img = figure_mask(b_text, size, scale=rng.uniform(0.5, 0.66), offset=off)
        b = np.asarray(b_img) > 127
        err = abs((a & b).sum() / a.sum() - (b & ~a).sum() / (~a).sum())
        if err < best_err:
            best, best_err = b_img, err
    assert best is not None
    return best


def make_plate(kind: str, deficiency: Deficiency | None, size: int, rng: random.Random) -> dict:
    """One plate that meets QUALITY: {"image", "mask", "answer", "kind", "detects", "meta"}."""
    for _ in range(30):
        answer = random_figure(rng)
        mask = figure_mask(answer, size, scale=rng.uniform(0.55, 0.68))
        second = None
        deficient_answer = None
        if kind == "demonstration":
            palette = pal.demonstration(rng)
        elif kind == "vanishing":
            assert deficiency is not None
            palette = pal.vanishing(deficiency, rng)
        else:
            assert deficiency is not None
            palette = pal.transformation(deficiency, rng)
            deficient_answer = random_figure(rng, avoid={answer})
            second = _balanced_second(mask, deficient_answer, size, rng)
        image = render(palette, mask, rng, second=second)
        rgb, m = np.asarray(image), np.asarray(mask)
        contrast = {"normal": figure_contrast(rgb, m, None),
                    **{d.value: figure_contrast(rgb, m, d) for d in Deficiency}}
        lightness = lightness_difference(rgb, m)
        detects = [] if deficiency is None else [deficiency.value]
        ok = contrast["normal"] >= QUALITY["normal_min"] and all(contrast[d] <= QUALITY["faded_max"] for d in detects)
        ok = ok and (kind == "demonstration" or lightness <= QUALITY["lightness_max"])
        if kind == "demonstration":
            ok = ok and all(contrast[d.value] >= QUALITY["normal_min"] for d in Deficiency)
        if second is not None:  # the dichromat reads B; for normal vision A outshines it
            b = np.asarray(second)
            contrast["second_" + detects[0]] = figure_contrast(rgb, b, deficiency)
            contrast["second_normal"] = figure_contrast(rgb, b, None)
            ok = ok and contrast["second_" + detects[0]] >= QUALITY["second_min"]
            ok = ok and contrast["second_normal"] <= contrast["normal"] / 2
        if ok:
            meta = {"contrast": {k: round(v, 2) for k, v in contrast.items()}, "lightness_difference": round(lightness, 2)}
            if deficient_answer is not None:
                meta["deficient_answer"] = deficient_answer
            return {"image": image, "mask": mask, "second": second, "answer": answer, "kind": kind,
                    "detects": detects, "meta": meta}
    raise RuntimeError(f"could not draw a {kind} plate that meets the quality limits")


def generate(out: Path = DEFAULT_OUT, *, seed: int | None = None, size: int = 360,
             pool: dict[str, int] | None = None) -> list[dict]:
    """Write the pool to `out` (old plates there are replaced) and return the index entries."""
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("plate-*.png"):
        old.unlink()
    index, meta = [], {}
    n = 0
    for spec, count in (pool or POOL).items():
        kind, _, deficiency = spec.partition(":")
        for _ in range(count):
            n += 1
            plate = make_plate(kind, Deficiency(deficiency) if deficiency else None, size, rng)
            name = f"plate-{n:02d}"
            plate["image"].save(out / f"{name}.png", optimize=True)
            plate["mask"].convert("L").point(lambda v: 255 if v > 127 else 0).save(out / f"{name}-mask.png", optimize=True)
            entry = {"file": f"{name}.png", "mask": f"{name}-mask.png", "answer": plate["answer"],
                     "kind": plate["kind"], "detects": plate["detects"]}
            if plate["second"] is not None:
                plate["second"].point(lambda v: 255 if v > 127 else 0).save(out / f"{name}-deficient-mask.png",
                                                                              optimize=True)
                plate["meta"]["deficient_mask"] = f"{name}-deficient-mask.png"
            index.append(entry)
            meta[entry["file"]] = plate["meta"]
    (out / INDEX).write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / META).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flows.colour.generate", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--seed", type=int, default=None, help="repeatable pool (tests); default: a fresh random pool")
    p.add_argument("--size", type=int, default=360, help="plate side in pixels")
    args = p.parse_args(argv)
    index = generate(args.out, seed=args.seed, size=args.size)
    meta = json.loads((args.out / META).read_text(encoding="utf-8"))
    for e in index:
        c = meta[e["file"]]["contrast"]
        print(f"{e['file']} {e['kind']:<14} {','.join(e['detects']) or '-':<7} answer {e['answer']:<3} "
              f"ΔE normal {c['normal']:5.1f} protan {c['protan']:5.1f} deutan {c['deutan']:5.1f} "
              f"|ΔL*| {meta[e['file']]['lightness_difference']:.1f}")
    print(f"{len(index)} plates in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
