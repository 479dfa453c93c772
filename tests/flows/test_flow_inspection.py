"""The 6-year inspection-exempt label in-process: plate → eligibility → apply → mail the label."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from flows.inspection_label import inspection_year
from kiosk.runflow import AnswersFile

from .flow_support import FAST_PAYMENT, example_answers, run_and_assert_wiped

TODAY = dt.date.today()


def spec(vehicle=None, **answers) -> AnswersFile:
    # dates relative to today, so the test does not age with the example file
    return example_answers("inspection-label", settings=FAST_PAYMENT, answers={
        "vehicle": {"plate": "渝AH0290", "registration_date": str(TODAY.replace(year=TODAY.year - 3)),
                    "insurance_until": str(TODAY + dt.timedelta(days=200)), **(vehicle or {})},
        **answers,
    })


def run(s: AnswersFile, url: str, state: Path):
    return run_and_assert_wiped("inspection-label", s, url, state)


@pytest.mark.timeout(60)
def test_label_applied_for_and_mailed(backoffice, tmp_path):
    r = run(spec(), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert out["label_number"].startswith("JY") and out["inspection_year"] == 4 and out["tracking_number"].endswith("CN")
    assert [s["kind"] for s in submissions(backoffice.url)] == ["inspection_exempt", "waybill", "payment_order"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("changes, code", [
    ({"vehicle_type": "van"}, "vehicle_not_eligible"),
    ({"use": "commercial"}, "vehicle_not_eligible"),
    ({"vehicle": {"registration_date": str(TODAY.replace(year=TODAY.year - 8))}}, "inspection_required"),
    ({"vehicle": {"insurance_until": str(TODAY - dt.timedelta(days=1))}}, "insurance_expired"),
    ({"vehicle": {"plate": "京AQX548"}}, "unpaid_fines"),
])
def test_not_eligible_cases_say_why_and_submit_nothing(backoffice, tmp_path, changes, code):
    r = run(spec(**changes), backoffice.url, tmp_path / "s")
    err = r.result.views[-1]
    assert r.outcome.reason is AbortReason.NOT_ELIGIBLE and err.code == code
    assert submissions(backoffice.url) == []


def test_inspection_year_follows_the_two_year_cycle():
    assert [inspection_year(dt.date(2020, 6, 1), dt.date(y, 6, 1)) for y in (2021, 2022, 2023, 2024, 2026, 2027)] == \
        [2, 2, 4, 4, 6, 8]


@pytest.mark.timeout(60)
def test_future_registration_date_is_asked_again(backoffice, tmp_path):
    good = {"plate": "渝AH0290", "registration_date": str(TODAY.replace(year=TODAY.year - 3)),
            "insurance_until": str(TODAY + dt.timedelta(days=200))}
    s = spec()
    s.answers["vehicle"] = [{**good, "registration_date": str(TODAY + dt.timedelta(days=3))}, good]
    r = run(s, backoffice.url, tmp_path / "s")
    forms = [v for v in r.result.views if v.step == "vehicle" and v.awaits_answer]
    assert forms[1].errors == {"registration_date": "error.form.date_in_future"}
    assert r.outcome.status is OutcomeStatus.COMPLETED
