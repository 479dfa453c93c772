"""What the citizen-flow tests share: the shipped answers files made fast, and ways to run a flow
(in-process through `kiosk.runflow.run_in_process`, or as a `kiosk run-flow` process).

The `backoffice` fixture is in conftest.py; import these helpers with `from .flow_support import ...`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flows.journal import Journal
from kiosk.runflow import AnswerBook, AnswersFile, run_in_process

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "answers"
FAST_PAYMENT = {"payment_poll_s": 0.02}  # the reference back office pays at once (pay_after_s=0)
# No reaction-timing holds (up to 2 s before each liveness prompt) in flow tests that test something else;
# tests/flows/test_flow_face.py runs with them (LIVE_PROMPTS).
FAST_FACE = {"face_frame_interval_s": 0.0, "face_reaction_timing": False}
LIVE_PROMPTS = {**FAST_FACE, "face_reaction_timing": True}
FAST_SIM = {"eye": {"answer_delay": 0.003}, "bp": {"duration": 0.05}}  # simulator options per device kind


def example_answers(flow: str, *, settings: dict[str, Any] | None = None, answers: dict[str, Any] | None = None,
                    sim: dict[str, dict[str, Any]] | None = None) -> AnswersFile:
    """examples/answers/<flow>.yaml with `settings` (FlowSettings fields), `answers` and, per device
    kind, `sim` options merged in."""
    spec = AnswerBook.load(EXAMPLES / f"{flow}.yaml")
    for kind, options in (sim or {}).items():
        spec.sim.setdefault(kind, {}).update(options)
    spec.settings.update(settings or {})
    spec.answers.update(answers or {})
    return spec


def run_flow(flow: str, spec: AnswersFile, url: str, state: Path, **kw: Any) -> Any:
    """One session in-process on the simulators against the back office at `url`."""
    return asyncio.run(run_in_process(flow, spec, url, state, **kw))


def assert_wiped(state: Path) -> None:
    with Journal(state) as journal:
        assert journal.session_ids() == []


def run_and_assert_wiped(flow: str, spec: AnswersFile, url: str, state: Path, **kw: Any) -> Any:
    """`run_flow`, then check the journal is empty: every ending, completed or aborted, wipes it."""
    r = run_flow(flow, spec, url, state, **kw)
    assert_wiped(state)
    return r


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, list[str], str]:
    """`python -m kiosk.cli ARGS` from the repository: (exit status, stdout lines, stderr).

    A KIOSK_CRASH_AT in the test's own environment is not passed on; crash tests set it in `env`.
    """
    base = {k: v for k, v in os.environ.items() if k != "KIOSK_CRASH_AT"}
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**base, "PYTHONPATH": str(REPO), **(env or {})}, timeout=timeout)
    return proc.returncode, proc.stdout.splitlines(), proc.stderr
