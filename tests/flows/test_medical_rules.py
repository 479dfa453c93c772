"""Medical rules of Order 162 Art. 14 and the renewal/certificate articles, at every boundary."""

from __future__ import annotations

from datetime import date

import pytest

from flows.medical_rules import (
    ALL_CLASSES,
    ColourVision,
    Criterion,
    Errand,
    LicenceClass as L,
    MedicalResults,
    RenewalWindow,
    Verdict,
    BpAdviceLevel,
    age_on,
    bp_advice,
    certificate_is_valid,
    certificate_required,
    certificate_valid_until,
    classes_barred_by_age,
    evaluate,
    exam_interval_years,
    renewal_window,
    yearly_exam_required,
)

FIVE_0 = {L.A1, L.A2, L.A3, L.B1, L.B2, L.N, L.P}
HEIGHT_155 = {L.A1, L.A2, L.A3, L.B2, L.N}
GOOD = dict(colour_vision=ColourVision.NORMAL, hearing_left=True, hearing_right=True, height_cm=170)


def vision(cls, left, right, **kw):
    return evaluate(cls, MedicalResults(vision_left=left, vision_right=right, **GOOD, **kw)).get(Criterion.VISION)


def test_seventeen_classes():
    assert len(ALL_CLASSES) == 17


@pytest.mark.parametrize("cls", sorted(ALL_CLASSES))
def test_vision_boundary_per_class(cls):
    need = 5.0 if cls in FIVE_0 else 4.9
    below = round(need - 0.1, 1)
    assert vision(cls, need, need).verdict is Verdict.PASS
    assert vision(cls, need, below).verdict in (Verdict.FAIL, Verdict.REFER)
    assert vision(cls, below, below).verdict is Verdict.FAIL
    assert vision(cls, need, need).rule.article == "第十四条第（二）项第2目"
    assert vision(cls, need, need).required == f"both eyes >= {need}"


def test_vision_49_is_enough_for_c1_but_not_for_b2():
    assert vision(L.C1, 4.9, 4.9).verdict is Verdict.PASS
    assert vision(L.B2, 4.9, 5.0).verdict is Verdict.FAIL


def test_corrected_vision_counts_and_is_endorsed():
    r = vision(L.C1, 5.0, 4.9, corrected=True)
    assert r.verdict is Verdict.PASS and r.conditions == ("corrective_lenses",)


@pytest.mark.parametrize("cls", [L.C1, L.C2, L.C3, L.C4, L.C5])
def test_one_eye_rule_classes(cls):
    assert vision(cls, 5.0, 4.0).verdict is Verdict.REFER  # the kiosk cannot measure the field of view
    assert vision(cls, 4.0, 5.0, horizontal_field_deg=150).verdict is Verdict.PASS
    assert vision(cls, 5.0, 4.0, horizontal_field_deg=149).verdict is Verdict.FAIL
    assert vision(cls, 4.9, 4.0, horizontal_field_deg=180).verdict is Verdict.FAIL  # better eye must be 5.0
    assert vision(cls, 5.0, 4.0, horizontal_field_deg=150).note == "one_eye_rule"


@pytest.mark.parametrize("cls", sorted(ALL_CLASSES - {L.C1, L.C2, L.C3, L.C4, L.C5}))
def test_one_eye_rule_does_not_apply_elsewhere(cls):
    assert vision(cls, 5.3, 4.0, horizontal_field_deg=180).verdict is Verdict.FAIL


def test_vision_not_tested_when_an_eye_is_missing():
    assert vision(L.C1, 5.0, None).verdict is Verdict.NOT_TESTED


@pytest.mark.parametrize("cls", sorted(ALL_CLASSES))
def test_height_boundary_per_class(cls):
    need = 155 if cls in HEIGHT_155 else 150 if cls is L.B1 else None
    res = lambda h: evaluate(cls, MedicalResults(height_cm=h)).get(Criterion.HEIGHT)  # noqa: E731
    if need is None:
        assert res(120).verdict is Verdict.NOT_APPLICABLE
    else:
        assert res(need).verdict is Verdict.PASS
        assert res(need - 0.5).verdict is Verdict.FAIL
        assert res(None).verdict is Verdict.NOT_TESTED
    assert res(160).rule.article == "第十四条第（二）项第1目"


def test_b1_needs_150_and_p_has_no_height_rule():
    assert evaluate(L.B1, MedicalResults(height_cm=152)).get(Criterion.HEIGHT).verdict is Verdict.PASS
    assert evaluate(L.A1, MedicalResults(height_cm=152)).get(Criterion.HEIGHT).verdict is Verdict.FAIL
    assert evaluate(L.P, MedicalResults(height_cm=140)).get(Criterion.HEIGHT).verdict is Verdict.NOT_APPLICABLE


