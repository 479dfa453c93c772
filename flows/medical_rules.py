"""Medical rules for driving-licence errands, as data, with their sources.

Primary source (text checked against LawRefBook/Laws,
`部门规章/公安部/机动车驾驶证申领和使用规定(2021-12-17).md`, in force 2022-04-01; later
amendments not checked):
    公安部令第162号《机动车驾驶证申领和使用规定》 ("Order 162").

- Art. 14(二) physical conditions: 1 height, 2 vision (incl. the one-eye rule),
  3 colour vision, 4 hearing. The other items (limbs, trunk, the 70+ cognitive tests)
  need an examiner and are not judged here.
- Art. 110: "以上" and "以下" include the number itself, so every threshold is ≥ / ≤.
- Art. 63: expiry renewal within 90 days before expiry, with a body-condition certificate.
- Art. 69: a lost licence is reissued on the ID alone (no certificate, no exam).
- Art. 74: 70 and older: a certificate every year; C5 holders every 3 years.
- Art. 79(八)/(九): more than a year past expiry, or 70+ without a certificate a year
  after the scoring cycle, the licence is cancelled.
- Art. 85: a certificate is valid for 6 months from issue.
- Art. 65: at 60+ A1 A2 A3 B1 B2 M N P may not be driven; at 70+ C3 C4 C6 D E neither.

Blood pressure is NOT an Order 162 criterion. The kiosk only advises, using the
thresholds of 《中国高血压防治指南（2018年修订版）》: hypertension is SBP ≥ 140 and/or
DBP ≥ 90 mmHg; grade 3 is SBP ≥ 180 and/or DBP ≥ 110 mmHg (guideline text not re-checked
here; the thresholds match the 2018 guideline as widely quoted). One kiosk reading is not
a diagnosis, which is why the texts are advice and referral, never a verdict.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

ORDER_162 = "公安部令第162号《机动车驾驶证申领和使用规定》(2021)"
HYPERTENSION_GUIDELINE_2018 = "《中国高血压防治指南（2018年修订版）》"


class LicenceClass(StrEnum):
    """准驾车型 codes, in the order of Order 162 Art. 11 / Annex 1."""

    A1 = "A1"  # 大型客车
    A2 = "A2"  # 重型牵引挂车
    A3 = "A3"  # 城市公交车
    B1 = "B1"  # 中型客车
    B2 = "B2"  # 大型货车
    C1 = "C1"  # 小型汽车
    C2 = "C2"  # 小型自动挡汽车
    C3 = "C3"  # 低速载货汽车
    C4 = "C4"  # 三轮汽车
    C5 = "C5"  # 残疾人专用小型自动挡载客汽车
    C6 = "C6"  # 轻型牵引挂车
    D = "D"  # 普通三轮摩托车
    E = "E"  # 普通二轮摩托车
    F = "F"  # 轻便摩托车
    M = "M"  # 轮式专用机械车
    N = "N"  # 无轨电车
    P = "P"  # 有轨电车


L = LicenceClass
ALL_CLASSES: frozenset[LicenceClass] = frozenset(LicenceClass)


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    article: str
    text_zh: str  # the quoted rule, so a reviewer can check the data against it


class Criterion(StrEnum):
    VISION = "vision"
    COLOUR_VISION = "colour_vision"
    HEARING_LEFT = "hearing_left"
    HEARING_RIGHT = "hearing_right"
    HEIGHT = "height"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    REFER = "refer"  # the kiosk cannot decide; an examiner must (e.g. field of view)
    NOT_TESTED = "not_tested"
    NOT_APPLICABLE = "not_applicable"


class ColourVision(StrEnum):
    NORMAL = "normal"
    RED_GREEN_DEFICIENT = "red_green_deficient"
    INCONCLUSIVE = "inconclusive"


# --- the rules (data) ----------------------------------------------------------------------

ART_14_HEIGHT = Citation(
    source=ORDER_162, article="第十四条第（二）项第1目",
    text_zh="身高：申请大型客车、重型牵引挂车、城市公交车、大型货车、无轨电车准驾车型的，身高为155厘米以上。"
            "申请中型客车准驾车型的，身高为150厘米以上",
)
ART_14_VISION = Citation(
    source=ORDER_162, article="第十四条第（二）项第2目",
    text_zh="视力：申请大型客车、重型牵引挂车、城市公交车、中型客车、大型货车、无轨电车或者有轨电车准驾车型的，"
            "两眼裸视力或者矫正视力达到对数视力表5.0以上。申请其他准驾车型的，两眼裸视力或者矫正视力达到对数视力表4.9以上。"
            "单眼视力障碍，优眼裸视力或者矫正视力达到对数视力表5.0以上，且水平视野达到150度的，可以申请小型汽车、"
            "小型自动挡汽车、低速载货汽车、三轮汽车、残疾人专用小型自动挡载客汽车准驾车型的机动车驾驶证",
)
ART_14_COLOUR = Citation(source=ORDER_162, article="第十四条第（二）项第3目", text_zh="辨色力：无红绿色盲")
ART_14_HEARING = Citation(
    source=ORDER_162, article="第十四条第（二）项第4目",
    text_zh="听力：两耳分别距音叉50厘米能辨别声源方向。有听力障碍但佩戴助听设备能够达到以上条件的，"
            "可以申请小型汽车、小型自动挡汽车准驾车型的机动车驾驶证",
)
ART_63 = Citation(
    source=ORDER_162, article="第六十三条",
    text_zh="机动车驾驶人应当于机动车驾驶证有效期满前九十日内……申请换证。申请时应当确认申请信息，并提交以下证明、凭证："
            "（一）机动车驾驶人的身份证明；（二）医疗机构出具的有关身体条件的证明",
)
ART_69 = Citation(
    source=ORDER_162, article="第六十九条",
    text_zh="机动车驾驶证遗失的……申请补发。申请时应当确认申请信息，并提交机动车驾驶人的身份证明",
)
ART_74 = Citation(
    source=ORDER_162, article="第七十四条",
    text_zh="年龄在70周岁以上的机动车驾驶人，应当每年进行一次身体检查……持有残疾人专用小型自动挡载客汽车驾驶证的"
            "机动车驾驶人，应当每三年进行一次身体检查",
)
ART_79 = Citation(source=ORDER_162, article="第七十九条第一款第（八）项", text_zh="超过机动车驾驶证有效期一年以上未换证的")
ART_85 = Citation(source=ORDER_162, article="第八十五条第二款", text_zh="身体条件证明自出具之日起六个月内有效")
ART_65 = Citation(
    source=ORDER_162, article="第六十五条",
    text_zh="年龄在60周岁以上的，不得驾驶大型客车、重型牵引挂车、城市公交车、中型客车、大型货车、轮式专用机械车、"
            "无轨电车和有轨电车……年龄在70周岁以上的，不得驾驶低速载货汽车、三轮汽车、轻型牵引挂车、普通三轮摩托车、普通二轮摩托车",
)
BP_GUIDELINE = Citation(
    source=HYPERTENSION_GUIDELINE_2018, article="高血压定义与分级",
    text_zh="诊室血压收缩压≥140 mmHg和（或）舒张压≥90 mmHg为高血压；收缩压≥180和（或）舒张压≥110 mmHg为3级高血压",
)


SELF_EXAM_SEQUENCE = Citation(
    source="自助体检机操作流程（m.wsmp3.cn/ask/234831.html，二手资料，见 /work/shared/reference/health.md §2）",
    article="检查顺序",
    text_zh="视力每眼3次；辨色力4张色盲图；听力左右喇叭各2次；超声波测身高",
)


class ColourPlateRule(BaseModel):
    """How many generated plates a session shows and must be read (Art. 14(二)3 screening).

    One demonstration plate first (misread: the citizen did not understand or sees no
    plate at all → an examiner decides). Then `screening` plates, as many as the self-exam
    machines in licence halls show (4, SELF_EXAM_SEQUENCE): one vanishing and one
    transformation plate for each of protan and deutan. All of them read → normal.
    Exactly `slips_allowed` misread → the `reserve` vanishing plates decide and must all be
    read. More → red-green deficient. Guessing among 4 choices passes with ≈0.7 %.
    """

    model_config = ConfigDict(frozen=True)
    demonstration: int = 1
    screening: int = 4
    must_read: int = 4  # of the screening plates, to be judged normal outright
    slips_allowed: int = 1  # misreads that call for the reserve plates instead of a failure
    reserve: int = 2
    choices: int = 4  # answer buttons per plate (figure, the deficient reading or a distractor, a distractor, "none")
    rule: Citation = ART_14_COLOUR
    count_source: Citation = SELF_EXAM_SEQUENCE


class HearingTestRule(BaseModel):
    """Art. 14(二)4 ("两耳分别距音叉50厘米能辨别声源方向") as a kiosk test.

    The examiner's tuning fork becomes a tone from the left or the right speaker; the
    citizen stands on the marked spot, each ear `distance_cm` from its speaker (or wears
    the kiosk's headphones), and says which side it came from. `frequency_hz` is the
    512 Hz fork of clinical hearing tests; `level_db_spl` at the ear is the kiosk's own
    choice (a struck fork is not specified by the order): quiet conversation level, well
    above normal thresholds, so a normal ear always hears it and a deaf ear does not.
    Sides in random order, `trials_per_ear` per ear; an ear passes only if every sound on
    its side was placed: guessing passes an ear with (1/2)^6 ≈ 1.6 %.
    """

    model_config = ConfigDict(frozen=True)
    distance_cm: float = 50.0
    frequency_hz: float = 512.0
    level_db_spl: float = 60.0
    tone_s: float = 1.0
    trials_per_ear: int = 6
    rule: Citation = ART_14_HEARING


class VisionRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    classes: frozenset[LicenceClass]
    min_level: float  # GB 11533 5-point value, each eye, naked or corrected


class OneEyeRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    classes: frozenset[LicenceClass]
    better_eye_min: float
    min_horizontal_field_deg: float


class HeightRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    classes: frozenset[LicenceClass]
    min_cm: float


class HearingRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    distance_cm: float
    hearing_aid_classes: frozenset[LicenceClass]


VISION_5_0 = frozenset({L.A1, L.A2, L.A3, L.B1, L.B2, L.N, L.P})
VISION_RULES: tuple[VisionRule, ...] = (
    VisionRule(classes=VISION_5_0, min_level=5.0),
    VisionRule(classes=ALL_CLASSES - VISION_5_0, min_level=4.9),
)
ONE_EYE_RULE = OneEyeRule(classes=frozenset({L.C1, L.C2, L.C3, L.C4, L.C5}), better_eye_min=5.0,
                          min_horizontal_field_deg=150.0)
HEIGHT_RULES: tuple[HeightRule, ...] = (
    HeightRule(classes=frozenset({L.A1, L.A2, L.A3, L.B2, L.N}), min_cm=155.0),
    HeightRule(classes=frozenset({L.B1}), min_cm=150.0),
)
COLOUR_PLATE_RULE = ColourPlateRule()
HEARING_TEST_RULE = HearingTestRule()
HEARING_RULE = HearingRule(distance_cm=50.0, hearing_aid_classes=frozenset({L.C1, L.C2}))

RENEWAL_WINDOW_DAYS = 90  # Art. 63
CERTIFICATE_VALID_MONTHS = 6  # Art. 85
YEARLY_EXAM_AGE = 70  # Art. 74 ¶1
C5_EXAM_INTERVAL_YEARS = 3  # Art. 74 ¶2
BARRED_AT_60 = frozenset({L.A1, L.A2, L.A3, L.B1, L.B2, L.M, L.N, L.P})  # Art. 65 ¶1
BARRED_AT_70 = BARRED_AT_60 | {L.C3, L.C4, L.C6, L.D, L.E}  # Art. 65 ¶2

BP_ADVICE_SYSTOLIC, BP_ADVICE_DIASTOLIC = 140.0, 90.0
BP_REFERRAL_SYSTOLIC, BP_REFERRAL_DIASTOLIC = 180.0, 110.0

_EPS = 1e-9

# Sanity of the data against the quoted text: every class has exactly one vision rule.
assert all(sum(c in r.classes for r in VISION_RULES) == 1 for c in LicenceClass)


# --- evaluation ----------------------------------------------------------------------------


class MedicalResults(BaseModel):
    """What the kiosk measured; None = not measured."""

    vision_left: float | None = None  # GB 11533 5-point value; None also when below 4.0 is unknown
    vision_right: float | None = None
    corrected: bool = False  # measured with glasses/contact lenses
    horizontal_field_deg: float | None = None  # the kiosk cannot measure it; from an examiner
    colour_vision: ColourVision | None = None
    hearing_left: bool | None = None  # told the direction of the sound on this side
    hearing_right: bool | None = None
    hearing_aid: bool = False
    height_cm: float | None = None


class CriterionResult(BaseModel):
    criterion: Criterion
    verdict: Verdict
    measured: str = ""
    required: str = ""
    rule: Citation
    conditions: tuple[str, ...] = ()  # licence endorsements, e.g. "corrective_lenses", "hearing_aid"
    note: str = ""  # machine-readable reason, e.g. "one_eye_rule", "field_of_view_needed"


class MedicalEvaluation(BaseModel):
    licence_class: LicenceClass
    results: tuple[CriterionResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.verdict in (Verdict.PASS, Verdict.NOT_APPLICABLE) for r in self.results)

    @property
    def failed(self) -> tuple[CriterionResult, ...]:
        return tuple(r for r in self.results if r.verdict is Verdict.FAIL)

    @property
    def needs_examiner(self) -> tuple[CriterionResult, ...]:
        return tuple(r for r in self.results if r.verdict in (Verdict.REFER, Verdict.NOT_TESTED))

    def get(self, criterion: Criterion) -> CriterionResult:
        return next(r for r in self.results if r.criterion is criterion)


def vision_threshold(licence_class: LicenceClass) -> float:
    return next(r.min_level for r in VISION_RULES if licence_class in r.classes)


def height_threshold(licence_class: LicenceClass) -> float | None:
    return next((r.min_cm for r in HEIGHT_RULES if licence_class in r.classes), None)


def _vision(cls: LicenceClass, m: MedicalResults) -> CriterionResult:
    need = vision_threshold(cls)
    base = dict(criterion=Criterion.VISION, rule=ART_14_VISION, required=f"both eyes >= {need}")
    conditions = ("corrective_lenses",) if m.corrected else ()
    measured = f"L {m.vision_left} R {m.vision_right}"
    if m.vision_left is None or m.vision_right is None:
        return CriterionResult(verdict=Verdict.NOT_TESTED, measured=measured, **base)
    left, right = m.vision_left + _EPS, m.vision_right + _EPS  # 4.9 read back from JSON is still 4.9
    if left >= need and right >= need:
        return CriterionResult(verdict=Verdict.PASS, measured=measured, conditions=conditions, **base)
    if cls in ONE_EYE_RULE.classes and max(left, right) >= ONE_EYE_RULE.better_eye_min:
        field = m.horizontal_field_deg
        if field is None:
            return CriterionResult(verdict=Verdict.REFER, measured=measured, note="field_of_view_needed", **base)
        verdict = Verdict.PASS if field >= ONE_EYE_RULE.min_horizontal_field_deg else Verdict.FAIL
        return CriterionResult(verdict=verdict, measured=f"{measured} field {field}", note="one_eye_rule",
                               conditions=conditions, **base)
    return CriterionResult(verdict=Verdict.FAIL, measured=measured, **base)


def _hearing(cls: LicenceClass, side: str, heard: bool | None, aid: bool) -> CriterionResult:
    crit = Criterion.HEARING_LEFT if side == "left" else Criterion.HEARING_RIGHT
    base = dict(criterion=crit, rule=ART_14_HEARING, required=f"direction of a sound at {HEARING_RULE.distance_cm:g} cm")
    if heard is None:
        return CriterionResult(verdict=Verdict.NOT_TESTED, **base)
    if not heard:
        return CriterionResult(verdict=Verdict.FAIL, measured="direction not told", **base)
    if aid:
        if cls in HEARING_RULE.hearing_aid_classes:
            return CriterionResult(verdict=Verdict.PASS, measured="with hearing aid", conditions=("hearing_aid",), **base)
        return CriterionResult(verdict=Verdict.FAIL, measured="with hearing aid", note="hearing_aid_not_allowed", **base)
    return CriterionResult(verdict=Verdict.PASS, measured="direction told", **base)


def _colour(m: MedicalResults) -> CriterionResult:
    base = dict(criterion=Criterion.COLOUR_VISION, rule=ART_14_COLOUR, required="no red-green colour blindness")
    verdict = {None: Verdict.NOT_TESTED, ColourVision.NORMAL: Verdict.PASS,
               ColourVision.RED_GREEN_DEFICIENT: Verdict.FAIL, ColourVision.INCONCLUSIVE: Verdict.REFER}[m.colour_vision]
    return CriterionResult(verdict=verdict, measured=m.colour_vision.value if m.colour_vision else "", **base)


def _height(cls: LicenceClass, m: MedicalResults) -> CriterionResult:
    need = height_threshold(cls)
    base = dict(criterion=Criterion.HEIGHT, rule=ART_14_HEIGHT)
    if need is None:
        return CriterionResult(verdict=Verdict.NOT_APPLICABLE, **base)
    if m.height_cm is None:
        return CriterionResult(verdict=Verdict.NOT_TESTED, required=f">= {need:g} cm", **base)
    verdict = Verdict.PASS if m.height_cm >= need else Verdict.FAIL
    return CriterionResult(verdict=verdict, measured=f"{m.height_cm:g} cm", required=f">= {need:g} cm", **base)


def evaluate(licence_class: LicenceClass | str, results: MedicalResults) -> MedicalEvaluation:
    """Judge every Order 162 Art. 14(二) criterion the kiosk can measure, each with its rule cited."""
    cls = LicenceClass(licence_class)
    return MedicalEvaluation(licence_class=cls, results=(
        _vision(cls, results),
        _colour(results),
        _hearing(cls, "left", results.hearing_left, results.hearing_aid),
        _hearing(cls, "right", results.hearing_right, results.hearing_aid),
        _height(cls, results),
    ))


# --- when a certificate / exam is needed ---------------------------------------------------


class Errand(StrEnum):
    RENEWAL = "renewal"  # Art. 63
    REISSUE_LOST = "reissue_lost"  # Art. 69
    YEARLY_70 = "yearly_70"  # Art. 74


class RenewalWindow(StrEnum):
    TOO_EARLY = "too_early"  # more than 90 days before expiry
    OPEN = "open"  # within 90 days before expiry (Art. 63)
    OVERDUE = "overdue"  # expired, less than a year ago: still renewable
    LAPSED = "lapsed"  # expired more than a year ago: cancelled (Art. 79(八))


def certificate_required(errand: Errand) -> bool:
    """Art. 63 and 74 need a body-condition certificate; Art. 69 (lost licence) only the ID."""
    return errand is not Errand.REISSUE_LOST


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def certificate_valid_until(issued: date) -> date:
    """Last day a certificate issued on `issued` is valid ("自出具之日起六个月内", Art. 85)."""
    return add_months(issued, CERTIFICATE_VALID_MONTHS) - timedelta(days=1)


def certificate_is_valid(issued: date, today: date) -> bool:
    return issued <= today <= certificate_valid_until(issued)


def renewal_window(expiry: date, today: date) -> RenewalWindow:
    if today < expiry - timedelta(days=RENEWAL_WINDOW_DAYS):
        return RenewalWindow.TOO_EARLY
    if today <= expiry:
        return RenewalWindow.OPEN
    if today <= add_months(expiry, 12):
        return RenewalWindow.OVERDUE
    return RenewalWindow.LAPSED


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def yearly_exam_required(birth_date: date, today: date) -> bool:
    """Art. 74 ¶1: a body check every year from 70."""
    return age_on(birth_date, today) >= YEARLY_EXAM_AGE


def exam_interval_years(birth_date: date, today: date, classes: frozenset[LicenceClass] | set[LicenceClass]) -> int | None:
    """How often a certificate is due outside renewals (Art. 74): 1 at 70+, 3 for C5, else None."""
    if yearly_exam_required(birth_date, today):
        return 1
    if LicenceClass.C5 in classes:
        return C5_EXAM_INTERVAL_YEARS
    return None


def classes_barred_by_age(age: int) -> frozenset[LicenceClass]:
    """Art. 65: classes that may no longer be driven at this age."""
    if age >= 70:
        return BARRED_AT_70
    if age >= 60:
        return BARRED_AT_60
    return frozenset()


# --- blood pressure: advisory only ---------------------------------------------------------


class BpAdviceLevel(StrEnum):
    NONE = "none"
    ADVICE = "advice"  # ≥140/90: see a doctor to have it checked
    REFERRAL = "referral"  # ≥180/110: see a doctor promptly


class BpAdvice(BaseModel):
    level: BpAdviceLevel
    message_key: str  # i18n key of the advice text
    rule: Citation = BP_GUIDELINE
    criterion_of_order_162: bool = Field(default=False, description="always False: advisory only")


def bp_advice(systolic: float, diastolic: float) -> BpAdvice:
    """Advice for one reading (mmHg); either value reaching a threshold is enough ("和（或）")."""
    if systolic >= BP_REFERRAL_SYSTOLIC or diastolic >= BP_REFERRAL_DIASTOLIC:
        return BpAdvice(level=BpAdviceLevel.REFERRAL, message_key="bp.referral")
    if systolic >= BP_ADVICE_SYSTOLIC or diastolic >= BP_ADVICE_DIASTOLIC:
        return BpAdvice(level=BpAdviceLevel.ADVICE, message_key="bp.advice")
    return BpAdvice(level=BpAdviceLevel.NONE, message_key="bp.normal")
