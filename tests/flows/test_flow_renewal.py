"""Licence renewal with the medical check, in-process (flows.driver) on the simulators and the
reference back office: the whole errand, every eligibility outcome, and every abort path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backoffice.app import Settings
from backoffice.server import BackgroundServer
from backoffice.testing import set_faults, submissions
from flows.clock import MonotonicClock
from flows.engine import AbortReason, OutcomeStatus
from flows.journal import Journal
from flows.views import Action, ViewKind
from kiosk.runflow import AnswerBook, AnswersFile

from .flow_support import FAST_FACE, FAST_PAYMENT, FAST_SIM, assert_wiped, example_answers, run_flow

FAST_SETTINGS = {**FAST_PAYMENT, **FAST_FACE, "card_wait_s": 0.3, "rng_seed": 7}


def spec(**changes) -> AnswersFile:
    """The shipped example answers, with fast simulator settings and `changes` merged in."""
    s = example_answers("licence-renewal", settings=FAST_SETTINGS, sim=FAST_SIM)
    for section in ("sim", "settings", "answers", "engine"):
        for key, value in changes.pop(section, {}).items():
            target = getattr(s, section)
            if isinstance(value, dict) and isinstance(target.get(key), dict) and section == "sim":
                target[key] = {**target[key], **value}
            else:
                target[key] = value
    assert not changes
    return s


def run(flow_spec: AnswersFile, url: str, state: Path, **kw):
    return run_flow("licence-renewal", flow_spec, url, state, **kw)


def final(r):
    view = r.result.views[-1]
    assert view.final and view.kind in (ViewKind.RESULT, ViewKind.ERROR)
    return view


@pytest.mark.timeout(60)
def test_renewal_completes_submits_once_mails_pays_and_prints(backoffice, tmp_path):
    r = run(spec(), backoffice.url, tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    out = r.outcome.outcome
    assert out["application_id"].startswith("LR") and out["tracking_number"].endswith("CN")
    assert out["total_fen"] == out["fee_fen"] + out["postage_fen"] == 2500
    assert out["bp_advisory"] == "normal" and out["receipt_printed"] is True
    assert r.result.steps() == ["read_id", "eligibility", "consent", "face", "vision", "colour", "hearing", "height",
                                "bp", "photo", "review", "submit", "address", "mail", "pay", "print"]
    kinds = [s["kind"] for s in submissions(backoffice.url)]
    assert kinds == ["licence_renewal", "waybill", "payment_order"]
    printed = r.deps.sims["printer"].printed[-1]
    assert any(out["tracking_number"] in line for line in printed.texts) and printed.cut
    assert printed.qr_codes[0].payload == out["tracking_number"]
    assert not any("500103" in line for line in printed.texts)  # no ID number on the receipt
    assert final(r).kind is ViewKind.RESULT
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("changes, criterion", [
    ({"sim": {"eye": {"acuity_left": 4.5, "acuity_right": 4.6}}}, "vision"),
    ({"answers": {"colour": "@protan"}}, "colour_vision"),
    ({"answers": {"colour": "@deutan"}}, "colour_vision"),
    ({"answers": {"hearing.choice": "@missed"}}, "hearing_left"),
])
def test_failing_an_order_162_criterion_ends_naming_it_and_pointing_to_a_hospital(backoffice, tmp_path, changes, criterion):
    r = run(spec(**changes), backoffice.url, tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.ABORTED and r.outcome.reason is AbortReason.NOT_ELIGIBLE
    err = final(r)
    assert err.kind is ViewKind.ERROR and err.code == "medical_requirements_not_met"
    assert criterion in str(err.what.params["criteria"])
    assert err.next.key == "renewal.medical.see_hospital"
    assert submissions(backoffice.url) == []
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_inconclusive_colour_plates_refer_to_an_examiner(backoffice, tmp_path):
    r = run(spec(answers={"colour": ["nothing"]}), backoffice.url, tmp_path / "state")  # demonstration plate misread
    err = final(r)
    assert err.code == "examiner_needed" and "colour_vision" in str(err.what.params["criteria"])


@pytest.mark.timeout(60)
def test_high_blood_pressure_is_advice_not_a_refusal(backoffice, tmp_path):
    r = run(spec(sim={"bp": {"sys": 152, "dia": 95}}), backoffice.url, tmp_path / "state")
    assert r.outcome.status is OutcomeStatus.COMPLETED
    assert r.outcome.outcome["bp_advisory"] == "advice"
    advice = [v for v in r.result.views if v.kind is ViewKind.PROMPT and v.step == "bp"]
    assert advice[-1].message.key == "bp.advice"


@pytest.mark.timeout(60)
def test_blood_pressure_fault_offers_retry_or_skip_and_skipping_still_completes(backoffice, tmp_path):
    def unplug_cuff(view, deps):
        if view.step == "bp" and view.kind is ViewKind.CHOICE:
            deps.sims["bp"].faults.inject("unplug")  # the monitor vanishes mid-reply
        return None

    r = run(spec(answers={"bp.error": "skip"}), backoffice.url, tmp_path / "state", intercept=unplug_cuff)
    errors = [v for v in r.result.views if v.kind is ViewKind.ERROR and v.step == "bp"]
    assert errors and {o.key for o in errors[0].options} == {"retry", "skip"}
    assert r.outcome.status is OutcomeStatus.COMPLETED and r.outcome.outcome["bp_advisory"] is None


@pytest.mark.timeout(60)
def test_renewal_window_not_open_is_refused_with_the_date_it_opens(backoffice, tmp_path):
    import datetime as dt

    early = dt.date.today() - dt.timedelta(days=400)  # a year earlier the licence was far from expiry
    r = run(spec(settings={"today": early.isoformat()}), backoffice.url, tmp_path / "state")
    err = final(r)
    assert r.outcome.reason is AbortReason.NOT_ELIGIBLE and err.code == "renewal_window_not_open"
    assert "opens_on" in err.next.params
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("consent, reason, code", [
    ({"biometrics": True, "health": False}, AbortReason.CONSENT_DECLINED, "health_consent_declined"),
    ({"biometrics": False, "health": True}, AbortReason.STAFF_NEEDED, "staff_needed"),
])
def test_declined_consents(backoffice, tmp_path, consent, reason, code):
    r = run(spec(answers={"consent": consent}), backoffice.url, tmp_path / "state")
    assert r.outcome.reason is reason and final(r).code == code
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_call_staff_instead_of_the_face_check(backoffice, tmp_path):
    r = run(spec(answers={"face": "staff"}), backoffice.url, tmp_path / "state")
    face = next(v for v in r.result.views if v.step == "face" and v.awaits_answer)
    assert {o.key for o in face.options} == {"start", "staff"}
    assert r.outcome.reason is AbortReason.STAFF_NEEDED and final(r).next.key == "staff.go_to_counter"


# --- abort paths: device fault, back office down, cancel, idle ------------------------------


@pytest.mark.timeout(60)
def test_eye_tester_fault_ends_with_a_device_error(backoffice, tmp_path):
    def jam_occluder(view, deps):
        if view.step == "vision" and view.kind is ViewKind.CHOICE:
            deps.sims["eye"].faults.inject("device_error", count=5, arg="occluder_jammed")
        return None

    r = run(spec(), backoffice.url, tmp_path / "state", intercept=jam_occluder)
    err = final(r)
    assert r.outcome.reason is AbortReason.DEVICE_FAULT and err.code == "eye_occluder_jammed"
    assert err.what.key == "error.device.what" and err.next.key == "error.device.next"
    assert submissions(backoffice.url) == []
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_camera_unplugged_mid_flow_ends_with_a_device_error(backoffice, tmp_path):
    def unplug_at_face(view, deps):
        if view.step == "face" and view.kind is ViewKind.CHOICE:
            deps.sims["camera"].unplug()
        return None

    r = run(spec(), backoffice.url, tmp_path / "state", intercept=unplug_at_face)
    assert r.outcome.reason is AbortReason.DEVICE_FAULT and final(r).what.params["device"] == "camera"
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_no_card_offers_retry_then_only_staff(backoffice, tmp_path):
    r = run(spec(sim={"idcard": {"card": "none"}}, answers={"read_id.error": "retry"}), backoffice.url,
            tmp_path / "state", intercept=lambda v, d: Action.answer("staff", view_id=v.view_id)
            if v.kind is ViewKind.ERROR and len(v.options) == 1 else None)
    errors = [v for v in r.result.views if v.kind is ViewKind.ERROR and not v.final]
    assert [len(e.options) for e in errors] == [2, 2, 1] and errors[0].code == "no_card"
    assert r.outcome.reason is AbortReason.STAFF_NEEDED
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_back_office_down_is_accepted_provisionally(tmp_path):
    """docs/offline.md: with the outbox, the renewal completes offline under a provisional reference."""
    r = run(spec(), "http://127.0.0.1:9", tmp_path / "state",
            client_options={"retries": 1, "backoff_initial": 0.01, "timeout": 0.5, "connect_timeout": 0.5})
    assert r.outcome.status is OutcomeStatus.COMPLETED, final(r)
    out = r.outcome.outcome
    assert out["queued"] and out["application_id"] is None and out["provisional_reference"].startswith("TEST-KIOSK-")
    assert final(r).message.key == "renewal.done_provisional"
    printed = r.deps.sims["printer"].printed[-1]
    text = "\n".join(printed.texts)
    assert f"临时受理号：{out['provisional_reference']}" in text and "前扫描下方二维码缴费" in text
    assert printed.qr_codes[0].payload.endswith(out["provisional_reference"])  # the pay-later QR
    assert "500103" not in text  # no ID number on the receipt
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_back_office_down_without_an_outbox_ends_with_a_service_error(tmp_path):
    r = run(spec(), "http://127.0.0.1:9", tmp_path / "state", use_outbox=False,
            client_options={"retries": 1, "backoff_initial": 0.01, "timeout": 0.5, "connect_timeout": 0.5})
    err = final(r)
    assert r.outcome.reason is AbortReason.SERVICE_FAILED and err.code == "service_unavailable"
    assert err.what.key == "error.backoffice_down.what" and err.next.key == "error.backoffice_down.next"
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_back_office_failing_after_the_submission_keeps_the_application_and_queues_the_rest(backoffice, tmp_path):
    """The renewal was accepted; the post office fails: the waybill and the order wait in the outbox."""
    set_faults(backoffice.url, {"prefix": "/v1/post", "error_next": 10, "error_status": 503})
    r = run(spec(), backoffice.url, tmp_path / "state", client_options={"retries": 1, "backoff_initial": 0.01})
    out = r.outcome.outcome
    assert r.outcome.status is OutcomeStatus.COMPLETED and out["application_id"].startswith("LR")
    assert out["queued"] and out["tracking_number"] is None and out["pay_by"] is not None
    assert final(r).message.key == "renewal.done"
    assert [s["kind"] for s in submissions(backoffice.url)] == ["licence_renewal"]


@pytest.mark.timeout(60)
def test_answer_lost_after_commit_still_gives_exactly_one_renewal(backoffice, tmp_path):
    set_faults(backoffice.url, {"prefix": "/v1/traffic/licence/renewals", "drop_next": 1, "drop_phase": "after"})
    r = run(spec(), backoffice.url, tmp_path / "state", client_options={"backoff_initial": 0.01})
    assert r.outcome.status is OutcomeStatus.COMPLETED
    assert len(submissions(backoffice.url, "licence_renewal")) == 1


@pytest.mark.timeout(60)
def test_citizen_cancels(backoffice, tmp_path):
    r = run(spec(answers={"vision": "@cancel"}), backoffice.url, tmp_path / "state")
    view = final(r)
    assert r.outcome.reason is AbortReason.CANCELLED and view.kind is ViewKind.RESULT
    assert view.message.key == "result.cancelled"
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_idle_timeout_warns_then_ends(backoffice, tmp_path):
    r = run(spec(answers={"consent": "@idle", "consent.idle_warning": "@idle"}), backoffice.url, tmp_path / "state")
    assert any(v.kind is ViewKind.IDLE_WARNING for v in r.result.views)
    assert r.outcome.reason is AbortReason.IDLE_TIMEOUT and final(r).code == "idle_timeout"
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_cancel_while_the_qr_code_is_shown_cancels_the_order(tmp_path):
    with BackgroundServer(Settings(db_path=str(tmp_path / "bo.sqlite"), pay_after_s=None)) as server:
        async def main():
            from flows.deps import FlowSettings, sim_deps
            from flows.engine import FlowRunner, ResumePolicy
            from flows.registry import create
            from kiosk.runflow import AnswerBook

            s = spec()
            async with sim_deps(server.url, sim_options=s.sim, settings=FlowSettings(**s.settings)) as deps:
                with Journal(tmp_path / "state") as journal:
                    runner = FlowRunner(create("licence-renewal"), journal, deps, clock=MonotonicClock(),
                                        resume=ResumePolicy.NEVER)
                    book = AnswerBook(s.answers, audio=deps.audio)
                    async for view in runner.views():
                        if view.step == "pay" and view.kind is ViewKind.MEASURING and view.device == "payment":
                            await runner.act(Action.cancel())
                        elif view.awaits_answer:
                            await runner.act(book.action_for(view))
                    return await runner.wait(), view

        outcome, last = asyncio.run(main())
        assert outcome.reason is AbortReason.CANCELLED and last.kind is ViewKind.RESULT
        import httpx

        order_id = next(s["id"] for s in submissions(server.url, "payment_order"))
        assert httpx.get(f"{server.url}/v1/payments/orders/{order_id}").json()["status"] == "cancelled"
    assert_wiped(tmp_path / "state")


@pytest.mark.timeout(60)
def test_resumed_session_with_another_card_on_the_reader_ends_without_showing_data(backoffice, tmp_path):
    from flows.engine import FlowRunner, ResumePolicy

    state = tmp_path / "state"
    stopped = {}

    async def first_half():
        from flows.deps import FlowSettings, sim_deps
        from flows.registry import create

        s = spec()
        async with sim_deps(backoffice.url, sim_options=s.sim, settings=FlowSettings(**s.settings)) as deps:
            with Journal(state) as journal:
                runner = FlowRunner(create("licence-renewal"), journal, deps, resume=ResumePolicy.NEVER)
                book = AnswerBook(s.answers, audio=deps.audio)
                async for view in runner.views():
                    if view.step == "vision":
                        stopped["session"] = runner.session_id
                        await runner.aclose()  # the kiosk lost power here; the journal keeps the session
                        break
                    if view.awaits_answer:
                        await runner.act(book.action_for(view))

    asyncio.run(first_half())
    with Journal(state) as journal:
        assert journal.session_ids() == [stopped["session"]]
    r = run(spec(sim={"idcard": {"card": "hmt"}}), backoffice.url, state)
    assert r.outcome.resumed and r.outcome.status is OutcomeStatus.ABORTED
    assert [v.message.key for v in r.result.views if v.kind is ViewKind.PROMPT] == ["resume.place_id_card_again"]
    assert final(r).code == "different_card"
    assert_wiped(state)