@pytest.mark.parametrize("cv,verdict", [(ColourVision.NORMAL, Verdict.PASS), (ColourVision.RED_GREEN_DEFICIENT, Verdict.FAIL),
                                        (ColourVision.INCONCLUSIVE, Verdict.REFER), (None, Verdict.NOT_TESTED)])
def test_colour_vision(cv, verdict):
    r = evaluate(L.C1, MedicalResults(colour_vision=cv)).get(Criterion.COLOUR_VISION)
    assert r.verdict is verdict and r.rule.text_zh == "辨色力：无红绿色盲"


def test_hearing_each_ear_and_hearing_aid_only_for_c1_c2():
    e = evaluate(L.B2, MedicalResults(hearing_left=True, hearing_right=False))
    assert e.get(Criterion.HEARING_LEFT).verdict is Verdict.PASS
    assert e.get(Criterion.HEARING_RIGHT).verdict is Verdict.FAIL
    for cls in ALL_CLASSES:
        r = evaluate(cls, MedicalResults(hearing_left=True, hearing_right=True, hearing_aid=True))
        expected = Verdict.PASS if cls in (L.C1, L.C2) else Verdict.FAIL
        assert r.get(Criterion.HEARING_LEFT).verdict is expected
    assert evaluate(L.C2, MedicalResults(hearing_left=True, hearing_aid=True)).get(
        Criterion.HEARING_LEFT).conditions == ("hearing_aid",)


def test_overall_pass_and_fail():
    ok = evaluate("C1", MedicalResults(vision_left=4.9, vision_right=5.1, **GOOD))
    assert ok.passed and not ok.failed and not ok.needs_examiner
    bad = evaluate("A1", MedicalResults(vision_left=4.9, vision_right=5.1, **{**GOOD, "height_cm": 150}))
    assert not bad.passed and {r.criterion for r in bad.failed} == {Criterion.VISION, Criterion.HEIGHT}
    assert all(r.rule.source.startswith("公安部令第162号") for r in bad.results)


def test_renewal_window_art_63():
    expiry = date(2026, 6, 30)
    assert renewal_window(expiry, date(2026, 4, 1)) is RenewalWindow.OPEN  # exactly 90 days before
    assert renewal_window(expiry, date(2026, 3, 31)) is RenewalWindow.TOO_EARLY
    assert renewal_window(expiry, expiry) is RenewalWindow.OPEN
    assert renewal_window(expiry, date(2027, 6, 30)) is RenewalWindow.OVERDUE
    assert renewal_window(expiry, date(2027, 7, 1)) is RenewalWindow.LAPSED
    assert certificate_required(Errand.RENEWAL) and certificate_required(Errand.YEARLY_70)
    assert not certificate_required(Errand.REISSUE_LOST)  # Art. 69: ID only


def test_certificate_valid_six_months_art_85():
    assert certificate_valid_until(date(2026, 1, 15)) == date(2026, 7, 14)
    assert certificate_valid_until(date(2025, 8, 31)) == date(2026, 2, 27)  # Feb has no 31st
    assert certificate_is_valid(date(2026, 1, 15), date(2026, 7, 14))
    assert not certificate_is_valid(date(2026, 1, 15), date(2026, 7, 15))


def test_70_plus_yearly_exam_and_age_bars():
    birth = date(1956, 5, 20)
    assert age_on(birth, date(2026, 5, 19)) == 69 and not yearly_exam_required(birth, date(2026, 5, 19))
    assert yearly_exam_required(birth, date(2026, 5, 20))
    assert exam_interval_years(birth, date(2026, 5, 20), {L.C1}) == 1
    assert exam_interval_years(date(1990, 1, 1), date(2026, 1, 1), {L.C5}) == 3
    assert exam_interval_years(date(1990, 1, 1), date(2026, 1, 1), {L.C1}) is None
    assert L.B2 in classes_barred_by_age(60) and L.C3 not in classes_barred_by_age(60)
    assert {L.C3, L.C4, L.C6, L.D, L.E} <= classes_barred_by_age(70)
    assert L.C1 not in classes_barred_by_age(90) and classes_barred_by_age(59) == frozenset()


@pytest.mark.parametrize("sys_,dia,level", [
    (139, 89, BpAdviceLevel.NONE), (140, 80, BpAdviceLevel.ADVICE), (120, 90, BpAdviceLevel.ADVICE),
    (179, 109, BpAdviceLevel.ADVICE), (180, 90, BpAdviceLevel.REFERRAL), (150, 110, BpAdviceLevel.REFERRAL),
])
def test_blood_pressure_is_advice_only(sys_, dia, level):
    advice = bp_advice(sys_, dia)
    assert advice.level is level and advice.message_key == f"bp.{'normal' if level is BpAdviceLevel.NONE else level.value}"
    assert advice.criterion_of_order_162 is False
    assert "140" in advice.rule.text_zh and "180" in advice.rule.text_zh
