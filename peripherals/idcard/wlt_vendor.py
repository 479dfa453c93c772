"""A ctypes binding to a reader vendor's WLT decoder (`libwlt2bmp.so`-style), when installed.

Reader SDKs for Linux ship a shared library exporting
    int unpack(char *wlt, char *bmp, int save_file);
which turns the card's 1024-byte WLT photo into a 102×126 24-bit bitmap: 38 862 bytes, a
whole BMP file (54-byte header, rows padded to 308 bytes). It returns 1 on success. Some
builds fill only the 38 556 bytes of pixel data (BGR, bottom-up); both are accepted. The
library is not ours to ship; set KIOSK_WLT_LIBRARY to its path (or install it where the
loader finds `libwlt2bmp`), then plug this decoder in:
    KIOSK_IDCARD_WLT_DECODER=peripherals.idcard.wlt_vendor:LibWltDecoder
Absent library: `WltDecoderUnavailable`, and flows use the identity service instead.
Check the export name and buffer size against your vendor's header before relying on it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import threading

from peripherals.idcard.errors import WltDecodeFailed, WltDecoderUnavailable

ENV_LIBRARY = "KIOSK_WLT_LIBRARY"
WIDTH, HEIGHT = 102, 126
ROW = (WIDTH * 3 + 3) // 4 * 4  # 308
BMP_SIZE = 54 + ROW * HEIGHT  # 38 862
RAW_SIZE = WIDTH * 3 * HEIGHT  # 38 556
WLT_SIZE = 1024


def find_library() -> str | None:
    path = os.environ.get(ENV_LIBRARY, "").strip()
    if path:
        return path if os.path.isfile(path) else None
    return ctypes.util.find_library("wlt2bmp") or ctypes.util.find_library("wltrs")


def _bmp_from_raw(raw: bytes) -> bytes:
    """Wrap 102×126 bottom-up BGR pixel data in a BMP header."""
    rows = b"".join(raw[i * WIDTH * 3 : (i + 1) * WIDTH * 3] + b"\0" * (ROW - WIDTH * 3) for i in range(HEIGHT))
    header = b"BM" + struct.pack("<IHHI", BMP_SIZE, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, WIDTH, HEIGHT, 1, 24, 0, ROW * HEIGHT, 3780, 3780, 0, 0)
    return header + info + rows


class LibWltDecoder:
    """`WltDecoder` over the vendor library; one call at a time (vendor code is rarely re-entrant)."""

    def __init__(self, path: str | None = None) -> None:
        path = path or find_library()
        if not path:
            raise WltDecoderUnavailable(f"no vendor WLT library found (set {ENV_LIBRARY} to libwlt2bmp.so)", kind="idcard")
        try:
            self._lib = ctypes.CDLL(path)
            self._unpack = self._lib.unpack
        except (OSError, AttributeError) as exc:
            raise WltDecoderUnavailable(f"{path} cannot be used as a WLT decoder: {exc}", kind="idcard") from None
        self._unpack.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        self._unpack.restype = ctypes.c_int
        self._lock = threading.Lock()

    def decode(self, wlt: bytes) -> bytes:
        if len(wlt) != WLT_SIZE:
            raise WltDecodeFailed(f"a WLT photo is {WLT_SIZE} bytes, not {len(wlt)}", kind="idcard")
        out = ctypes.create_string_buffer(BMP_SIZE + 1024)  # vendor builds differ; leave room
        with self._lock:
            rc = self._unpack(bytes(wlt), out, 0)
        if rc != 1:
            raise WltDecodeFailed(f"the vendor decoder answered {rc}", kind="idcard")
        data = out.raw
        return data[:BMP_SIZE] if data[:2] == b"BM" else _bmp_from_raw(data[:RAW_SIZE])
