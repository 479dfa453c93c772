"""`kiosk run-flow` as a real process: JSON lines out, answers in, exit status, resume, back office child."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from backoffice.testing import submissions
from flows.journal import Journal
from flows.views import ViewKind, view_from_json
from kiosk.runflow import AnswerBook

from .flow_support import EXAMPLES, example_answers, run_cli


def outcome_of(lines: list[str]) -> dict:
    last = json.loads(lines[-1])
    assert last["kind"] == "outcome"
    return last


def write_answers(path: Path, flow: str, **answers) -> Path:
    """The shipped example with `answers` changed, written as JSON (the runner reads JSON too)."""
    spec = example_answers(flow, answers=answers)
    path.write_text(spec.model_dump_json(), encoding="utf-8")
    return path


@pytest.mark.timeout(90)
def test_renewal_headless_with_its_own_back_office(tmp_path):
    state = tmp_path / "state"
    rc, lines, err = run_cli("run-flow", "licence-renewal", "--answers", str(EXAMPLES / "licence-renewal.yaml"),
                             "--devices", "sim", "--state-dir", str(state), "--pay-after", "0")
    assert rc == 0, err
    views = [view_from_json(line) for line in lines[:-1]]  # every line but the last is a view
    assert views[-1].final and views[-1].kind is ViewKind.RESULT
    assert [v.view_id for v in views] == list(range(1, len(views) + 1))
    out = outcome_of(lines)
    assert out["status"] == "completed" and out["resumed"] is False
    assert out["outcome"]["application_id"].startswith("LR") and out["outcome"]["tracking_number"].endswith("CN")
    assert (state / "backoffice.sqlite3").exists()  # the started back office kept its DB in the state dir
    with Journal(state) as journal:
        assert journal.session_ids() == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize("flow, key", [
    ("licence-reissue", "application_id"), ("traffic-fines", "receipt_number"),
    ("inspection-label", "label_number"), ("tax-invoice", "invoice_number"),
    ("vehicle-licence", "application_id"), ("property-certificate", "pickup_code"), ("card-topup", "load_id"),
    ("document-delivery", "submission_id"),
])
def test_every_example_answers_file_completes(backoffice, tmp_path, flow, key):
    rc, lines, err = run_cli("run-flow", flow, "--answers", str(EXAMPLES / f"{flow}.yaml"), "--devices", "sim",
                             "--state-dir", str(tmp_path / "state"), "--backoffice", backoffice.url)
    assert rc == 0, err
    out = outcome_of(lines)
    assert out["flow"] == flow and out["outcome"][key]


@pytest.mark.timeout(60)
def test_cancel_exits_3_with_a_result_view(backoffice, tmp_path):
    answers = write_answers(tmp_path / "a.json", "licence-renewal", consent="@cancel")
    rc, lines, err = run_cli("run-flow", "licence-renewal", "--answers", str(answers), "--devices", "sim",
                             "--state-dir", str(tmp_path / "state"), "--backoffice", backoffice.url)
    assert rc == 3, err
    assert view_from_json(lines[-2]).kind is ViewKind.RESULT
    assert outcome_of(lines)["reason"] == "cancelled"


@pytest.mark.timeout(60)
def test_idle_answer_times_the_session_out(backoffice, tmp_path):
    answers = write_answers(tmp_path / "a.json", "licence-renewal",
                            **{"consent": "@idle", "consent.idle_warning": "@idle"})
    rc, lines, _ = run_cli("run-flow", "licence-renewal", "--answers", str(answers), "--devices", "sim",
                           "--state-dir", str(tmp_path / "state"), "--backoffice", backoffice.url, timeout=30)
    assert rc == 3
    kinds = [json.loads(line)["kind"] for line in lines]
    assert "idle_warning" in kinds and outcome_of(lines)["reason"] == "idle_timeout"


@pytest.mark.timeout(90)
def test_missing_answer_exits_2_keeps_the_session_and_a_second_run_resumes_it(backoffice, tmp_path):
    state = tmp_path / "state"
    spec = AnswerBook.load(EXAMPLES / "licence-renewal.yaml")
    del spec.answers["address"]
    partial = tmp_path / "partial.json"
    partial.write_text(spec.model_dump_json(), encoding="utf-8")
    rc, lines, err = run_cli("run-flow", "licence-renewal", "--answers", str(partial), "--devices", "sim",
                             "--state-dir", str(state), "--backoffice", backoffice.url)
    assert rc == 2 and "address" in err
    assert json.loads(lines[-1])["step"] == "address"
    with Journal(state) as journal:
        assert len(journal.session_ids()) == 1

    rc, lines, err = run_cli("run-flow", "licence-renewal", "--answers", str(EXAMPLES / "licence-renewal.yaml"),
                             "--devices", "sim", "--state-dir", str(state), "--backoffice", backoffice.url)
    assert rc == 0, err
    out = outcome_of(lines)
    assert out["resumed"] is True and out["steps_run"] == 4  # address, mail, pay, print
    assert json.loads(lines[0])["message"]["key"] == "resume.place_id_card_again"
    assert len(submissions(backoffice.url, "licence_renewal")) == 1


@pytest.mark.timeout(30)
def test_usage_errors_exit_2(tmp_path):
    rc, _, err = run_cli("run-flow", "no-such-flow", "--answers", str(EXAMPLES / "licence-renewal.yaml"),
                         "--state-dir", str(tmp_path))
    assert rc == 2 and "no-such-flow" in err
    rc, _, err = run_cli("run-flow", "traffic-fines", "--answers", str(EXAMPLES / "licence-renewal.yaml"),
                         "--state-dir", str(tmp_path))
    assert rc == 2 and "licence-renewal" in err  # the file is for another flow
    rc, lines, _ = run_cli("flows")
    assert rc == 0 and lines == ["licence-renewal", "licence-reissue", "traffic-fines", "inspection-label",
                                 "tax-invoice", "vehicle-licence", "property-certificate", "card-topup",
                                 "document-delivery"]


def test_back_office_child_stops_with_the_runner(tmp_path):
    from kiosk.runflow import ManagedBackOffice

    bo = ManagedBackOffice(tmp_path / "bo.sqlite3", pay_after=0).start()
    url = bo.url
    assert httpx.get(url + "/v1/health", timeout=2).json()["status"] == "ok"
    bo.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/v1/health", timeout=1)


@pytest.mark.timeout(60)
def test_back_office_child_dies_when_the_runner_is_killed(tmp_path):
    """PR_SET_PDEATHSIG: a runner killed with SIGKILL leaves no back office behind."""
    import re
    import time

    rc, _, err = run_cli("run-flow", "licence-renewal", "--answers", str(EXAMPLES / "licence-renewal.yaml"),
                         "--devices", "sim", "--state-dir", str(tmp_path / "state"), "--log-level", "info",
                         env={"KIOSK_CRASH_AT": "consent:1"})
    assert rc == -9, err
    url = re.search(r"back office started at (http://\S+)", err).group(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/v1/health", timeout=0.5)
        except httpx.HTTPError:
            return
        time.sleep(0.1)
    pytest.fail("the back office outlived the killed runner")


@pytest.mark.timeout(60)
def test_a_refused_answer_stops_the_run_instead_of_looping(backoffice, tmp_path):
    # nobody on the height station → staff type the height, a value below the form's minimum
    spec = example_answers("licence-renewal", answers={"height.error": "staff", "height.form": {"height_cm": 20}},
                           settings={"height_timeout_s": 0.3}, sim={"height": {"person": 0}})
    answers = tmp_path / "a.json"
    answers.write_text(spec.model_dump_json(), encoding="utf-8")
    rc, lines, err = run_cli("run-flow", "licence-renewal", "--answers", str(answers), "--devices", "sim",
                             "--state-dir", str(tmp_path / "state"), "--backoffice", backoffice.url)
    assert rc == 2 and "height" in err and "error.form.too_small" in err
    assert json.loads(lines[-1])["errors"] == {"height_cm": "error.form.too_small"}
