"""Flow names (as the headless runner and the UI name them) → flow classes.

Imported lazily by name so that listing the flows imports none of them.
"""

from __future__ import annotations

import importlib

from flows.engine import Flow

FLOWS: dict[str, str] = {
    "licence-renewal": "flows.renewal:LicenceRenewal",
    "licence-reissue": "flows.reissue:LicenceReissue",
    "traffic-fines": "flows.fines:TrafficFines",
    "inspection-label": "flows.inspection_label:InspectionLabel",
    "tax-invoice": "flows.tax_invoice:TaxInvoice",
    "vehicle-licence": "flows.vehicle_licence:VehicleLicence",
    "property-certificate": "flows.property_certificate:PropertyCertificate",
    "card-topup": "flows.card_topup:CardTopUp",
    "document-delivery": "flows.document_delivery:DocumentDelivery",
}


class UnknownFlow(KeyError):
    """No flow has this name."""


def flow_class(name: str) -> type[Flow]:
    try:
        module_name, cls_name = FLOWS[name].split(":")
    except KeyError:
        raise UnknownFlow(f"no flow {name!r}; known: {', '.join(sorted(FLOWS))}") from None
    cls = getattr(importlib.import_module(module_name), cls_name)
    assert cls.name == name, f"{FLOWS[name]} is named {cls.name!r}"
    return cls


def create(name: str) -> Flow:
    """A fresh flow instance (one per session: citizen flows keep per-process checks on it)."""
    return flow_class(name)()
