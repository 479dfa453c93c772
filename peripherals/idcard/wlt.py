"""Decoding the card photo: a pluggable WLT decoder.

The SAM returns the photo as 1024 bytes of vendor-encrypted "WLT" data; turning it into
a 102x126 BMP needs the vendor's library (libwltu.so `GetBmp` in raymond1860/idr, or a
reader SDK's `pGetBmp`). No open-source decoder exists and we do not ship the vendor
library, so the default decoder raises `WltDecoderUnavailable`. A deployment that has a
licensed library wraps it in a `WltDecoder` and plugs it in, either in code with
`set_wlt_decoder()` or by setting `KIOSK_IDCARD_WLT_DECODER=package.module:factory`
(a zero-argument callable, or a class, returning a `WltDecoder`).
"""

from __future__ import annotations

import importlib
import os
from typing import Protocol, runtime_checkable

from peripherals.idcard.errors import WltDecodeFailed, WltDecoderUnavailable

ENV_VAR = "KIOSK_IDCARD_WLT_DECODER"


@runtime_checkable
class WltDecoder(Protocol):
    def decode(self, wlt: bytes) -> bytes:
        """1024 bytes of WLT in, a complete BMP file (starting with b"BM") out."""
        ...


class UnavailableWltDecoder:
    """The default: says plainly that the vendor library is not part of this software."""

    def decode(self, wlt: bytes) -> bytes:
        raise WltDecoderUnavailable(
            "no WLT photo decoder installed: the vendor library (e.g. libwltu.so) is not shipped; "
            f"plug one in with peripherals.idcard.wlt.set_wlt_decoder() or {ENV_VAR}=module:factory",
            kind="idcard",
        )


_decoder: WltDecoder | None = None


def set_wlt_decoder(decoder: WltDecoder | None) -> None:
    """Install `decoder` for the whole process (None: back to the setting / default)."""
    global _decoder
    if decoder is not None and not isinstance(decoder, WltDecoder):
        raise TypeError("a WLT decoder needs a decode(bytes) -> bytes method")
    _decoder = decoder


def get_wlt_decoder() -> WltDecoder:
    """The installed decoder, else the one named by $KIOSK_IDCARD_WLT_DECODER, else the default."""
    if _decoder is not None:
        return _decoder
    spec = os.environ.get(ENV_VAR, "").strip()
    if not spec:
        return UnavailableWltDecoder()
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr or "decoder")
        is_instance = not isinstance(factory, type) and isinstance(factory, WltDecoder)
        decoder = factory if is_instance else factory()
    except Exception as exc:  # a broken plug-in must not take the reader down
        raise WltDecoderUnavailable(f"{ENV_VAR}={spec!r} could not be loaded: {type(exc).__name__}", kind="idcard") from None
    if not isinstance(decoder, WltDecoder):
        raise WltDecoderUnavailable(f"{ENV_VAR}={spec!r} is not a WltDecoder", kind="idcard")
    return decoder


def decode_photo(wlt: bytes) -> bytes:
    """The card photo as a BMP file. WltDecoderUnavailable without a decoder; WltDecodeFailed on bad output."""
    try:
        bmp = get_wlt_decoder().decode(bytes(wlt))
    except (WltDecoderUnavailable, WltDecodeFailed):
        raise
    except Exception as exc:
        raise WltDecodeFailed(f"WLT decoder failed: {type(exc).__name__}", kind="idcard") from None
    if not isinstance(bmp, (bytes, bytearray)) or not bytes(bmp[:2]) == b"BM":
        raise WltDecodeFailed("WLT decoder did not return a BMP", kind="idcard")
    return bytes(bmp)
