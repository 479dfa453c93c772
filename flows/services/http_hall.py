"""HTTP calls of the hall's further services (vehicle licence, property certificate, card
top-up, document delivery), mixed into `HttpBackOffice` so they share its retries,
idempotency keys and typed errors."""

from __future__ import annotations

from typing import Any

from flows.services.errors import ServiceRejected
from flows.services.hall_models import (
    CertificateMailing,
    CertificateMailingRequest,
    CertificateQuery,
    CertificateRecord,
    DocumentSubmission,
    DocumentSubmissionRequest,
    DocumentUpload,
    LoadAuthorisation,
    LoadAuthorisationRequest,
    LoadConfirmation,
    LoadRecord,
    PendingLoads,
    VehicleLicenceApplication,
    VehicleLicenceRequest,
    VehicleQuery,
    VehicleRecord,
)


class HallServicesMixin:
    """Needs `_call(method, path, model, body=, key=, service=)` and `_send` from the client."""

    _call: Any
    _send: Any

    # -- traffic: vehicle licence -----------------------------------------------------------
    async def lookup_vehicle(self, query: VehicleQuery) -> VehicleRecord:
        return await self._call("POST", "/v1/traffic/vehicles/query", VehicleRecord, body=query, service="traffic")

    async def apply_vehicle_licence(self, request: VehicleLicenceRequest, *,
                                    idempotency_key: str) -> VehicleLicenceApplication:
        return await self._call("POST", "/v1/traffic/vehicle-licence/applications", VehicleLicenceApplication,
                                body=request, key=idempotency_key, service="traffic")

    # -- natural resources: property certificates ----------------------------------------
    async def lookup_certificate(self, query: CertificateQuery) -> CertificateRecord:
        return await self._call("POST", "/v1/property/certificates/query", CertificateRecord, body=query,
                                service="property")

    async def request_certificate_mailing(self, request: CertificateMailingRequest, *,
                                          idempotency_key: str) -> CertificateMailing:
        return await self._call("POST", "/v1/property/certificates/mailings", CertificateMailing, body=request,
                                key=idempotency_key, service="property")

    # -- card issuer: top-up -------------------------------------------------------------
    async def authorise_load(self, request: LoadAuthorisationRequest, *, idempotency_key: str) -> LoadAuthorisation:
        return await self._call("POST", "/v1/cards/loads", LoadAuthorisation, body=request, key=idempotency_key,
                                service="cards")

    async def confirm_load(self, load_id: str, confirmation: LoadConfirmation, *, idempotency_key: str) -> LoadRecord:
        return await self._call("POST", f"/v1/cards/loads/{_seg(load_id)}/confirm", LoadRecord, body=confirmation,
                                key=idempotency_key, service="cards")

    async def pending_loads(self, card_number: str) -> PendingLoads:
        return await self._call("GET", f"/v1/cards/{_seg(card_number)}/pending-loads", PendingLoads, service="cards")

    async def get_load(self, load_id: str) -> LoadRecord:
        return await self._call("GET", f"/v1/cards/loads/{_seg(load_id)}", LoadRecord, service="cards")

    # -- government-service documents ----------------------------------------------------
    async def submit_documents(self, request: DocumentSubmissionRequest, *,
                               idempotency_key: str) -> DocumentSubmission:
        return await self._call("POST", "/v1/documents/submissions", DocumentSubmission, body=request,
                                key=idempotency_key, service="documents")

    async def upload_documents_pdf(self, submission_id: str, pdf: bytes, *, idempotency_key: str) -> DocumentUpload:
        """The application papers as one PDF; the back office checks it against the submission's SHA-256."""
        response = await self._send("PUT", f"/v1/documents/submissions/{_seg(submission_id)}/pdf", None,
                                    idempotency_key, "documents", content=pdf, content_type="application/pdf")
        return DocumentUpload.model_validate_json(response.content)



def _seg(value: str) -> str:
    """Server-made ids only ever hold these characters; refuse anything that could
    change the path instead of quoting it."""
    if not value or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in value):
        raise ServiceRejected("malformed identifier", code="invalid_identifier")
    return value
