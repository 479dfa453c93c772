"""Request and response messages of the back-office services (traffic, tax, post, payment).

One set of models serves both sides: the kiosk's HTTP client builds requests and reads
responses with them, the reference back office (package `backoffice`) validates with
them. Field validators raise `PydanticCustomError` whose *type* is the reason code the
server answers with (e.g. 'invalid_id_number'), so a malformed request is refused with
the same code whichever side catches it.

Privacy: models hide input values in validation errors (`hide_input_in_errors`) and
personal fields are left out of `repr`, so logging a model or an error leaks nothing.
Money is always integer fen (1 yuan = 100 fen); never floats.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from flows.services import validation as v

# ---------------------------------------------------------------- field types


def _id_number(value: str) -> str:
    problem = v.id_number_problem(value)
    if problem:
        raise PydanticCustomError("invalid_id_number", "not a valid ID card number: {problem}", {"problem": problem})
    return value


def _mobile(value: str) -> str:
    if not v.is_valid_mobile(value):
        raise PydanticCustomError("invalid_phone", "not a mainland mobile number (11 digits, 13x-19x)")
    return value


def _plate(value: str) -> str:
    if not v.is_valid_plate(value):
        raise PydanticCustomError("invalid_plate", "not a valid vehicle plate")
    return value


def _licence_class(value: str) -> str:
    if value not in v.LICENCE_CLASSES:
        raise PydanticCustomError("invalid_licence_class", "unknown licence class")
    return value


def _province(value: str) -> str:
    if value not in v.PROVINCES:
        raise PydanticCustomError("invalid_province", "unknown province")
    return value


_LATIN_NAME_MARKS = " ,-.'"


def _person_name(value: str) -> str:
    """A Chinese name (2-30 letters, · between parts) or a name in Latin letters as a foreign card
    prints it ("MUELLER-SCHMIDT, ANNA MARIA": up to 60 characters, the 2017 card's English-name slot)."""
    cleaned = value.strip()
    if cleaned.isascii():
        if not 2 <= len(cleaned) <= 60 or not any(c.isalpha() for c in cleaned) or \
                not all(c.isalpha() or c in _LATIN_NAME_MARKS for c in cleaned):
            raise PydanticCustomError("invalid_name", "a name in Latin letters has 2-60 letters, spaces and , - . '")
        return cleaned
    if not 2 <= len(cleaned) <= 30 or not all(c.isalpha() or c in "·• " for c in cleaned):
        raise PydanticCustomError("invalid_name", "a name has 2-30 letters")
    return cleaned


def _vision(value: float) -> float:
    rounded = round(value, 1)
    if abs(rounded - value) > 1e-6 or not 3.0 <= rounded <= 5.3:
        raise PydanticCustomError("invalid_vision", "vision is 3.0-5.3 on the 5-point scale, in steps of 0.1")
    return rounded


IdNumber = Annotated[str, BeforeValidator(lambda s: v.normalise_id_number(s) if isinstance(s, str) else s), AfterValidator(_id_number)]
"""The number of an ID card the kiosk reads: resident card or HK/Macau/Taiwan permit (GB 11643), or a foreign
permanent resident card (2023: 18 characters starting with 9; 2017: 15 characters). See validation.id_number_problem."""
MobilePhone = Annotated[str, BeforeValidator(lambda s: s.strip() if isinstance(s, str) else s), AfterValidator(_mobile)]
Plate = Annotated[str, BeforeValidator(lambda s: v.normalise_plate(s) if isinstance(s, str) else s), AfterValidator(_plate)]
LicenceClass = Annotated[str, AfterValidator(_licence_class)]
Province = Annotated[str, AfterValidator(_province)]
PersonName = Annotated[str, AfterValidator(_person_name)]
Vision = Annotated[float, AfterValidator(_vision)]
Fen = Annotated[int, Field(ge=0, le=10_000_000_000, strict=True)]
PositiveFen = Annotated[int, Field(gt=0, le=10_000_000_000, strict=True)]
Reference = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:_.\-]{5,127}$")]
"""Opaque token naming something kept elsewhere (a photo, a face-check record)."""

