"""`FaceVerifier`s that compare the live face with the card holder for real.

- `IdentityServiceVerifier`: CTID-style. The kiosk computes the live face's template and
  sends it with the ID number and name to the back office's identity service, which holds
  the portrait and answers a score. The kiosk never sees the portrait; the template is
  sent once and kept nowhere.
- `PortraitVerifier`: the portrait comes from a `PortraitSource` on the kiosk (the card's
  own WLT photo through the vendor decoder) and is compared here.
Both run the engine in a worker thread; the frame is not kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flows.services.identity import IdentityVerifyRequest


class IdentityServiceVerifier:
    needs_network = True  # offline (docs/offline.md) the face check offers staff only

    def __init__(self, service: Any) -> None:
        self.service = service  # has `verify_identity` (HttpBackOffice)

    async def verify(self, card: Any, frame: Any) -> float:
        from peripherals.face.engine import get_engine
        from peripherals.face.verify import template

        engine = await asyncio.to_thread(get_engine)
        live = await asyncio.to_thread(template, frame, engine)
        request = IdentityVerifyRequest(id_number=card.id_number, name=card.name, template=[float(x) for x in live],
                                        method=engine.name)
        del live
        verdict = await self.service.verify_identity(request)
        return float(verdict.score)


class PortraitVerifier:
    def __init__(self, source: Any) -> None:
        self.source = source  # a peripherals.face.portrait.PortraitSource

    async def verify(self, card: Any, frame: Any) -> float:
        from peripherals.face.verify import verify

        def compare() -> float:
            portrait = self.source.portrait(card)
            try:
                return verify(portrait, frame).score
            finally:
                del portrait

        return await asyncio.to_thread(compare)
