"""CRC-16/CCITT-FALSE, the one check both serial framings use (eye tester KVT/1, BP bridge).

Poly 0x1021, init 0xFFFF, MSB first, no reflection, no final XOR; check value 0x29B1 for
"123456789" (reveng CRC catalogue "CRC-16/IBM-3740", alias CRC-16/CCITT-FALSE).
`binascii.crc_hqx` is exactly this CRC with the initial value passed in, so we use it
instead of keeping a Python table per codec.
"""

from __future__ import annotations

import binascii


def crc16_ccitt_false(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of `data`; pass a previous result as `crc` to continue it."""
    return binascii.crc_hqx(data, crc)
