"""The identity-verification service (CTID-style, 公安部 网上身份认证): ID number + name + the
live face's template in, a verdict out. The kiosk never receives the card portrait.

Mixed into `HttpBackOffice` so it shares its retries and typed errors. The template is
personal data: excluded from repr, sent once over the back-office link, kept nowhere.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TEMPLATE_LEN = 128


class IdentityVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)

    id_number: str = Field(min_length=8, max_length=32, repr=False)  # resident, HMT or foreign PR number
    name: str = Field(min_length=1, max_length=120, repr=False)
    template: list[float] = Field(min_length=TEMPLATE_LEN, max_length=TEMPLATE_LEN, repr=False)
    method: str = Field(min_length=1, max_length=40)  # the engine that made the template


class IdentityVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, frozen=True)

    match: bool
    score: float = Field(ge=0.0, le=1.0)
    threshold: float
    method: str
    reference: str  # the service's record of this check (no image, no template)


class IdentityServiceMixin:
    """Needs `_call(method, path, model, body=, key=, service=)` from the client."""

    _call: Any

    async def verify_identity(self, request: IdentityVerifyRequest) -> IdentityVerdict:
        return await self._call("POST", "/v1/identity/verify", IdentityVerdict, body=request, service="identity")
