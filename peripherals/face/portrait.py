"""Where the card holder's reference portrait comes from: the `PortraitSource` seam.

The photo on a resident ID card is 1024 bytes of WLT, which only the reader vendor's
library decodes (peripherals/idcard/wlt.py, wlt_vendor.py). Two ways to a reference:
- `WltPortraitSource`: decode the card's own photo with the installed decoder (a
  `libwlt2bmp`-style library through ctypes, or any `WltDecoder` plug-in); compared on
  the kiosk (flows.face_verifiers.PortraitVerifier);
- no portrait at all on the kiosk: the back office's identity service compares the live
  face's template with the portrait it holds, CTID-style (flows.face_verifiers.
  IdentityServiceVerifier). That is the default, and the only way without a decoder.
The decoded portrait lives in memory for one comparison and is dropped.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from peripherals.face.errors import PortraitUnavailable


@runtime_checkable
class PortraitSource(Protocol):
    name: str

    def portrait(self, card: Any) -> np.ndarray:
        """The card holder's portrait (BGR); PortraitUnavailable when it cannot be had."""
        ...


class WltPortraitSource:
    """The photo on the card itself, through the installed WLT decoder."""

    name = "card-wlt"

    def portrait(self, card: Any) -> np.ndarray:
        from peripherals.idcard.errors import WltDecodeFailed, WltDecoderUnavailable
        from peripherals.idcard.wlt import decode_photo

        wlt = getattr(card, "photo_wlt", b"") or b""
        if not wlt:
            raise PortraitUnavailable("the card carries no photo", kind="idcard")
        try:
            bmp = decode_photo(wlt)
        except (WltDecoderUnavailable, WltDecodeFailed) as exc:
            raise PortraitUnavailable(str(exc), kind="idcard") from None
        image = cv2.imdecode(np.frombuffer(bmp, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise PortraitUnavailable("the decoded card photo is not a picture", kind="idcard")
        return image
