"""Transit-card top-up on the PN532 simulator and the reference back office: the load is
authorised by the issuer for the paid order, a torn write is recovered from the card's own
proof, and a payment whose load never finished is finished by the next session on that card."""

from __future__ import annotations

import json

import httpx
import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus

from .flow_support import EXAMPLES, FAST_PAYMENT, example_answers, run_and_assert_wiped, run_cli

FAST = {**FAST_PAYMENT, "card_wait_s": 0.4}


def spec(faults: str = "", **answers):
    sim = {"cardreader": {"faults": faults}} if faults else None
    return example_answers("card-topup", settings=FAST, answers=answers, sim=sim)


def loads(url: str, card: str = "31049900000012345678") -> list[dict]:
    return httpx.get(f"{url}/v1/cards/{card}/pending-loads").json()["loads"]


@pytest.mark.timeout(60)
def test_top_up_is_paid_authorised_written_and_confirmed(backoffice, tmp_path):
    r = run_and_assert_wiped("card-topup", spec(), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    card = r.deps.sims["cardreader"].card
    assert card.loads == [5000] and card.balance == 1250 + 5000 == out["balance_fen"]
    assert [s["kind"] for s in submissions(backoffice.url)] == ["payment_order", "card_load", "card_load_confirm"]
    record = httpx.get(f"{backoffice.url}/v1/cards/loads/{out['load_id']}").json()
    assert record["status"] == "completed" and loads(backoffice.url) == []
    assert any("62.50" in t for t in r.deps.sims["printer"].printed[-1].texts)


@pytest.mark.timeout(60)
def test_write_torn_after_the_credit_is_confirmed_from_the_cards_proof_not_written_twice(backoffice, tmp_path):
    r = run_and_assert_wiped("card-topup", spec("device_error=tear_after_credit"), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    assert r.outcome.outcome["recovered"] is True
    assert r.deps.sims["cardreader"].card.loads == [5000]  # once
    assert "recover" in r.result.steps()
    assert [s["kind"] for s in submissions(backoffice.url)] == ["payment_order", "card_load", "card_load_confirm"]


@pytest.mark.timeout(60)
def test_write_torn_before_the_credit_is_authorised_again_for_the_same_order(backoffice, tmp_path):
    r = run_and_assert_wiped("card-topup", spec("device_error=tear_before_credit"), backoffice.url, tmp_path / "s")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    assert r.deps.sims["cardreader"].card.loads == [5000]
    kinds = [s["kind"] for s in submissions(backoffice.url)]
    assert kinds == ["payment_order", "card_load", "card_load", "card_load_confirm"]  # one order, two MAC2s


@pytest.mark.timeout(90)
def test_citizen_who_leaves_after_a_torn_write_gets_the_money_on_the_card_next_time(backoffice, tmp_path):
    gone = example_answers("card-topup", settings=FAST, answers={"recover.error": "staff"},
                           sim={"cardreader": {"faults": "device_error=tear_before_credit", "tear_leaves": "1"}})
    first = run_and_assert_wiped("card-topup", gone, backoffice.url, tmp_path / "a")
    assert first.outcome.reason is AbortReason.STAFF_NEEDED and first.outcome.code == "topup_unfinished"
    order = [s for s in submissions(backoffice.url) if s["kind"] == "payment_order"][0]["id"]
    assert first.result.views[-1].next.params["order_id"] == order
    assert [p["status"] for p in loads(backoffice.url)] == ["authorised"]
    # the same card on the reader again (a fresh session): the earlier load is finished first
    again = run_and_assert_wiped("card-topup", spec(), backoffice.url, tmp_path / "b")
    assert again.outcome.status is OutcomeStatus.COMPLETED, again.outcome
    out = again.outcome.outcome
    assert out["finished_earlier_payment"] and out["payment_order_id"] == order
    assert again.deps.sims["cardreader"].card.loads == [5000]
    assert [s["kind"] for s in submissions(backoffice.url)].count("payment_order") == 1  # not paid twice
    assert loads(backoffice.url) == []


@pytest.mark.timeout(120)
def test_runner_killed_mid_write_resumes_into_the_recovery(backoffice, tmp_path):
    """SIGKILL right after the journal records that CREDIT FOR LOAD is about to leave; the
    restarted runner asks the card, which was not credited, and loads once."""
    state = str(tmp_path / "state")
    args = ("run-flow", "card-topup", "--answers", str(EXAMPLES / "card-topup.yaml"), "--devices", "sim",
            "--state-dir", state, "--backoffice", backoffice.url)
    rc, _lines, _err = run_cli(*args, env={"KIOSK_CRASH_AT": "write:2"})
    assert rc == -9
    rc, lines, err = run_cli(*args)
    assert rc == 0, err
    out = json.loads(lines[-1])
    assert out["resumed"] is True and out["outcome"]["recovered"] is True  # re-authorised after the card said "not done"
    kinds = [s["kind"] for s in submissions(backoffice.url)]
    assert kinds == ["payment_order", "card_load", "card_load", "card_load_confirm"]
