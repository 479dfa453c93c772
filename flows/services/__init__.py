"""Back-office services the flows use: interfaces, messages, typed errors, HTTP client.

    from flows.services import HttpBackOffice, ServiceRejected
    async with HttpBackOffice("http://127.0.0.1:8700") as backoffice:
        record = await backoffice.lookup_licence(LicenceQuery(id_number=...))
"""

from flows.services.errors import (
    ServiceError,
    ServiceProtocolError,
    ServiceRejected,
    ServiceTimeout,
    ServiceUnavailable,
)
from flows.services.http_client import HttpBackOffice
from flows.services.interfaces import BackOffice, PaymentService, PostService, TaxService, TrafficService

__all__ = [
    "BackOffice",
    "HttpBackOffice",
    "PaymentService",
    "PostService",
    "ServiceError",
    "ServiceProtocolError",
    "ServiceRejected",
    "ServiceTimeout",
    "ServiceUnavailable",
    "TaxService",
    "TrafficService",
]