ProvisionalRef = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,62}-\d{6,}-[0-9A-Z]$", max_length=80)]
"""A kiosk-issued provisional reference (flows.outbox.reference): kiosk id, sequence, check character."""

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{8,255}$"
"""Printable ASCII, no blanks, 8-255 characters (e.g. 'session-uuid:submit-renewal')."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, frozen=True)


class ErrorBody(_Response):
    """What the back office answers on any 4xx/5xx: {"error": {...}}."""

    code: str
    message: str = ""
    field: str | None = None


class Health(_Response):
    status: Literal["ok"] = "ok"
    version: str = ""
    time: dt.datetime | None = None


# ---------------------------------------------------------------- traffic management


class BloodPressure(_Request):
    """Advisory only: not an Order 162 criterion, recorded for the citizen's information."""

    systolic: int = Field(ge=50, le=300)
    diastolic: int = Field(ge=30, le=200)
    pulse: int | None = Field(default=None, ge=20, le=250)
    advisory: Literal["normal", "advice", "referral"] = "normal"


class MedicalResults(_Request):
    """The kiosk's medical check for a licence (Order 162 Art. 14 items)."""

    vision_left: Vision
    vision_right: Vision
    corrected: bool = False  # glasses or contact lenses worn during the test
    horizontal_field_deg: int | None = Field(default=None, ge=0, le=200)  # for the one-eye rule
    colour_vision: Literal["normal", "red_green_deficient", "other_deficient"]
    hearing_left: bool  # direction of a sound at 50 cm identified
    hearing_right: bool
    height_cm: int = Field(ge=80, le=250)
    blood_pressure: BloodPressure | None = None
    photo_ref: Reference  # the licence photo taken at the kiosk, stored by the kiosk
    examined_at: dt.datetime


class LicenceQuery(_Request):
    id_number: IdNumber = Field(repr=False)


class LicenceRecord(_Response):
    """The licence on file for an ID number (in China the licence number is the ID number)."""

    licence_class: str
    first_issued: dt.date
    valid_from: dt.date
    valid_until: dt.date
    status: Literal["valid", "expired", "revoked"]
    renewal_window_open: bool  # within 90 days before expiry (Order 162 Art. 63)
    yearly_exam_required: bool  # 70 years or older
    points: int = 0


class RealNameCheck(_Request):
    """Proof the kiosk checked the citizen's face against the ID card photo — or that
    staff checked the ID in person (the non-biometric alternative)."""

    method: Literal["face", "staff"]
    passed: bool
    reference: Reference  # the check's record at the kiosk, not the face image
    score: float | None = Field(default=None, ge=0.0, le=1.0)


class LicenceRenewalRequest(_Request):
    id_number: IdNumber = Field(repr=False)
    licence_class: LicenceClass
    medical: MedicalResults = Field(repr=False)
    certificate_issued_at: dt.date | None = None  # when the medical certificate is from elsewhere
    provisional_reference: ProvisionalRef | None = None  # the kiosk's reference (docs/offline.md)
    real_name_check: RealNameCheck | None = None  # 人证核验 at the kiosk (applied in person)


class LicenceReissueRequest(_Request):
    """Lost or damaged licence: ID and photo only, no exam (Order 162 Art. 69)."""

    id_number: IdNumber = Field(repr=False)
    licence_class: LicenceClass
    reason: Literal["lost", "damaged"] = "lost"
    photo_ref: Reference
    provisional_reference: ProvisionalRef | None = None
    real_name_check: RealNameCheck | None = None  # 人证核验 at the kiosk (applied in person)


class LicenceApplication(_Response):
    application_id: str
    kind: Literal["licence_renewal", "licence_reissue"]
    status: Literal["accepted"] = "accepted"
    licence_class: str
    new_valid_until: dt.date | None = None
    fee_fen: Fen
    accepted_at: dt.datetime


class FineQuery(_Request):
    """Look fines up by the driver's ID number or by a vehicle plate (exactly one)."""

    id_number: IdNumber | None = Field(default=None, repr=False)
    plate: Plate | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "FineQuery":
        if (self.id_number is None) == (self.plate is None):
            raise PydanticCustomError("invalid_query", "give exactly one of id_number or plate")
        return self


class Fine(_Response):
    fine_id: str
    plate: str
    occurred_at: dt.datetime
    location: str
    violation_code: str
    description: str
    amount_fen: Fen
    points: int
    paid: bool = False


class FineList(_Response):
    fines: list[Fine]
    unpaid_total_fen: Fen


