"""How well the generated plates screen: simulated observers over many random sessions.

    .venv/bin/python -m bench.colour_screening [--sessions 200] [--seed 1]

For each session a random plate set is drawn (flows.vision_test.session_plates) and read by
four simulated observers: normal vision, protanope and deuteranope (each reading what the
Machado 2009 simulation of the plate's pixels leaves visible — flows.colour.index
.simulated_reading) and a guesser (uniform over the 4 answer buttons). Prints how often
each is judged normal / red-green deficient / inconclusive, plus the plate pool's contrast
figures (ΔE CIE76 of figure vs ground means, per observer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter

from flows.colour.cvd import Deficiency
from flows.colour.index import DEFAULT_DIR, load_pool, simulated_reading
from flows.vision_test import run_colour_test, session_plates


def observer(pool, kind: str, rng: random.Random):
    async def ask(plate) -> str:
        if kind == "guesser":
            return rng.choice(plate.options)
        entry = pool.by_key(plate.image)
        return simulated_reading(pool, entry, None if kind == "normal" else Deficiency(kind))
    return ask


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    pool = load_pool()
    rng = random.Random(args.seed)
    outcomes = {k: Counter() for k in ("normal", "protan", "deutan", "guesser")}
    start = time.perf_counter()
    for _ in range(args.sessions):
        demo, screening, reserve = session_plates(pool, rng)
        for kind, counter in outcomes.items():
            r = asyncio.run(run_colour_test(observer(pool, kind, rng), demo=demo, screening=screening, reserve=reserve))
            counter[r.outcome.value] += 1
    took = time.perf_counter() - start
    print(f"{args.sessions} sessions, {len(pool.plates)} plates in the pool, {took:.1f} s")
    for kind, counter in outcomes.items():
        share = ", ".join(f"{k} {v / args.sessions:6.1%}" for k, v in sorted(counter.items()))
        print(f"  {kind:<8} {share}")
    meta = json.loads((DEFAULT_DIR / "plates.meta.json").read_text(encoding="utf-8"))
    for kind in ("demonstration", "vanishing", "transformation"):
        for d in ("protan", "deutan", None):
            rows = [meta[e.file]["contrast"] for e in pool.plates if e.kind == kind
                    and (d in e.detects if d else not e.detects)]
            if rows:
                fmt = lambda key: f"{min(r[key] for r in rows):5.1f}–{max(r[key] for r in rows):5.1f}"  # noqa: E731
                print(f"  {kind:<14} detects {d or '-':<6} n={len(rows):2d}  ΔE normal {fmt('normal')}  "
                      f"protan {fmt('protan')}  deutan {fmt('deutan')}")


if __name__ == "__main__":
    main()
