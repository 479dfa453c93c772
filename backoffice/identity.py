"""The reference identity-verification service (CTID-style) for the simulated ID cards.

POST /v1/identity/verify {id_number, name, template, method} → {match, score, threshold,
method, reference}. The service holds each simulated card holder's portrait (real photos
in backoffice/portraits/, SOURCES.md there), compares the kiosk's template of the live face
with the portrait's, and answers the verdict only: the portrait never leaves. It keeps no
template and logs nothing but the reference. Refusals: 404 unknown_identity (no such
card holder), 422 identity_mismatch (name and number do not belong together),
422 template_method (a template from another engine cannot be compared).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from backoffice.http import Rejection, json_response
from flows.services.identity import IdentityVerdict, IdentityVerifyRequest

PORTRAITS = Path(__file__).resolve().parent / "portraits"
_lock = threading.Lock()


@lru_cache(maxsize=1)
def holders() -> dict[str, tuple[str, str]]:
    """id_number → (name, portrait file stem) for every simulated card."""
    from peripherals.idcard.sim import CARD_KINDS, scripted_card

    out = {}
    for kind in CARD_KINDS:
        if kind == "none":
            continue
        card = scripted_card(kind)
        stem = "foreign" if kind.startswith("foreign") else kind
        out[card.id_number] = (card.name, stem)
    return out


@lru_cache(maxsize=16)
def _portrait_template(stem: str):
    import cv2

    from peripherals.face.verify import template

    image = cv2.imread(str(PORTRAITS / f"{stem}.jpg"))
    if image is None:
        raise Rejection(404, "unknown_identity", "no portrait on record for this card holder")
    return template(image)


def _verify(body: IdentityVerifyRequest) -> IdentityVerdict:
    import numpy as np

    from peripherals.face.engine import get_engine
    from peripherals.face.verify import compare_templates

    holder = holders().get(body.id_number)
    if holder is None:
        raise Rejection(404, "unknown_identity", "no card holder with this number", "id_number")
    name, stem = holder
    if body.name.strip() != name:
        raise Rejection(422, "identity_mismatch", "the name does not belong to this number", "name")
    engine = get_engine()
    if body.method != engine.name:
        raise Rejection(422, "template_method", f"templates of {engine.name} only", "method")
    with _lock:
        reference_template = _portrait_template(stem)
    verdict = compare_templates(reference_template, np.asarray(body.template, np.float32), engine=engine)
    return IdentityVerdict(match=verdict.match, score=verdict.score, threshold=verdict.threshold, method=verdict.method,
                           reference="idv-" + secrets.token_hex(8))


def register(api: FastAPI, bo: Any) -> None:
    @api.post("/v1/identity/verify")
    async def identity_verify(body: IdentityVerifyRequest) -> Response:
        return json_response(await asyncio.to_thread(_verify, body))
