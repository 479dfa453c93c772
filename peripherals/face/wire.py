"""Frames between the kiosk and its face process: a JSON header and raw arrays on a pipe.

One message = 4-byte big-endian header length, the UTF-8 JSON header, then the bytes of
each array the header lists as [shape, dtype] in order. No pickle: the face process only
ever builds arrays of the listed shape and dtype from the bytes it reads. Images pass
through and are never written anywhere.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

import numpy as np

MAX_HEADER = 1 << 20
MAX_ARRAY = 64 << 20  # one 4K RGB frame is 24 MiB; anything larger is a broken stream


class WireError(Exception):
    """The other side went away or sent something that is not a message."""


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        chunk = stream.readinto(view[got:])
        if not chunk:
            raise WireError("the face process's pipe closed")
        got += chunk
    return bytes(buf)


def send(stream: BinaryIO, header: dict[str, Any], arrays: list[np.ndarray] = ()) -> None:
    arrays = [np.ascontiguousarray(a) for a in arrays]
    head = dict(header, arrays=[[list(a.shape), a.dtype.str] for a in arrays])
    raw = json.dumps(head, separators=(",", ":")).encode()
    stream.write(struct.pack(">I", len(raw)) + raw)
    for a in arrays:
        stream.write(memoryview(a).cast("B"))
    stream.flush()


def receive(stream: BinaryIO) -> tuple[dict[str, Any], list[np.ndarray]]:
    (size,) = struct.unpack(">I", _read_exact(stream, 4))
    if size > MAX_HEADER:
        raise WireError(f"header of {size} bytes")
    try:
        header = json.loads(_read_exact(stream, size))
        specs = header.pop("arrays", [])
        arrays = []
        for shape, dtype in specs:
            dt = np.dtype(dtype)
            if dt.kind not in "uif":
                raise WireError(f"array dtype {dtype}")
            count = int(np.prod(shape)) if shape else 1
            if count * dt.itemsize > MAX_ARRAY:
                raise WireError(f"array of {count * dt.itemsize} bytes")
            arrays.append(np.frombuffer(_read_exact(stream, count * dt.itemsize), dtype=dt).reshape(shape))
    except (ValueError, TypeError, KeyError) as exc:
        raise WireError(f"not a message: {exc}") from None
    return header, arrays
