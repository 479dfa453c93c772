"""Journal: a write after every step, encryption of personal fields, wipe, resume, idempotency."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from flows.demo import DemoDeps, DemoFlow
from flows.driver import IDLE, drive
from flows.engine import AbortReason, OutcomeStatus, ResumePolicy
from flows.errors import JournalCorrupt, KeystoreError
from flows.journal import Journal, Personal, personal_fields
from flows.keystore import FileKeyStore, MemoryKeyStore
from flows.views import Action, ViewBase, ViewKind

ID_NUMBER = "11010519491231002X"
NAME = "张三丰"
PHONE = "13800138000"
SECRETS = (ID_NUMBER.encode(), NAME.encode(), NAME.encode("utf-16-le"), PHONE.encode())

CONSENT_YES = Action.answer({"identity": True, "contact": True})
PHONE_OK = Action.answer({"phone": PHONE})
SUBMIT = Action.answer("submit")


class Reader:
    async def read(self) -> tuple[str, str]:
        return ID_NUMBER, NAME


class BackOffice:
    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.by_key = dict(known or {})
        self.calls: list[str] = []

    async def submit(self, *, id_number: str, phone: str, idempotency_key: str) -> str:
        self.calls.append(idempotency_key)
        return self.by_key.setdefault(idempotency_key, f"SUB-{len(self.by_key) + 1}")


def file_bytes(journal: Journal) -> bytes:
    return b"".join(p.read_bytes() for p in (journal.db_path, journal.wal_path) if p.exists())


def raw_blobs(journal: Journal) -> list[bytes]:
    con = sqlite3.connect(f"file:{journal.db_path}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT personal FROM sessions WHERE personal IS NOT NULL")]
    finally:
        con.close()


class Probe:
    """Answers the asked views and, before each answer, inspects the journal as it is on disk."""

    def __init__(self, journal: Journal):
        self.journal = journal
        self.rows: list[tuple[str, str, int]] = []  # (view step, journaled step, seq)
        self.blobs: list[bytes] = []

    def answer(self, action: Action):
        def respond(view: ViewBase) -> Action:
            data = file_bytes(self.journal)
            for secret in SECRETS:
                assert secret not in data, f"plaintext personal data in the journal files at {view.step}"
            (sid,) = self.journal.session_ids()
            rec = self.journal.load(sid)
            self.rows.append((view.step, rec.step, rec.seq))
            self.blobs += raw_blobs(self.journal)
            return action

        return respond


def test_state_is_journaled_after_every_step_encrypted_and_wiped_at_the_end(tmp_path: Path):
    journal = Journal(tmp_path / "state")
    probe = Probe(journal)
    bo = BackOffice()
    r = drive(DemoFlow(), [probe.answer(CONSENT_YES), probe.answer(PHONE_OK), probe.answer(SUBMIT)],
              journal=journal, deps=DemoDeps(Reader(), bo))
    assert r.outcome.status is OutcomeStatus.COMPLETED
    # when a step runs, the journal already holds that step with the state of all steps before it
    assert probe.rows == [("consent", "consent", 1), ("contact", "contact", 2), ("confirm", "confirm", 3)]
    assert len(probe.blobs) == 3 and len(set(probe.blobs)) == 3  # fresh nonce on every write
    # the end wipes the row, and neither the DB file nor the WAL keeps the ciphertext
    assert journal.session_ids() == []
    data = file_bytes(journal)
    for blob in probe.blobs:
        assert blob[1:13] not in data and blob[-16:] not in data
    for secret in SECRETS:
        assert secret not in data
    assert not journal.wal_path.exists() or journal.wal_path.stat().st_size == 0


def test_personal_part_round_trips_and_public_part_has_no_personal_field(tmp_path: Path):
    class S(BaseModel):
        id_number: Personal[str | None] = None
        note: str = Field(default="", json_schema_extra={"personal": True})
        count: int = 0

    assert personal_fields(S) == {"id_number", "note"}
    j = Journal(tmp_path, MemoryKeyStore())
    j.save("s1", "f", 1, "a", [], S(id_number=ID_NUMBER, note="病史", count=3))
    rec = j.load("s1")
    assert rec.public == {"count": 3}
    assert rec.state(S) == S(id_number=ID_NUMBER, note="病史", count=3)
    assert ID_NUMBER not in repr(rec)
    assert ID_NUMBER.encode() not in file_bytes(j) and "病史".encode() not in file_bytes(j)


def test_blob_is_bound_to_its_session_id(tmp_path: Path):
    class S(BaseModel):
        secret: Personal[str] = "x"

    j = Journal(tmp_path, MemoryKeyStore())
    j.save("a", "f", 1, "s", [], S(secret=ID_NUMBER))
    j.save("b", "f", 1, "s", [], S(secret="other"))
    j._db.execute("UPDATE sessions SET personal=(SELECT personal FROM sessions WHERE session_id='a') WHERE session_id='b'")
    with pytest.raises(JournalCorrupt):
        j.load("b")


def test_a_session_under_another_key_is_wiped_not_resumed(tmp_path: Path):
    class S(BaseModel):
        secret: Personal[str] = "x"

    Journal(tmp_path, MemoryKeyStore()).save("a", "f", 1, "s", [], S())
    j = Journal(tmp_path, MemoryKeyStore())
    assert j.find_resumable("f") is None and j.session_ids() == []


def test_age_based_wipe_on_start(tmp_path: Path):
    now = [1000.0]
    j = Journal(tmp_path, MemoryKeyStore(b"k" * 32), max_age_s=600, wall=lambda: now[0])
    j.save("old", "demo", 1, "contact", ["read_id"], DemoFlow.State(id_number=ID_NUMBER))
    now[0] += 599
    assert j.find_resumable("demo", 1).session_id == "old"
    now[0] += 2
    assert j.find_resumable("demo", 1) is None
    assert j.session_ids() == []
    assert ID_NUMBER.encode() not in file_bytes(j)


def test_runner_starts_fresh_when_the_unfinished_session_is_too_old(tmp_path: Path):
    now = [0.0]
    j = Journal(tmp_path, max_age_s=600, wall=lambda: now[0])
    j.save("old", "demo", 1, "confirm", ["read_id", "consent", "contact"], DemoFlow.State(id_number=ID_NUMBER))
    now[0] = 601.0
    r = drive(DemoFlow(), [CONSENT_YES, PHONE_OK, SUBMIT], journal=j, deps=DemoDeps(Reader(), BackOffice()))
    assert r.views[0].kind is ViewKind.PROMPT and r.views[0].step == "read_id"  # no resume offer
    assert not r.outcome.resumed and r.outcome.session_id != "old"


def test_another_flow_version_is_not_resumed(tmp_path: Path):
    j = Journal(tmp_path)
    j.save("v0", "demo", 0, "confirm", [], DemoFlow.State())
    r = drive(DemoFlow(), [CONSENT_YES, PHONE_OK, SUBMIT], journal=j, deps=DemoDeps(Reader(), BackOffice()))
    assert r.views[0].step == "read_id" and j.session_ids() == []


def test_resume_offer_restart_wipes_the_old_session(tmp_path: Path):
    j = Journal(tmp_path)
    j.save("old", "demo", 1, "confirm", ["read_id", "consent", "contact"],
           DemoFlow.State(id_number=ID_NUMBER, name=NAME, phone=PHONE, consented=True))
    r = drive(DemoFlow(), [Action.answer("restart"), CONSENT_YES, PHONE_OK, SUBMIT], journal=j,
              deps=DemoDeps(Reader(), BackOffice()))
    assert r.views[0].kind is ViewKind.CHOICE and r.views[0].step == "resume" and r.views[0].progress is None
    assert r.outcome.session_id != "old" and not r.outcome.resumed
    assert j.session_ids() == []


def test_idle_on_the_resume_offer_wipes_the_old_session(tmp_path: Path):
    j = Journal(tmp_path)
    j.save("old", "demo", 1, "confirm", [], DemoFlow.State(id_number=ID_NUMBER))
    r = drive(DemoFlow(), [IDLE, IDLE], journal=j, deps=DemoDeps(Reader(), BackOffice()))
    assert r.outcome.reason is AbortReason.IDLE_TIMEOUT and j.session_ids() == []


def test_abort_wipes_the_journal(tmp_path: Path):
    j = Journal(tmp_path)
    r = drive(DemoFlow(), [CONSENT_YES, Action.cancel()], journal=j, deps=DemoDeps(Reader(), BackOffice()))
    assert r.outcome.reason is AbortReason.CANCELLED
    assert j.session_ids() == [] and ID_NUMBER.encode() not in file_bytes(j)


def test_idempotency_key_is_stable_per_session_and_step_and_secret(tmp_path: Path):
    a = Journal(tmp_path / "s")
    b = Journal(tmp_path / "s")  # a new process: same key file
    other = Journal(tmp_path / "t")
    k = a.idempotency_key("sess", "submit")
    assert k == b.idempotency_key("sess", "submit") and len(k) == 32
    assert k != a.idempotency_key("sess", "pay")
    assert k != a.idempotency_key("sess2", "submit")
    assert k != a.idempotency_key("sess", "submit", purpose="fee")
    assert k != other.idempotency_key("sess", "submit")


def test_key_file_is_0600_and_a_readable_one_is_refused(tmp_path: Path):
    ks = FileKeyStore(tmp_path / "keys" / "journal.key")
    key = ks.master_key()
    assert len(key) == 32
    assert stat.S_IMODE(ks.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ks.path.parent.stat().st_mode) == 0o700
    assert FileKeyStore(ks.path).master_key() == key
    os.chmod(ks.path, 0o644)
    with pytest.raises(KeystoreError):
        FileKeyStore(ks.path).master_key()


def test_journal_database_is_wal_full_sync_secure_delete(tmp_path: Path):
    j = Journal(tmp_path)
    assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert j._db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert stat.S_IMODE(j.db_path.stat().st_mode) == 0o600


def test_resume_policy_always_continues_at_the_journaled_step(tmp_path: Path):
    j = Journal(tmp_path)
    j.save("sess-1", "demo", 1, "confirm", ["read_id", "consent", "contact"],
           DemoFlow.State(id_number=ID_NUMBER, name=NAME, phone=PHONE, consented=True))
    bo = BackOffice()
    r = drive(DemoFlow(), [SUBMIT], journal=j, deps=DemoDeps(Reader(), bo), resume=ResumePolicy.ALWAYS)
    assert r.outcome.resumed and r.outcome.session_id == "sess-1"
    assert r.views[0].step == "confirm" and r.views[0].can_back
    assert bo.calls == [j.idempotency_key("sess-1", "submit")]
