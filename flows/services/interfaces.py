"""What flows may ask of the back office — one Protocol per service.

Flows await these and never see HTTP: the kiosk passes `HttpBackOffice` (http_client.py),
tests may pass any object with the same methods. Every call that changes something takes
a keyword-only `idempotency_key`: the flow derives it from its session and step, and a
repeated call with the same key returns the first answer instead of submitting twice.
Reads (look-ups, status, tracking) take none and are safe to repeat.

Every method raises only `flows.services.errors` types: ServiceRejected (4xx, with a
reason `code`), ServiceUnavailable, ServiceTimeout (a ServiceUnavailable),
ServiceProtocolError.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

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
from flows.services.models import (
    FineList,
    FinePaymentReceipt,
    FinePaymentRequest,
    FineQuery,
    Health,
    InspectionExemptLabel,
    InspectionExemptRequest,
    Invoice,
    InvoiceRequest,
    LicenceApplication,
    LicenceQuery,
    LicenceRecord,
    LicenceReissueRequest,
    LicenceRenewalRequest,
    PaymentOrder,
    PaymentOrderRequest,
    TrackingInfo,
    Waybill,
    WaybillRequest,
)


@runtime_checkable
class TrafficService(Protocol):
    """Traffic management (车管所): licences, fines, inspection-exempt labels."""

    async def lookup_licence(self, query: LicenceQuery) -> LicenceRecord: ...

    async def renew_licence(self, request: LicenceRenewalRequest, *, idempotency_key: str) -> LicenceApplication: ...

    async def reissue_licence(self, request: LicenceReissueRequest, *, idempotency_key: str) -> LicenceApplication: ...

    async def list_fines(self, query: FineQuery) -> FineList: ...

    async def pay_fines(self, request: FinePaymentRequest, *, idempotency_key: str) -> FinePaymentReceipt: ...

    async def apply_inspection_exempt(
        self, request: InspectionExemptRequest, *, idempotency_key: str
    ) -> InspectionExemptLabel: ...


@runtime_checkable
class TaxService(Protocol):
    """Tax bureau: invoices issued on behalf of a natural person after a real-name check."""

    async def issue_invoice(self, request: InvoiceRequest, *, idempotency_key: str) -> Invoice: ...

    async def fetch_invoice_pdf(self, invoice_number: str) -> bytes: ...


@runtime_checkable
class PostService(Protocol):
    """China Post: waybills for mailing documents home, and tracking."""

    async def create_waybill(self, request: WaybillRequest, *, idempotency_key: str) -> Waybill: ...

    async def track(self, tracking_number: str) -> TrackingInfo: ...


@runtime_checkable
class PaymentService(Protocol):
    """QR-code payments: create an order, show its QR payload, poll until paid."""

    async def create_order(self, request: PaymentOrderRequest, *, idempotency_key: str) -> PaymentOrder: ...

    async def get_order(self, order_id: str) -> PaymentOrder: ...

    async def cancel_order(self, order_id: str, *, idempotency_key: str) -> PaymentOrder: ...


@runtime_checkable
class VehicleService(Protocol):
    """Traffic management's vehicle register: the vehicle licence (行驶证) replaced or reissued."""

    async def lookup_vehicle(self, query: VehicleQuery) -> VehicleRecord: ...

    async def apply_vehicle_licence(self, request: VehicleLicenceRequest, *,
                                    idempotency_key: str) -> VehicleLicenceApplication: ...


@runtime_checkable
class PropertyService(Protocol):
    """The planning and natural-resources bureau: property certificates (不动产权证书) released for mailing."""

    async def lookup_certificate(self, query: CertificateQuery) -> CertificateRecord: ...

    async def request_certificate_mailing(self, request: CertificateMailingRequest, *,
                                          idempotency_key: str) -> CertificateMailing: ...


@runtime_checkable
class CardIssuerService(Protocol):
    """The traffic-card issuer: MAC2 for a paid load, the TAC that proves it, loads left unconfirmed."""

    async def authorise_load(self, request: LoadAuthorisationRequest, *, idempotency_key: str) -> LoadAuthorisation: ...

    async def confirm_load(self, load_id: str, confirmation: LoadConfirmation, *, idempotency_key: str) -> LoadRecord: ...

    async def pending_loads(self, card_number: str) -> PendingLoads: ...

    async def get_load(self, load_id: str) -> LoadRecord: ...


@runtime_checkable
class DocumentService(Protocol):
    """Government-service matters: application papers received, the result mailed back."""

    async def submit_documents(self, request: DocumentSubmissionRequest, *,
                               idempotency_key: str) -> DocumentSubmission: ...

    async def upload_documents_pdf(self, submission_id: str, pdf: bytes, *, idempotency_key: str) -> DocumentUpload: ...


@runtime_checkable
class BackOffice(TrafficService, TaxService, PostService, PaymentService, Protocol):
    """All four services behind one connection, plus a health probe."""

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...
