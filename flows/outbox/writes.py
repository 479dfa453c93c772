"""The back-office writes the outbox can carry: kind → (request model, service method, service).

A kind is the name of the `flows.services` interface method that performs the write, so
the forwarder sends a queued write exactly as a flow would have (`HttpBackOffice`, the same
body, the same Idempotency-Key). A new service adds its write here with one line (`register`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from flows.services.models import (
    InspectionExemptRequest,
    InvoiceRequest,
    LicenceReissueRequest,
    LicenceRenewalRequest,
    PaymentOrderRequest,
    WaybillRequest,
)


@dataclass(frozen=True)
class WriteKind:
    kind: str  # the service method's name
    service: str  # traffic | tax | post | payment (FlowDeps attribute)
    request: type[BaseModel]


WRITES: dict[str, WriteKind] = {}


class UnknownWrite(KeyError):
    """No write of this kind is registered (a row from a newer kiosk version?)."""


def register(kind: str, service: str, request: type[BaseModel]) -> WriteKind:
    WRITES[kind] = spec = WriteKind(kind, service, request)
    return spec


def spec_for(kind: str) -> WriteKind:
    try:
        return WRITES[kind]
    except KeyError:
        raise UnknownWrite(kind) from None


register("renew_licence", "traffic", LicenceRenewalRequest)
register("reissue_licence", "traffic", LicenceReissueRequest)
register("apply_inspection_exempt", "traffic", InspectionExemptRequest)
register("issue_invoice", "tax", InvoiceRequest)
register("create_waybill", "post", WaybillRequest)
register("create_order", "payment", PaymentOrderRequest)
