"""Routes of the vehicle licence (行驶证, traffic police) and the property-certificate mailing
(不动产权证书, planning and natural-resources bureau) — docs/backoffice.md.

`register(api, bo)` adds them to the FastAPI app; `bo` is the `BackOfficeApp` (its `submit`
gives the Idempotency-Key semantics, its `db` the SQLite store). Stored: the mailing request
per certificate reference (reference, mailing id, pickup code, office) — not the ID number.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from backoffice import hall_seed, numbers, seed
from backoffice.http import Rejection, json_response, now
from flows.services import validation as v
from flows.services.hall_models import (
    CertificateMailing,
    CertificateMailingRequest,
    CertificateQuery,
    CertificateRecord,
    VehicleLicenceApplication,
    VehicleLicenceRequest,
    VehicleQuery,
    VehicleRecord,
)

VEHICLE_LICENCE_FEE_FEN = 1_000  # 机动车行驶证工本费 10 yuan
SCHEMA = """
CREATE TABLE IF NOT EXISTS certificate_mailings (
    reference TEXT PRIMARY KEY,
    mailing_id TEXT NOT NULL UNIQUE,
    pickup_code TEXT NOT NULL,
    office TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""
_UNUSABLE = {"seized": "vehicle_seized", "scrapped": "vehicle_scrapped", "stolen": "vehicle_stolen"}


def owned_vehicle(query: VehicleQuery | VehicleLicenceRequest, today: dt.date) -> hall_seed.SeededVehicle:
    """The vehicle, if the plate is registered to this owner (the seed's plate for the ID)."""
    if seed.plate_for(query.owner_id_number) != query.plate:
        raise Rejection(403, "not_vehicle_owner", "this vehicle is not registered to this ID number", "plate")
    return hall_seed.vehicle_for(query.plate, today)


def certificate(query: CertificateQuery | CertificateMailingRequest, conn: sqlite3.Connection) -> CertificateRecord:
    cert = hall_seed.certificate_for(query.id_number, query.reference)
    status = cert.status
    row = conn.execute("SELECT 1 FROM certificate_mailings WHERE reference = ?", (query.reference,)).fetchone()
    if row is not None:
        status = "mailing_requested"
    return CertificateRecord(reference=cert.reference, certificate_number=cert.certificate_number,
                             property_location=cert.district, status=status,  # type: ignore[arg-type]
                             office=hall_seed.registration_office(cert.district))


def register(api: FastAPI, bo: Any) -> None:
    db = bo.db
    db.add_schema(SCHEMA)
    key_header = Header(default=None, alias="Idempotency-Key")

    # ------------------------------------------------------------ vehicle licence

    @api.post("/v1/traffic/vehicles/query")
    async def vehicle_query(query: VehicleQuery) -> Response:
        car = owned_vehicle(query, now().date())
        return json_response(VehicleRecord(plate=car.plate, vehicle_type=car.vehicle_type, brand=car.brand,
                                           registration_date=car.registration_date, status=car.status,  # type: ignore[arg-type]
                                           owner=v.mask_id_number(query.owner_id_number)))

    @api.post("/v1/traffic/vehicle-licence/applications", status_code=201)
    async def vehicle_licence(body: VehicleLicenceRequest, request: Request, key: str | None = key_header) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            car = owned_vehicle(body, at.date())
            if car.status in _UNUSABLE:
                raise Rejection(409, _UNUSABLE[car.status], f"the vehicle is {car.status}", "plate")
            if any(not f.paid for f in bo.fines(conn, body.plate, at.date())):
                raise Rejection(409, "unpaid_fines", "traffic fines on this vehicle must be settled first", "plate")
            app_id = numbers.daily_id("VL", at.date(), db.next_number("VL"))
            return app_id, VehicleLicenceApplication(application_id=app_id, plate=body.plate, reason=body.reason,
                                                     fee_fen=VEHICLE_LICENCE_FEE_FEN, accepted_at=at)

        return bo.submit(request, key, "vehicle_licence", body, effect)

    # ------------------------------------------------------------ property certificate

    @api.post("/v1/property/certificates/query")
    async def certificate_query(query: CertificateQuery) -> Response:
        with db.transaction() as conn:
            return json_response(certificate(query, conn))

    @api.post("/v1/property/certificates/mailings", status_code=201)
    async def certificate_mailing(body: CertificateMailingRequest, request: Request,
                                  key: str | None = key_header) -> Response:
        def effect(conn: sqlite3.Connection, at: dt.datetime) -> tuple[str, BaseModel]:
            record = certificate(body, conn)
            if record.status == "not_ready":
                raise Rejection(409, "certificate_not_ready", "the certificate is not ready yet", "reference")
            if record.status in ("collected", "mailing_requested"):
                raise Rejection(409, "certificate_already_released", "the certificate was collected or is being mailed",
                                "reference")
            mailing_id = numbers.daily_id("PM", at.date(), db.next_number("PM"))
            code = f"{secrets.randbelow(10 ** 8):08d}"
            conn.execute("INSERT INTO certificate_mailings (reference, mailing_id, pickup_code, office, created_at)"
                         " VALUES (?, ?, ?, ?, ?)", (body.reference, mailing_id, code, record.office, at.isoformat()))
            return mailing_id, CertificateMailing(mailing_id=mailing_id, reference=body.reference,
                                                  certificate_number=record.certificate_number, pickup_code=code,
                                                  office=record.office, accepted_at=at)

        return bo.submit(request, key, "certificate_mailing", body, effect)

    @api.get("/v1/property/mailings/{mailing_id}/pickup/{code}")
    async def pickup_check(mailing_id: str, code: str) -> Response:
        """The post clerk's check before the envelope is handed over: the code must match."""
        rows = db.query("SELECT pickup_code, reference, office FROM certificate_mailings WHERE mailing_id = ?", mailing_id)
        if not rows or not secrets.compare_digest(rows[0]["pickup_code"], code):
            raise Rejection(404, "pickup_code_not_found", "no mailing with this pickup code")
        return json_response([{"mailing_id": mailing_id, "reference": rows[0]["reference"], "office": rows[0]["office"]}])
