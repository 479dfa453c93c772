"""Messages of the hall's further services: vehicle licence (行驶证), property-certificate mailing,
card top-up and government-service document delivery.

Same conventions as `flows.services.models` (one set of models for kiosk and reference back
office, reason codes as validation error types, personal fields out of `repr`, money in fen).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

from pydantic import Field

from flows.services.models import Fen, IdNumber, Plate, PositiveFen, _Request, _Response

# ---------------------------------------------------------------- vehicle licence (行驶证)

VehicleLicenceReason = Literal["lost", "damaged", "worn"]  # 补领 (lost), 换领 (damaged / worn out)


class VehicleQuery(_Request):
    """The vehicle record of a plate, asked for by the person claiming to own it."""

    plate: Plate
    owner_id_number: IdNumber = Field(repr=False)


class VehicleRecord(_Response):
    plate: str
    vehicle_type: str  # small_passenger …
    brand: str
    registration_date: dt.date
    status: Literal["normal", "mortgaged", "seized", "scrapped", "stolen"]
    owner: str  # masked name, e.g. '王*东'


class VehicleLicenceRequest(_Request):
    plate: Plate
    owner_id_number: IdNumber = Field(repr=False)
    reason: VehicleLicenceReason


class VehicleLicenceApplication(_Response):
    application_id: str
    plate: str
    reason: str
    fee_fen: Fen
    accepted_at: dt.datetime


# ---------------------------------------------------------------- property certificate (不动产权证书)

CertificateReference = Annotated[str, Field(pattern=r"^BDC\d{12}$")]
"""The bureau's acceptance number on the citizen's 受理回执: 'BDC' + 12 digits."""


class CertificateQuery(_Request):
    id_number: IdNumber = Field(repr=False)
    reference: CertificateReference


class CertificateRecord(_Response):
    reference: str
    certificate_number: str  # e.g. 渝(2026)渝中区不动产权第0012345号
    property_location: str  # district only
    status: Literal["ready", "not_ready", "collected", "mailing_requested"]
    office: str  # the registration office that holds the sealed envelope


class CertificateMailingRequest(_Request):
    id_number: IdNumber = Field(repr=False)
    reference: CertificateReference


class CertificateMailing(_Response):
    """The bureau agrees to release the envelope to the post clerk who shows `pickup_code`."""

    mailing_id: str
    reference: str
    certificate_number: str
    pickup_code: str  # 8 digits, printed for the post clerk
    office: str
    accepted_at: dt.datetime


# ---------------------------------------------------------------- card top-up (交通卡充值)

CardNumber = Annotated[str, Field(pattern=r"^[0-9]{16,20}$")]
Hex8 = Annotated[str, Field(pattern=r"^[0-9A-F]{8}$")]


def topup_reference(card_number: str) -> str:
    """The payment order's reference for a top-up of this card: a pseudonym, so the payment
    provider never sees the card number, yet the issuer can find a paid order whose load
    never started (the citizen left between paying and the card write)."""
    return "topup-" + hashlib.sha256(f"transit-card:{card_number}".encode()).hexdigest()[:24]


class LoadAuthorisationRequest(_Request):
    """INITIALIZE FOR LOAD's answer, sent to the card issuer for MAC2 (PBOC e-purse load, JR/T 0025)."""

    card_number: CardNumber
    payment_order_id: str = Field(min_length=4, max_length=64)
    amount_fen: PositiveFen
    balance_fen: Fen  # before the load
    online_counter: int = Field(ge=0, le=0xFFFF)
    key_version: int = Field(ge=0, le=255)
    random: Hex8
    mac1: Hex8
    terminal_id: str = Field(pattern=r"^[0-9A-F]{12}$")
    when: str = Field(pattern=r"^\d{14}$")  # YYYYMMDDhhmmss, part of MAC2


class LoadAuthorisation(_Response):
    load_id: str
    card_number: str
    amount_fen: Fen
    online_counter: int
    mac2: str
    when: str


class LoadConfirmation(_Request):
    """The card's TAC after CREDIT FOR LOAD (or from GET TRANSACTION PROVE after an interrupted write)."""

    tac: Hex8


class LoadRecord(_Response):
    load_id: str
    card_number: str
    payment_order_id: str
    amount_fen: Fen
    online_counter: int | None  # None while only paid (no INITIALIZE FOR LOAD answered yet)
    status: Literal["paid", "authorised", "completed"]
    completed_at: dt.datetime | None = None


class PendingLoads(_Response):
    """Loads paid and authorised for a card but never confirmed with its TAC (a torn write, a
    citizen who left): the next kiosk the card is placed on finishes them."""

    loads: list[LoadRecord]


# ---------------------------------------------------------------- government-service documents (政务服务件)


class DocumentSubmissionRequest(_Request):
    """A matter's application papers, announced before the PDF is uploaded; the result is mailed
    back on the waybill whose reference is the submission id."""

    applicant_id_number: IdNumber = Field(repr=False)
    matter: str = Field(pattern=r"^[a-z_]{3,40}$")
    pages: int = Field(ge=1, le=50)
    pdf_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    pdf_bytes: int = Field(ge=1, le=50_000_000)


class DocumentUpload(_Response):
    submission_id: str
    pdf_sha256: str
    pdf_bytes: int
    received_at: dt.datetime


class DocumentSubmission(_Response):
    submission_id: str
    matter: str
    department: str
    pages: int
    envelope_barcode: str  # Code 128 content printed on the cover sheet
    accepted_at: dt.datetime
