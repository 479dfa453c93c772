"""The 6-year inspection-exempt label in-process: plate → eligibility → apply → mail the label."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from flows.inspection_label import inspection_year
from flows.services.inspection_rules import POLICY_2014, REFORM_2022, REFORM_2022_IN_FORCE, Decision, decide, policy_on
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
    ({"vehicle": {"registration_date": str(TODAY.replace(year=TODAY.year - 6))}}, "inspection_required"),
    ({"vehicle": {"registration_date": str(TODAY.replace(year=TODAY.year - 10))}}, "inspection_required"),
    ({"vehicle": {"registration_date": str(TODAY.replace(year=TODAY.year - 12))}}, "inspection_required"),
    ({"vehicle": {"insurance_until": str(TODAY - dt.timedelta(days=1))}}, "insurance_expired"),
    ({"vehicle": {"plate": "京AQX548"}}, "unpaid_fines"),
])
def test_not_eligible_cases_say_why_and_submit_nothing(backoffice, tmp_path, changes, code):
    r = run(spec(**changes), backoffice.url, tmp_path / "s")
    err = r.result.views[-1]
    assert r.outcome.reason is AbortReason.NOT_ELIGIBLE and err.code == code
    assert submissions(backoffice.url) == []


@pytest.mark.timeout(60)
def test_year_8_label_comes_by_post_since_the_2022_reform(backoffice, tmp_path):
    r = run(spec(vehicle={"plate": "渝AH0290", "registration_date": str(TODAY.replace(year=TODAY.year - 8)),
                          "insurance_until": str(TODAY + dt.timedelta(days=200))}), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED and r.outcome.outcome["inspection_year"] == 8


def test_label_or_on_site_by_cycle_year_and_policy():
    today = dt.date(2030, 3, 1)
    after = {y: decide(dt.date(2030 - y, 3, 1), today)[0] for y in range(1, 13)}
    assert [y for y, d in after.items() if d is Decision.LABEL] == [1, 2, 3, 4, 7, 8]  # cycle years 2, 4, 8
    assert decide(dt.date(2024, 3, 1), today)[1:] == (6, policy_on(REFORM_2022_IN_FORCE))
    assert decide(dt.date(2010, 1, 1), dt.date(2012, 1, 1))[0] is Decision.ON_SITE  # before 2014: no exemption
    before = decide(dt.date(2014, 1, 1), dt.date(2021, 1, 1))  # year 8 under the 2014 policy: on site
    assert before[0] is Decision.ON_SITE and before[2].source is POLICY_2014
    now = decide(dt.date(2014, 1, 1), dt.date(2023, 1, 1))  # 9 full years → the year-10 cycle: on site
    assert now[:2] == (Decision.ON_SITE, 10) and now[2].source is REFORM_2022


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


@pytest.mark.timeout(60)
def test_with_the_back_office_down_the_label_is_applied_for_provisionally(tmp_path):
    """docs/offline.md: the fines check waits for the back office; the citizen holds a reference."""
    r = run_and_assert_wiped("inspection-label", spec(), "http://127.0.0.1:9", tmp_path / "s",
                             client_options={"retries": 0, "connect_timeout": 0.5})
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert out["queued"] and out["label_number"] is None and out["provisional_reference"].startswith("TEST-KIOSK-")
    text = "\n".join(r.deps.sims["printer"].printed[-1].texts)
    assert f"临时受理号：{out['provisional_reference']}" in text and "待缴邮费" in text
