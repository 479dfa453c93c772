"""The Tanita data output format, as used by its digital height-and-weight stations.

Documented in the Tanita WB-3000 and WB-8000RW manuals ("Output data format", see
docs/devices/height.md): RS-232C (WB-8000RW: USB virtual COM) 9600 bit/s, 8 data bits,
no parity, 1 stop bit, no flow control. After each measurement the scale sends one
ASCII record, unprompted, comma-separated header/value pairs, ended by CR LF::

    {0,16,~0,1,~1,1,~2,1,MO,"WB-3000",Hm,170.5,Wk,65.3,MI,22.5,CS,3C\\r\\n

- ``{0,16,~0,1,~1,1,~2,1``: control data, fixed (for Tanita's expansion; ignored);
- ``MO``: model, quoted, 9 bytes fixed; ``Hm``: height in cm (``Hf``: ft-in in lb mode);
  ``Wk``: weight in kg (``Wp``: lb); ``MI``: BMI; a weight-mode record has no Hm/MI;
- ``CS``: checksum, 2 hex digits. The manuals give its size, not its algorithm; this
  codec uses the XOR of every byte from ``{`` up to and including the comma before
  ``CS`` (an assumption, marked [U] in the docs page: a real station whose checksum
  differs is read with ``verify_checksum=False``).

The manuals also warn that "the scale will output an irrelevant signal approximately 0.1
second after data output": `LineSplitter` drops anything that is not a record.
"""

from __future__ import annotations

import re

from peripherals.height.errors import ChecksumMismatch, HeightCodecError
from peripherals.height.models import StationRecord

CONTROL = b"{0,16,~0,1,~1,1,~2,1"
TERMINATOR = b"\r\n"
MAX_RECORD = 1024  # bytes; Tanita's body-composition records are ~600
LB_TO_KG = 0.45359237
_NUMBER = re.compile(r"^-?[0-9]{1,4}(\.[0-9]{1,2})?$")


def checksum(body: bytes) -> str:
    """Two upper-case hex digits: XOR of `body` (everything before ``CS,``)."""
    x = 0
    for b in body:
        x ^= b
    return f"{x:02X}"


def encode(record: StationRecord) -> bytes:
    """The bytes a station sends for `record` (kg/cm mode)."""
    model = record.model[:7]
    parts = [CONTROL.decode(), "MO", f'"{model}"']
    if record.height_cm is not None:
        parts += ["Hm", f"{record.height_cm:.1f}"]
    if record.weight_kg is not None:
        parts += ["Wk", f"{record.weight_kg:.1f}"]
    if record.bmi is not None:
        parts += ["MI", f"{record.bmi:.1f}"]
    body = (",".join(parts) + ",").encode("ascii")
    return body + b"CS," + checksum(body).encode("ascii") + TERMINATOR


def _number(header: str, value: str) -> float:
    if not _NUMBER.match(value):
        raise HeightCodecError(f"{header} is not a number")
    return float(value)


def decode(line: bytes, *, verify_checksum: bool = True) -> StationRecord:
    """One record (with or without its CR LF) → StationRecord; HeightCodecError on anything else."""
    line = line.rstrip(b"\r\n")
    if not line.startswith(CONTROL):
        raise HeightCodecError("not a Tanita data record (control header missing)")
    if len(line) > MAX_RECORD:
        raise HeightCodecError("record too long")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise HeightCodecError("record is not ASCII") from None
    cs_at = text.rfind(",CS,")
    if cs_at < 0:
        raise HeightCodecError("record has no checksum")
    body, cs = line[: cs_at + 1], text[cs_at + 4 :]
    if not re.fullmatch(r"[0-9A-Fa-f]{2}", cs):
        raise HeightCodecError("checksum is not two hex digits")
    if verify_checksum and cs.upper() != checksum(body):
        raise ChecksumMismatch("record checksum does not match")
    fields = text[len(CONTROL) + 1 : cs_at].split(",") if cs_at > len(CONTROL) else []
    if len(fields) % 2:
        raise HeightCodecError("header without a value")
    pairs = dict(zip(fields[0::2], fields[1::2]))
    if "Hf" in pairs:
        raise HeightCodecError("the station is in lb / ft-in mode; set it to kg / cm")
    model = pairs.get("MO", "").strip('"')
    height = _number("Hm", pairs["Hm"]) if "Hm" in pairs else None
    if "Wk" in pairs:
        weight: float | None = _number("Wk", pairs["Wk"])
    elif "Wp" in pairs:
        weight = round(_number("Wp", pairs["Wp"]) * LB_TO_KG, 1)
    else:
        weight = None
    bmi = _number("MI", pairs["MI"]) if "MI" in pairs else None
    if height is None and weight is None:
        raise HeightCodecError("record carries neither height nor weight")
    try:
        return StationRecord(model=model, height_cm=height, weight_kg=weight, bmi=bmi)
    except ValueError:
        raise HeightCodecError("negative value in record") from None


class LineSplitter:
    """Bytes in, whole records out; noise between records (the "irrelevant signal") dropped."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            start = self._buf.find(b"{")
            if start < 0:
                self._buf.clear()
                return out
            del self._buf[:start]
            end = self._buf.find(TERMINATOR)
            if end < 0:
                if len(self._buf) > MAX_RECORD:
                    self._buf.clear()  # a record that never ends: drop and resynchronise
                return out
            out.append(bytes(self._buf[: end + len(TERMINATOR)]))
            del self._buf[: end + len(TERMINATOR)]

    def clear(self) -> None:
        self._buf.clear()
