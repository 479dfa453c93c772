"""Government-service document delivery in-process on the simulators (the document camera's
photographed form) and the reference back office: pages scanned, one PDF checked by digest,
the kiosk's copy wiped once sent, the result's return mailing booked, the cover's barcode."""

from __future__ import annotations

import sqlite3

import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from flows.journal import Journal

from .flow_support import FAST_PAYMENT, example_answers, run_and_assert_wiped, run_flow


def spec(sim=None, **answers):
    return example_answers("document-delivery", settings=FAST_PAYMENT, answers=answers, sim=sim)


@pytest.mark.timeout(90)
def test_two_pages_become_one_pdf_the_department_checks(backoffice, tmp_path):
    r = run_and_assert_wiped("document-delivery", spec(matter="household_move", scan=["capture", "capture", "done"]),
                             backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert out["pages"] == 2 and out["department"] == "重庆市公安局户政" and out["submission_id"].startswith("GD")
    assert [s["kind"] for s in submissions(backoffice.url)] == ["document_submission", "waybill", "payment_order"]
    with sqlite3.connect(tmp_path / "bo.sqlite") as db:  # the back office received exactly that PDF
        row = db.execute("SELECT pages, pdf_sha256, received_at FROM document_submissions").fetchone()
    assert row[0] == 2 and row[1] == out["pdf_sha256"] and row[2]
    cover, receipt = r.deps.sims["printer"].printed[-2:]
    assert [b.data for b in cover.barcodes] == [out["submission_id"]]
    assert out["tracking_number"] in " ".join(receipt.texts)


@pytest.mark.timeout(90)
def test_a_blurred_photo_is_refused_with_what_to_fix_and_taken_again(backoffice, tmp_path):
    r = run_and_assert_wiped("document-delivery", spec(sim={"doccam": {"source": "document_blurred"}},
                                                       scan=["capture", "staff"], **{"scan.error": "retry"}),
                             backoffice.url, tmp_path / "s")
    err = next(v for v in r.result.views if v.kind.value == "error" and v.step == "scan")
    assert err.code == "page_unreadable" and err.what.key == "documents.page.blurred"
    assert r.outcome.reason is AbortReason.STAFF_NEEDED and submissions(backoffice.url) == []


@pytest.mark.timeout(90)
def test_pages_are_encrypted_while_held_and_gone_once_sent(backoffice, tmp_path):
    """At every view the journal (DB file and WAL) holds no JPEG or PDF in clear; the sealed
    personal blob carries the page until it is sent and shrinks to holder + address after."""
    state = tmp_path / "s"
    sealed: dict[str, int] = {}

    def intercept(view, _deps):
        raw = b"".join(p.read_bytes() for p in state.glob("journal.sqlite3*"))
        # a JPEG's JFIF header, a PDF's header, a base64 JPEG's start: long enough never to occur by chance
        # in megabytes of AES-GCM ciphertext (a 3-byte marker would, now and then)
        assert b"\xff\xd8\xff\xe0\x00\x10JFIF" not in raw and b"%PDF-1." not in raw and b"/9j/4AAQSkZJRg" not in raw
        with sqlite3.connect(state / "journal.sqlite3") as db:
            row = db.execute("SELECT length(personal) FROM sessions").fetchone()
        if row and view.step:
            sealed[view.step] = max(sealed.get(view.step, 0), row[0] or 0)
        return None

    r = run_flow("document-delivery", spec(), backoffice.url, state, intercept=intercept)
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    assert sealed["review"] > 50_000  # the page, sealed
    assert sealed["address"] < 5_000  # sent: nothing of it left
    with Journal(state) as journal:
        assert journal.session_ids() == []
