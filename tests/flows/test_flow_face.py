"""The face real-name check inside the tax-invoice flow, on the simulators with the REAL engine:
the back office's identity service compares a live citizen (a real photo following the
prompts) with the card holder's portrait (another photo of the same person); a printed
photo or a phone replay is refused and staff are offered; staff confirm with their PIN.
The licence errands (reissue, renewal) compare the live face with the card holder too."""

from __future__ import annotations

import pytest

from backoffice.testing import submissions
from flows.engine import AbortReason, OutcomeStatus
from flows.views import ViewKind
from kiosk.runflow import AnswersFile

from tests.face.conftest import FACES

from .flow_support import FAST_PAYMENT, LIVE_PROMPTS, example_answers, run_and_assert_wiped


ATTACKED = {"face_challenge_time_s": 2.0}  # a photo never answers: the attempt fails after this


def spec(camera: str = "citizen:resident", **answers) -> AnswersFile:
    attack = not camera.startswith("citizen:")
    return example_answers("tax-invoice", settings={**FAST_PAYMENT, **LIVE_PROMPTS, **(ATTACKED if attack else {})},
                           answers=answers, sim={"camera": {"source": camera}})


def challenges_shown(r) -> list[str]:
    keys = [v.instruction.key for v in r.result.views if v.kind is ViewKind.MEASURING]
    return [k.rsplit(".", 1)[1] for k in keys if k.startswith("face.challenge.")]


@pytest.mark.timeout(90)
def test_invoice_issued_unattended_after_a_real_face_match(backoffice, tmp_path):
    r = run_and_assert_wiped("tax-invoice", spec(), backoffice.url, tmp_path / "s", real_face=True)
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    shown = challenges_shown(r)
    assert len(shown) == 2 and len(set(shown)) == 2
    assert r.deps.sims["camera"].prompts[: len(shown)] == shown  # the citizen did what the screen asked
    assert [s["kind"] for s in submissions(backoffice.url)] == ["tax_invoice"]
    assert r.outcome.outcome["real_name_method"] == "face"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("attack", ["print:resident", "phone:resident"])  # replay: tests/face (fixed orders)
def test_a_photo_attack_is_refused_and_staff_offered(backoffice, tmp_path, attack):
    r = run_and_assert_wiped("tax-invoice", spec(attack, **{"face.error": "staff"}), backoffice.url, tmp_path / "s",
                             real_face=True)
    err = next(v for v in r.result.views if v.kind is ViewKind.ERROR and not v.final)
    assert err.code == "face_not_live" and {o.key for o in err.options} == {"retry", "staff"}
    assert r.outcome.reason is AbortReason.STAFF_NEEDED
    assert not [s for s in submissions(backoffice.url) if s["kind"] == "tax_invoice"]


@pytest.mark.timeout(120)
def test_after_three_failures_only_staff_who_confirm_with_their_pin(backoffice, tmp_path):
    pins = []

    async def staff_pin(pin: str) -> bool:
        pins.append(pin)
        return pin == "246813"

    answers = {"face.error": ["retry", "retry", "staff"], "face.form": {"staff_pin": "246813"}}
    r = run_and_assert_wiped("tax-invoice", spec("print-still:resident", **answers), backoffice.url, tmp_path / "s",
                             real_face=True, staff_pin=staff_pin)
    errors = [v for v in r.result.views if v.kind is ViewKind.ERROR and not v.final]
    assert [e.code for e in errors] == ["face_not_live"] * 3
    assert [o.key for o in errors[-1].options] == ["staff"] and errors[-1].next.key == "face.attempts_used"
    assert r.outcome.status is OutcomeStatus.COMPLETED and pins == ["246813"]
    assert r.outcome.outcome["real_name_method"] == "staff"


# -- the licence errands: applied for in person, so the live face must be the card holder's --------

ANOTHER_PERSON = f"citizen:{FACES / 'dick_cheney' / '2.jpg'}"  # a live person, not the card holder


def errand(flow: str, camera: str = "citizen:resident", **answers) -> AnswersFile:
    return example_answers(flow, settings={**FAST_PAYMENT, **LIVE_PROMPTS}, answers=answers,
                           sim={"camera": {"source": camera}})


def staff_pin_accepting(pin: str, pins: list[str]):
    async def check(typed: str) -> bool:
        pins.append(typed)
        return typed == pin

    return check


@pytest.mark.timeout(90)
def test_reissue_with_a_real_face_match(backoffice, tmp_path):
    r = run_and_assert_wiped("licence-reissue", errand("licence-reissue"), backoffice.url, tmp_path / "s",
                             real_face=True)
    assert r.outcome.status is OutcomeStatus.COMPLETED, r.outcome
    assert r.outcome.outcome["real_name_method"] == "face" and len(challenges_shown(r)) == 2
    intro = next(v for v in r.result.views if v.step == "face" and v.kind is ViewKind.CHOICE)
    assert intro.message.key == "face.reissue.intro" and [o.key for o in intro.options] == ["start", "staff"]


@pytest.mark.timeout(90)
def test_reissue_by_someone_else_is_refused_and_staff_can_check_in_person(backoffice, tmp_path):
    pins: list[str] = []
    answers = {"face.error": "staff", "face.form": {"staff_pin": "246813"}}
    r = run_and_assert_wiped("licence-reissue", errand("licence-reissue", ANOTHER_PERSON, **answers), backoffice.url,
                             tmp_path / "s", real_face=True, staff_pin=staff_pin_accepting("246813", pins))
    err = next(v for v in r.result.views if v.kind is ViewKind.ERROR)
    assert err.code == "face_mismatch" and [o.key for o in err.options] == ["retry", "staff"]
    assert r.outcome.status is OutcomeStatus.COMPLETED and pins == ["246813"]
    assert r.outcome.outcome["real_name_method"] == "staff"


@pytest.mark.timeout(60)
def test_reissue_without_face_consent_is_a_staff_check_and_never_opens_the_camera(backoffice, tmp_path):
    pins: list[str] = []
    answers = {"consent": {"photo": True, "biometrics": False}, "face.form": {"staff_pin": "246813"}}
    r = run_and_assert_wiped("licence-reissue", errand("licence-reissue", **answers), backoffice.url, tmp_path / "s",
                             staff_pin=staff_pin_accepting("246813", pins), intercept=_no_face_views)
    assert r.outcome.status is OutcomeStatus.COMPLETED and r.outcome.outcome["real_name_method"] == "staff"
    assert pins == ["246813"]


def _no_face_views(view, deps):
    assert not (view.step == "face" and view.kind is ViewKind.MEASURING), "the camera was used without consent"
    return None


@pytest.mark.timeout(90)
def test_renewal_compares_the_live_face_with_the_card_holder(backoffice, tmp_path):
    r = run_and_assert_wiped("licence-renewal", errand("licence-renewal", ANOTHER_PERSON, **{"face.error": "staff"}),
                             backoffice.url, tmp_path / "s", real_face=True)  # no staff PIN store: the counter
    err = next(v for v in r.result.views if v.kind is ViewKind.ERROR and not v.final)
    assert err.code == "face_mismatch" and {o.key for o in err.options} == {"retry", "staff"}
    assert r.outcome.reason is AbortReason.STAFF_NEEDED
    assert not [s for s in submissions(backoffice.url) if s["kind"] == "licence_renewal"]
