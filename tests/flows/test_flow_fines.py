"""Traffic-fine payment in-process: look up, choose, QR payment, settle, receipt."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from flows.views import ViewKind
from kiosk.runflow import AnswersFile, run_in_process

from .flow_support import FAST_PAYMENT, example_answers, run_and_assert_wiped

PLATE = "京AQX548"  # two unpaid ¥200 fines in the reference back office's seeded data


def spec(**answers) -> AnswersFile:
    return example_answers("traffic-fines", settings=FAST_PAYMENT, answers=answers)


def run(s: AnswersFile, url: str, state: Path):
    return run_and_assert_wiped("traffic-fines", s, url, state)


@pytest.mark.timeout(60)
def test_pay_all_fines_of_a_plate_then_nothing_is_left(backoffice, tmp_path):
    r = run(spec(), backoffice.url, tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert out["receipt_number"].startswith("FP") and len(out["fine_ids"]) == 2 and out["total_fen"] == 40000
    choose = next(v for v in r.result.views if v.step == "choose" and v.awaits_answer)
    assert [o.key for o in choose.options][0] == "all" and len(choose.options) == 3
    assert [s["kind"] for s in submissions(backoffice.url)] == ["payment_order", "fine_payment"]
    assert any(out["receipt_number"] in t for t in r.deps.sims["printer"].printed[-1].texts)

    again = run(spec(), backoffice.url, tmp_path / "state2")
    assert again.outcome.status is OutcomeStatus.COMPLETED
    assert again.outcome.outcome["receipt_number"] is None and again.result.views[-1].message.key == "fines.none_unpaid"


@pytest.mark.timeout(60)
def test_pay_one_fine_after_a_mistyped_plate(backoffice, tmp_path):
    r = run(spec(plate=[{"plate": "京AQ"}, {"plate": PLATE}], choose="FA1CBBDF3E56ADD"), backoffice.url, tmp_path / "s")
    forms = [v for v in r.result.views if v.step == "plate" and v.awaits_answer]
    assert [f.errors for f in forms] == [{}, {"plate": "error.form.too_short"}]
    assert r.outcome.outcome["fine_ids"] == ["FA1CBBDF3E56ADD"] and r.outcome.outcome["total_fen"] == 20000


@pytest.mark.timeout(60)
def test_invalid_plate_is_asked_again(backoffice, tmp_path):
    r = run(spec(plate=[{"plate": "京IO12345"}, {"plate": PLATE}]), backoffice.url, tmp_path / "s")
    forms = [v for v in r.result.views if v.step == "plate" and v.awaits_answer]
    assert forms[1].errors == {"plate": "error.form.invalid_plate"}
    assert r.outcome.status is OutcomeStatus.COMPLETED


@pytest.mark.timeout(60)
def test_by_id_card(backoffice, tmp_path):
    r = run(spec(method="id_card"), backoffice.url, tmp_path / "s")  # the simulated card holder has no fines
    assert r.outcome.status is OutcomeStatus.COMPLETED and r.outcome.outcome["fine_ids"] == []
    assert r.result.steps()[:2] == ["method", "read_id"]


@pytest.mark.timeout(60)
def test_back_office_down_while_settling_names_the_paid_order(backoffice, tmp_path):
    from backoffice.testing import set_faults

    set_faults(backoffice.url, {"prefix": "/v1/traffic/fines/payments", "error_next": 10})
    r = asyncio.run(run_in_process("traffic-fines", spec(), backoffice.url, tmp_path / "s",
                                   client_options={"retries": 1, "backoff_initial": 0.01}))
    err = r.result.views[-1]
    assert r.outcome.reason is AbortReason.SERVICE_FAILED and err.kind is ViewKind.ERROR
    assert err.next.key == "error.next.accepted_ask_staff" and err.next.params["reference"].startswith("PO")
