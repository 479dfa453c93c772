"""Helpers for tests and tools that drive the reference back office: a sample citizen,
request builders, and small synchronous calls to the inspection and fault endpoints."""

from __future__ import annotations

import datetime as dt

import httpx

from flows.services.models import MailingAddress, MedicalResults
from flows.services.validation import id_check_char

# The worked example of GB 11643-1999 (Beijing Chaoyang, born 1949-12-31, check 'X').
CITIZEN_ID = "11010519491231002X"
CITIZEN_NAME = "张秀兰"
CITIZEN_PHONE = "13912345678"
CITIZEN_STREET = "解放碑民族路188号3单元"


def make_id(first17: str) -> str:
    """A valid ID number from its first 17 digits."""
    return first17 + id_check_char(first17)


def medical(**changes) -> MedicalResults:
    """Results that pass Order 162 Art. 14 for every class; override fields to fail."""
    values = dict(
        vision_left=5.0, vision_right=5.1, colour_vision="normal", hearing_left=True, hearing_right=True,
        height_cm=168, photo_ref="photo-0001-abcdef", examined_at=dt.datetime.now(dt.timezone.utc),
    )
    values.update(changes)
    return MedicalResults(**values)


def address(**changes) -> MailingAddress:
    values = dict(
        recipient_name=CITIZEN_NAME, phone=CITIZEN_PHONE, province="重庆市", city="重庆市", district="渝中区",
        street=CITIZEN_STREET,
    )
    values.update(changes)
    return MailingAddress(**values)


def submissions(url: str, kind: str | None = None) -> list[dict]:
    """GET /v1/submissions (optionally one kind)."""
    response = httpx.get(f"{url}/v1/submissions", params={"kind": kind} if kind else None, timeout=5)
    response.raise_for_status()
    return response.json()


def set_faults(url: str, *rules: dict, seed: int | None = None) -> dict:
    """Replace the server's fault rules (no rules = clear)."""
    response = httpx.post(f"{url}/v1/_faults", json={"rules": list(rules), "seed": seed}, timeout=5)
    response.raise_for_status()
    return response.json()


def pay(url: str, order_id: str) -> dict:
    """The simulated citizen scans the QR code and pays."""
    response = httpx.post(f"{url}/v1/_test/payments/{order_id}/pay", timeout=5)
    response.raise_for_status()
    return response.json()


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real transport, recording what was sent: (method, path, Idempotency-Key)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sent: list[tuple[str, str, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, request.headers.get("Idempotency-Key")))
        return await super().handle_async_request(request)
