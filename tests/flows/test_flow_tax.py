"""Tax invoice with a face real-name check, in-process: printed, mailed, and the staff alternative."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from flows.views import ViewKind
from kiosk.runflow import AnswersFile

from .flow_support import FAST_FACE, FAST_PAYMENT, example_answers, run_and_assert_wiped

ADDRESS = {"recipient_name": "王晓东", "phone": "13912345678", "province": "广东省", "city": "广州市",
           "district": "天河区", "street": "天河路208号"}


def spec(**answers) -> AnswersFile:
    return example_answers("tax-invoice", settings={**FAST_PAYMENT, **FAST_FACE}, answers=answers)


def run(s: AnswersFile, url: str, state: Path, **kw):
    return run_and_assert_wiped("tax-invoice", s, url, state, **kw)


@pytest.mark.timeout(60)
def test_invoice_issued_after_the_face_check_and_printed(backoffice, tmp_path):
    r = run(spec(), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert len(out["invoice_number"]) == 20 and out["tax_fen"] == 291 and out["delivery"] == "print" and out["printed"]
    printed = r.deps.sims["printer"].printed[-1].texts
    assert any(out["invoice_number"] in t for t in printed) and any("价税合计" in t for t in printed)
    assert not any("500103198803151232" in t for t in printed)  # the buyer is printed masked
    assert [s["kind"] for s in submissions(backoffice.url)] == ["tax_invoice"]


@pytest.mark.timeout(60)
def test_invoice_mailed_outside_the_home_province(backoffice, tmp_path):
    r = run(spec(delivery="mail", address=ADDRESS), backoffice.url, tmp_path / "s")
    out = r.outcome.outcome
    assert out["delivery"] == "mail" and out["tracking_number"].endswith("CN")
    assert [s["kind"] for s in submissions(backoffice.url)] == ["tax_invoice", "waybill", "payment_order"]


@pytest.mark.timeout(60)
def test_face_not_matching_the_card_offers_retry_or_staff(backoffice, tmp_path):
    r = run(spec(**{"face.error": "staff"}), backoffice.url, tmp_path / "s", face_score=0.4)
    err = next(v for v in r.result.views if v.kind is ViewKind.ERROR and not v.final)
    assert err.code == "face_mismatch" and {o.key for o in err.options} == {"retry", "staff"}
    assert r.outcome.reason is AbortReason.STAFF_NEEDED and submissions(backoffice.url) == []


@pytest.mark.timeout(60)
def test_without_a_face_verifier_only_the_staff_check_is_offered(backoffice, tmp_path):
    r = run(spec(face="staff"), backoffice.url, tmp_path / "s", face_score=None)
    face = next(v for v in r.result.views if v.step == "face" and v.awaits_answer)
    assert [o.key for o in face.options] == ["staff"] and face.message.key == "face.no_verifier"
    assert r.outcome.reason is AbortReason.STAFF_NEEDED


@pytest.mark.timeout(60)
def test_tax_rate_must_be_one_of_the_legal_rates(backoffice, tmp_path):
    r = run(spec(details=[{"item": "咨询服务", "amount_yuan": 50, "tax_rate_percent": 4},
                          {"item": "咨询服务", "amount_yuan": 50, "tax_rate_percent": 1}]), backoffice.url, tmp_path / "s")
    forms = [v for v in r.result.views if v.step == "details" and v.awaits_answer]
    assert forms[1].errors == {"tax_rate_percent": "error.form.tax_rate"}
    assert r.outcome.outcome["tax_fen"] == 50  # 5000 fen at 1 %: net 4950, tax 50
