"""The journal's master key, kept outside the database.

Today the key is 32 random bytes in a file only the kiosk user can read (0600, in a
0700 directory). The documented next step (docs/flows.md) is to seal the key to the
kiosk's TPM 2.0 (e.g. `systemd-creds encrypt --with-key=tpm2` bound to PCR 7) so a disk
taken out of the kiosk cannot be read; `KeyStore` is the seam for that.

Purpose keys are derived with HKDF-SHA256, so the AEAD key of the journal and the HMAC
key of idempotency keys never coincide.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from flows.errors import KeystoreError

KEY_BYTES = 32


class KeyStore(Protocol):
    def master_key(self) -> bytes:
        """32 secret bytes; the same bytes for the life of the kiosk installation."""
        ...


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose ("journal-aead-v1", "idempotency-v1" ...)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kiosk-flows/" + purpose.encode()).derive(master)


class MemoryKeyStore:
    """A key that lives as long as the process (tests, runs without a state directory)."""

    def __init__(self, key: bytes | None = None):
        self._key = key if key is not None else secrets.token_bytes(KEY_BYTES)
        if len(self._key) != KEY_BYTES:
            raise KeystoreError("key must be 32 bytes")

    def master_key(self) -> bytes:
        return self._key


class FileKeyStore:
    """32 raw bytes in a 0600 file; created on first use, refused if others can read it."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._key: bytes | None = None

    def master_key(self) -> bytes:
        if self._key is None:
            self._key = self._load() if self.path.exists() else self._create()
        return self._key

    def _load(self) -> bytes:
        st = self.path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise KeystoreError("key path is not a regular file")
        if st.st_mode & 0o077:
            raise KeystoreError("key file is readable by group or others; expected mode 0600")
        key = self.path.read_bytes()
        if len(key) != KEY_BYTES:
            raise KeystoreError("key file has the wrong length")
        return key

    def _create(self) -> bytes:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return self._load()
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the new directory entry survives a power cut too
        finally:
            os.close(dfd)
        return key
