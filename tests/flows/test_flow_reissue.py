"""Lost-licence reissue in-process on the simulators and the reference back office (Order 162 Art. 69)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from flows.views import ViewKind
from kiosk.runflow import AnswersFile

from .flow_support import FAST_FACE, FAST_PAYMENT, example_answers, run_and_assert_wiped


def spec(settings=None, **answers) -> AnswersFile:
    return example_answers("licence-reissue", settings={**FAST_PAYMENT, **FAST_FACE, **(settings or {})},
                           answers=answers)


def run(s: AnswersFile, url: str, state: Path):
    return run_and_assert_wiped("licence-reissue", s, url, state)  # every ending wipes the journal


@pytest.mark.timeout(60)
def test_reissue_completes_with_the_id_card_only(backoffice, tmp_path):
    r = run(spec(), backoffice.url, tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert out["application_id"].startswith("RI") and out["reason"] == "lost" and out["tracking_number"].endswith("CN")
    assert out["total_fen"] == 2500 and out["receipt_printed"] and out["real_name_method"] == "face"
    steps = r.result.steps()
    assert "vision" not in steps and "bp" not in steps  # no exam (Art. 69)
    assert [s["kind"] for s in submissions(backoffice.url)] == ["licence_reissue", "waybill", "payment_order"]
    assert "驾驶证遗失补证" in r.deps.sims["printer"].printed[-1].texts[0]


@pytest.mark.timeout(60)
def test_expired_licence_is_sent_to_renewal(backoffice, tmp_path):
    later = dt.date.today() + dt.timedelta(days=200)  # the seeded licence expires within 80 days
    r = run(spec(settings={"today": later.isoformat()}), backoffice.url, tmp_path / "state")
    err = r.result.views[-1]
    assert r.outcome.reason is AbortReason.NOT_ELIGIBLE and err.code == "licence_expired"
    assert err.next.key == "reissue.use_renewal" and submissions(backoffice.url) == []


@pytest.mark.timeout(60)
def test_declining_the_photo_calls_staff(backoffice, tmp_path):
    r = run(spec(consent={"photo": False, "biometrics": True}), backoffice.url, tmp_path / "state")
    assert r.outcome.reason is AbortReason.STAFF_NEEDED and r.result.views[-1].kind is ViewKind.ERROR


@pytest.mark.timeout(60)
def test_cancel_at_the_review(backoffice, tmp_path):
    r = run(spec(review="@cancel", settings={"face_liveness": False}), backoffice.url, tmp_path / "state")
    assert r.outcome.reason is AbortReason.CANCELLED and r.result.views[-1].kind is ViewKind.RESULT
    assert submissions(backoffice.url) == []
