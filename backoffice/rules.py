"""Business rules the back office enforces itself (it never trusts the kiosk's verdict).

Source: 机动车驾驶证申领和使用规定 (Ministry of Public Security Order No. 162, 2021):
- Art. 14 physical conditions: vision (both eyes, naked or corrected) >= 5.0 on the
  5-point scale for A1 A2 A3 B1 B2 N P, >= 4.9 for the other classes; one-eye rule —
  the better eye >= 5.0 with a horizontal field >= 150 degrees may apply for small cars
  (C1 C2), low-speed trucks (C3), tricycles (C4) and C5; no red-green colour blindness;
  each ear identifies the direction of a sound at 50 cm; height >= 155 cm for A1 A2 A3
  B2 N, >= 150 cm for B1.
- Art. 85: medical certificates are valid for 6 months.
- Art. 63: renewal may be applied for within 90 days before expiry.
Blood pressure is not an Order 162 criterion and is never a reason to refuse.

Inspection exemption: flows/services/inspection_rules.py (公交管〔2014〕138号, and the 2022 reform:
non-operating small and mini passenger cars, vans excluded, inspected on site at years 6
and 10, the label by post in years 2, 4 and 8), provided compulsory insurance (交强险) is
valid and traffic violations are settled. Simplification: the 3-month application window before the due date is not
enforced here (fixed example answer files would otherwise expire).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flows.services import inspection_rules
from flows.services.models import InspectionExemptRequest, MedicalResults

STRICT_VISION_CLASSES = frozenset({"A1", "A2", "A3", "B1", "B2", "N", "P"})
ONE_EYE_CLASSES = frozenset({"C1", "C2", "C3", "C4", "C5"})
MIN_HEIGHT_CM = {"A1": 155, "A2": 155, "A3": 155, "B2": 155, "N": 155, "B1": 150}
CERTIFICATE_VALID_DAYS = 183  # 6 months
RENEWAL_WINDOW_DAYS = 90


@dataclass(frozen=True)
class RuleFailure:
    code: str
    message: str
    field: str | None = None


def medical_failure(medical: MedicalResults, licence_class: str) -> RuleFailure | None:
    """First Art. 14 requirement the results miss, or None when they meet them all."""
    need = 5.0 if licence_class in STRICT_VISION_CLASSES else 4.9
    left, right = medical.vision_left, medical.vision_right
    if left < need or right < need:
        one_eye_ok = (
            licence_class in ONE_EYE_CLASSES
            and max(left, right) >= 5.0
            and (medical.horizontal_field_deg or 0) >= 150
        )
        if not one_eye_ok:
            side = "vision_left" if left < need else "vision_right"
            return RuleFailure("medical_requirements_not_met", f"vision below {need} for class {licence_class}", f"medical.{side}")
    if medical.colour_vision == "red_green_deficient":
        return RuleFailure("medical_requirements_not_met", "red-green colour blindness", "medical.colour_vision")
    if not medical.hearing_left or not medical.hearing_right:
        side = "hearing_left" if not medical.hearing_left else "hearing_right"
        return RuleFailure("medical_requirements_not_met", "sound direction not identified at 50 cm", f"medical.{side}")
    min_height = MIN_HEIGHT_CM.get(licence_class)
    if min_height and medical.height_cm < min_height:
        return RuleFailure("medical_requirements_not_met", f"height below {min_height} cm for class {licence_class}", "medical.height_cm")
    return None


def certificate_failure(examined_on: dt.date, today: dt.date) -> RuleFailure | None:
    if examined_on > today:
        return RuleFailure("invalid_exam_date", "the examination date is in the future", "medical.examined_at")
    if (today - examined_on).days > CERTIFICATE_VALID_DAYS:
        return RuleFailure("medical_certificate_expired", "the medical examination is older than 6 months", "medical.examined_at")
    return None


def full_years(since: dt.date, today: dt.date) -> int:
    return today.year - since.year - ((today.month, today.day) < (since.month, since.day))


def inspection_failure(request: InspectionExemptRequest, today: dt.date) -> RuleFailure | None:
    if request.vehicle_type not in ("small_passenger", "mini_passenger") or not request.non_commercial:
        return RuleFailure("vehicle_not_eligible", "only non-commercial small and mini passenger cars (no vans) are exempt", "vehicle_type")
    if request.registration_date > today:
        return RuleFailure("invalid_registration_date", "the registration date is in the future", "registration_date")
    decision, year, _policy = inspection_rules.decide(request.registration_date, today)
    if decision is inspection_rules.Decision.ON_SITE:
        return RuleFailure("inspection_required", f"year {year}: an on-site inspection is required", "registration_date")
    if request.compulsory_insurance_until < today:
        return RuleFailure("insurance_expired", "compulsory traffic insurance has expired", "compulsory_insurance_until")
    return None


inspection_year = inspection_rules.cycle_year  # the even year of the cycle this label stands for (2, 4, 8)
