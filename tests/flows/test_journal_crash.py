"""Crash safety: a runner process is killed with SIGKILL mid-flow; a new one resumes from the journal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.demo import DemoDeps, DemoFlow
from flows.driver import drive
from flows.engine import OutcomeStatus, ResumePolicy
from flows.journal import Journal
from flows.views import Action, ViewKind

REPO = Path(__file__).resolve().parents[2]
ID_NUMBER = "11010519491231002X"
NAME = "张三丰"
PHONE = "13912345678"

# The child runs the demo flow against a file-backed fake back office and freezes at a
# chosen point, announcing it on stdout; the parent then kills it with SIGKILL.
CHILD = r"""
import asyncio, os, sys
from flows.demo import DemoDeps, DemoFlow
from flows.engine import FlowRunner
from flows.journal import Journal
from flows.views import Action

state_dir, stop_at, store = sys.argv[1], sys.argv[2], sys.argv[3]

class Reader:
    async def read(self):
        return ("11010519491231002X", "张三丰")

class BackOffice:
    async def submit(self, *, id_number, phone, idempotency_key):
        with open(store, "a") as f:  # the back office accepted it ...
            f.write(idempotency_key + "\n"); f.flush(); os.fsync(f.fileno())
        print("SUBMITTED", idempotency_key, flush=True)
        await asyncio.Event().wait()  # ... and the kiosk dies before hearing back

ANSWERS = {"consent": Action.answer({"identity": True, "contact": True}),
           "contact": Action.answer({"phone": "13912345678"}),
           "confirm": Action.answer("submit")}

async def main():
    runner = FlowRunner(DemoFlow(), Journal(state_dir), DemoDeps(Reader(), BackOffice()))
    async for view in runner.views():
        if view.awaits_answer and view.step == stop_at:
            print("AT", view.step, runner.session_id, flush=True)
            await asyncio.Event().wait()
        if view.awaits_answer:
            await runner.act(ANSWERS[view.step].model_copy(update={"view_id": view.view_id}))

asyncio.run(main())
"""


def run_child_until(state_dir: Path, stop_at: str, store: Path, marker: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(state_dir), stop_at, str(store)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(marker):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
                assert proc.returncode == -signal.SIGKILL
                return line.split()
        raise AssertionError(f"child ended without {marker}: {proc.stderr.read() if proc.stderr else ''}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class BackOffice:
    """The parent's view of the same back office: it knows what the dead child submitted."""

    def __init__(self, store: Path):
        keys = store.read_text().split() if store.exists() else []
        self.by_key = {k: f"SUB-{i + 1}" for i, k in enumerate(dict.fromkeys(keys))}
        self.calls: list[str] = []

    async def submit(self, *, id_number: str, phone: str, idempotency_key: str) -> str:
        assert (id_number, phone) == (ID_NUMBER, PHONE)
        self.calls.append(idempotency_key)
        return self.by_key.setdefault(idempotency_key, f"SUB-{len(self.by_key) + 1}")


class Reader:
    async def read(self) -> tuple[str, str]:
        raise AssertionError("a resumed session must not read the card again")


@pytest.mark.timeout(30)
def test_killed_at_confirm_resumes_at_confirm_with_the_state(tmp_path: Path):
    state, store = tmp_path / "state", tmp_path / "backoffice.txt"
    _, step, session_id = run_child_until(state, "confirm", store, "AT")
    assert step == "confirm"
    journal = Journal(state)
    raw = b"".join(p.read_bytes() for p in (journal.db_path, journal.wal_path) if p.exists())
    assert ID_NUMBER.encode() not in raw and PHONE.encode() not in raw and NAME.encode() not in raw
    bo = BackOffice(store)
    r = drive(DemoFlow(), [Action.answer("resume"), Action.answer("submit")], journal=journal,
              deps=DemoDeps(Reader(), bo))
    assert r.views[0].step == "resume" and r.views[0].kind is ViewKind.CHOICE
    assert r.views[1].step == "confirm" and r.views[1].can_back  # history survived too
    assert r.outcome.status is OutcomeStatus.COMPLETED and r.outcome.resumed
    assert r.outcome.session_id == session_id
    assert bo.calls == [journal.idempotency_key(session_id, "submit")]
    assert journal.session_ids() == []


@pytest.mark.timeout(30)
def test_killed_after_the_back_office_accepted_never_submits_twice(tmp_path: Path):
    state, store = tmp_path / "state", tmp_path / "backoffice.txt"
    _, child_key = run_child_until(state, "never", store, "SUBMITTED")
    journal = Journal(state)
    (session_id,) = journal.session_ids()
    assert journal.load(session_id).step == "submit"  # journaled before the submission started
    bo = BackOffice(store)
    r = drive(DemoFlow(), [], journal=journal, deps=DemoDeps(Reader(), bo), resume=ResumePolicy.ALWAYS)
    assert r.outcome.status is OutcomeStatus.COMPLETED
    assert bo.calls == [child_key]  # the retried step carried the same idempotency key
    assert len(bo.by_key) == 1 and r.outcome.outcome == {"submission_id": "SUB-1"}
    assert journal.session_ids() == []
