"""HTTP client for the back office (the API in docs/backoffice.md), implementing every
service interface over one `httpx.AsyncClient`.

Why it looks like this:
- Each attempt has a timeout; connect errors, timeouts, dropped connections and 5xx are
  retried with exponential backoff and jitter ("equal jitter": half the capped delay
  plus a random half — AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
  4xx is never retried: the same request would be refused again.
- A retry resends the very same body with the same `Idempotency-Key` header, so a
  submission whose answer was lost (dropped connection, timeout after the server
  committed) is recognised by the server and answered from its record, not redone
  (draft-ietf-httpapi-idempotency-key-header).
- Logs carry method, path, attempt and error class only — never bodies, so never ID
  numbers, names, phones or addresses; paths hold only server-made ids.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from flows.services.errors import (
    ServiceError,
    ServiceProtocolError,
    ServiceRejected,
    ServiceTimeout,
    ServiceUnavailable,
)
from flows.services.identity import IdentityServiceMixin
from flows.services.http_hall import HallServicesMixin
from flows.services.http_hall import _seg as _segment
from flows.services.models import (
    ErrorBody,
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

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

IDEMPOTENCY_HEADER = "Idempotency-Key"
_RETRYABLE_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class HttpBackOffice(HallServicesMixin, IdentityServiceMixin):
    """All back-office services over HTTP. Use as `async with HttpBackOffice(url) as bo:`.

    `timeout` bounds each attempt (read/write/pool), `connect_timeout` the TCP connect;
    `retries` is the number of extra attempts after the first; the n-th retry waits
    about `backoff_initial * 2**(n-1)` seconds, capped at `backoff_max`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        retries: int = 3,
        backoff_initial: float = 0.2,
        backoff_max: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "kiosk-controller"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> "HttpBackOffice":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ health

    async def health(self) -> Health:
        return await self._call("GET", "/v1/health", Health, service="backoffice")

    # ------------------------------------------------------------ traffic

    async def lookup_licence(self, query: LicenceQuery) -> LicenceRecord:
        return await self._call("POST", "/v1/traffic/licence/query", LicenceRecord, body=query, service="traffic")

    async def renew_licence(self, request: LicenceRenewalRequest, *, idempotency_key: str) -> LicenceApplication:
        return await self._call(
            "POST", "/v1/traffic/licence/renewals", LicenceApplication, body=request, key=idempotency_key, service="traffic"
        )

    async def reissue_licence(self, request: LicenceReissueRequest, *, idempotency_key: str) -> LicenceApplication:
        return await self._call(
            "POST", "/v1/traffic/licence/reissues", LicenceApplication, body=request, key=idempotency_key, service="traffic"
        )

    async def list_fines(self, query: FineQuery) -> FineList:
        return await self._call("POST", "/v1/traffic/fines/query", FineList, body=query, service="traffic")

    async def pay_fines(self, request: FinePaymentRequest, *, idempotency_key: str) -> FinePaymentReceipt:
        return await self._call(
            "POST", "/v1/traffic/fines/payments", FinePaymentReceipt, body=request, key=idempotency_key, service="traffic"
        )

    async def apply_inspection_exempt(
        self, request: InspectionExemptRequest, *, idempotency_key: str
    ) -> InspectionExemptLabel:
        return await self._call(
            "POST", "/v1/traffic/inspection-exempt", InspectionExemptLabel, body=request, key=idempotency_key,
            service="traffic",
        )

    # ------------------------------------------------------------ tax

    async def issue_invoice(self, request: InvoiceRequest, *, idempotency_key: str) -> Invoice:
        return await self._call("POST", "/v1/tax/invoices", Invoice, body=request, key=idempotency_key, service="tax")

    async def fetch_invoice_pdf(self, invoice_number: str) -> bytes:
        response = await self._send("GET", f"/v1/tax/invoices/{_segment(invoice_number)}/pdf", None, None, "tax")
        if response.headers.get("content-type", "").split(";")[0] != "application/pdf":
            raise ServiceProtocolError("expected a PDF", service="tax", status_code=response.status_code)
        return response.content

    # ------------------------------------------------------------ post

    async def create_waybill(self, request: WaybillRequest, *, idempotency_key: str) -> Waybill:
        return await self._call("POST", "/v1/post/waybills", Waybill, body=request, key=idempotency_key, service="post")

    async def track(self, tracking_number: str) -> TrackingInfo:
        return await self._call("GET", f"/v1/post/tracking/{_segment(tracking_number)}", TrackingInfo, service="post")

    # ------------------------------------------------------------ payment

    async def create_order(self, request: PaymentOrderRequest, *, idempotency_key: str) -> PaymentOrder:
        return await self._call(
            "POST", "/v1/payments/orders", PaymentOrder, body=request, key=idempotency_key, service="payment"
        )

    async def get_order(self, order_id: str) -> PaymentOrder:
        return await self._call("GET", f"/v1/payments/orders/{_segment(order_id)}", PaymentOrder, service="payment")

    async def cancel_order(self, order_id: str, *, idempotency_key: str) -> PaymentOrder:
        return await self._call(
            "POST", f"/v1/payments/orders/{_segment(order_id)}/cancel", PaymentOrder, key=idempotency_key,
            service="payment",
        )

    # ------------------------------------------------------------ plumbing

    async def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        body: BaseModel | None = None,
        key: str | None = None,
        service: str,
    ) -> M:
        payload = body.model_dump(mode="json") if body is not None else None
        response = await self._send(method, path, payload, key, service)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            # Only locations, never the values (they may be personal data).
            where = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()[:5])
            raise ServiceProtocolError(
                f"unexpected answer shape at {where}", service=service, status_code=response.status_code
            ) from None

    async def _send(
        self, method: str, path: str, payload: dict[str, Any] | None, key: str | None, service: str,
        content: bytes | None = None, content_type: str = "",
    ) -> httpx.Response:
        """One logical request: up to 1 + `retries` attempts with the same body and key
        (a JSON `payload`, or raw `content` of `content_type`)."""
        headers = {IDEMPOTENCY_HEADER: key} if key is not None else {}
        if content is not None:
            headers["Content-Type"] = content_type or "application/octet-stream"
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                if content is not None:
                    response = await self._http.request(method, path, content=content, headers=headers)
                else:
                    response = await self._http.request(method, path, json=payload, headers=headers)
            except _RETRYABLE_TRANSPORT_ERRORS as exc:
                log.info("%s %s attempt %d/%d failed: %s", method, path, attempt, attempts, type(exc).__name__)
                if last:
                    raise _transport_failure(exc, service) from None
            except httpx.HTTPError as exc:  # bad URL, unsupported scheme: retrying cannot help
                raise ServiceUnavailable(f"request failed: {type(exc).__name__}", service=service) from None
            else:
                if response.status_code < 400:
                    log.debug("%s %s -> %d (attempt %d)", method, path, response.status_code, attempt)
                    return response
                if response.status_code < 500:
                    raise _rejection(response, service)
                log.info("%s %s attempt %d/%d answered %d", method, path, attempt, attempts, response.status_code)
                if last:
                    raise ServiceUnavailable(
                        f"back office answered {response.status_code} after {attempts} attempts",
                        service=service,
                        status_code=response.status_code,
                    )
            await asyncio.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        capped = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
        return capped / 2 + self._rng.uniform(0, capped / 2)


def _transport_failure(exc: Exception, service: str) -> ServiceError:
    if isinstance(exc, httpx.TimeoutException):
        return ServiceTimeout(f"no answer in time ({type(exc).__name__})", service=service)
    return ServiceUnavailable(f"cannot reach the back office ({type(exc).__name__})", service=service)


def _rejection(response: httpx.Response, service: str) -> ServiceRejected:
    try:
        error = ErrorBody.model_validate(response.json()["error"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return ServiceRejected(
            f"refused with HTTP {response.status_code}", code=f"http_{response.status_code}",
            service=service, status_code=response.status_code,
        )
    return ServiceRejected(
        error.message or None, code=error.code, field=error.field, service=service, status_code=response.status_code
    )
