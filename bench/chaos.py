"""Chaos on loopback: kiosk sessions while the broker, the back office, the agent and the kiosk's
flow process are killed or restarted at random; then the outbox drains and the run counts lost,
doubled and orphaned. Last line: `chaos: N sessions (...), ... lost, ... doubled, ... orphans, fleet ...`.

    .venv/bin/python bench/chaos.py [--seconds 180] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.deploy.chaos import run_chaos  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=180.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="chaos-", dir="/tmp") as tmp:  # short: socket paths
        counts = run_chaos(Path(tmp), args.seconds, args.seed)
    print(counts.line())
    return 0 if counts.lost == counts.doubled == counts.orphans == 0 and counts.fleet_online else 1


if __name__ == "__main__":
    sys.exit(main())