class FinePaymentRequest(_Request):
    """Mark fines paid with a payment order the citizen has already paid."""

    fine_ids: list[Annotated[str, Field(pattern=r"^F[0-9A-F]{14}$")]] = Field(min_length=1, max_length=20)
    payment_order_id: str = Field(min_length=4, max_length=64)

    @model_validator(mode="after")
    def _unique(self) -> "FinePaymentRequest":
        if len(set(self.fine_ids)) != len(self.fine_ids):
            raise PydanticCustomError("duplicate_fine", "each fine may be listed once")
        return self


class FinePaymentReceipt(_Response):
    receipt_number: str
    fine_ids: list[str]
    total_fen: Fen
    payment_order_id: str
    paid_at: dt.datetime


class InspectionExemptRequest(_Request):
    """6-year inspection-exempt label for a non-commercial small passenger car
    (公安部 质检总局 公交管〔2014〕138号; labels are issued in years 2 and 4)."""

    plate: Plate
    owner_id_number: IdNumber = Field(repr=False)
    vehicle_type: Literal["small_passenger", "mini_passenger", "van", "truck", "motorcycle", "other"]
    non_commercial: bool
    registration_date: dt.date
    compulsory_insurance_until: dt.date  # 交强险 must be valid
    provisional_reference: ProvisionalRef | None = None  # the kiosk's reference (docs/offline.md)


class InspectionExemptLabel(_Response):
    application_id: str
    label_number: str
    inspection_year: int  # 2, 4 ... years after registration
    valid_until: dt.date
    fee_fen: Fen
    accepted_at: dt.datetime


# ---------------------------------------------------------------- tax


class InvoiceRequest(_Request):
    buyer_name: PersonName = Field(repr=False)
    buyer_id_number: IdNumber = Field(repr=False)
    amount_fen: PositiveFen  # total including tax
    item: str = Field(min_length=1, max_length=100)
    tax_rate_percent: Literal[0, 1, 3, 6, 9, 13] = 3
    real_name_check: RealNameCheck


class Invoice(_Response):
    invoice_number: str  # 20 digits (fully digitalised e-invoice, 全电发票)
    issued_at: dt.datetime
    item: str
    amount_fen: Fen
    tax_fen: Fen
    net_fen: Fen
    buyer: str  # masked, e.g. '张*（110105********002X）'
    printable_lines: list[str]  # for the receipt printer
    pdf_path: str  # GET this path (relative to the back office) for the PDF


# ---------------------------------------------------------------- post


class MailingAddress(_Request):
    recipient_name: PersonName = Field(repr=False)
    phone: MobilePhone = Field(repr=False)
    province: Province
    city: str = Field(min_length=2, max_length=30)
    district: str = Field(min_length=2, max_length=30)
    street: str = Field(min_length=2, max_length=120, repr=False)
    postcode: str | None = Field(default=None, pattern=r"^\d{6}$")


class WaybillRequest(_Request):
    address: MailingAddress
    contents: str = Field(min_length=1, max_length=50)  # e.g. '机动车驾驶证'
    reference: str | None = Field(default=None, max_length=64)  # e.g. the application id


class Waybill(_Response):
    waybill_id: str
    tracking_number: str  # UPU S10, e.g. 'EA100000015CN'
    fee_fen: Fen
    destination: str  # province + city only
    created_at: dt.datetime


class TrackingEvent(_Response):
    at: dt.datetime
    status: str
    location: str
    description: str


class TrackingInfo(_Response):
    tracking_number: str
    status: Literal["created", "collected", "in_transit", "out_for_delivery", "delivered"]
    events: list[TrackingEvent]


# ---------------------------------------------------------------- payment

PaymentStatus = Literal["pending", "paid", "expired", "cancelled"]


class PaymentOrderRequest(_Request):
    amount_fen: PositiveFen
    description: str = Field(min_length=1, max_length=64)  # shown in the payer's app; no personal data
    reference: str | None = Field(default=None, max_length=64)


class PaymentOrder(_Response):
    order_id: str
    amount_fen: Fen
    description: str
    status: PaymentStatus
    qr_payload: str  # encode this string in the QR code the citizen scans
    created_at: dt.datetime
    expires_at: dt.datetime
    paid_at: dt.datetime | None = None


class Submission(_Response):
    """One accepted submission as listed by GET /v1/submissions."""

    idempotency_key: str
    kind: str
    id: str
    created_at: dt.datetime
