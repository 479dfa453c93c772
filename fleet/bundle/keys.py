"""ed25519 signing keys: made offline by the operator, public halves trusted by kiosks.

Public key text form: ``ed25519:<base64 of the 32 raw bytes>`` (one line, fits in a
config file). Key id: the first 16 hex digits of sha256 over the raw public key; it is
only a hint for which trusted key to try, never a reason to trust.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "ed25519:"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def public_key_text(key: Ed25519PublicKey) -> str:
    return PREFIX + base64.b64encode(raw_public(key)).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """From ``ed25519:<b64>``, bare base64, a PEM block, or the path of a file holding one."""
    text = text.strip()
    if "-----BEGIN" in text:
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("PEM public key is not ed25519")
        return key
    body = text[len(PREFIX):] if text.startswith(PREFIX) else text
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        return Ed25519PublicKey.from_public_bytes(raw)
    if os.path.isfile(text):
        return parse_public_key(Path(text).read_text())
    raise ValueError("not an ed25519 public key (want 'ed25519:<base64>', PEM or a key file)")


def generate_keypair(directory: Path, name: str, overwrite: bool = False) -> tuple[Path, Path]:
    """Write ``<name>.key`` (PKCS#8 PEM, mode 0600) and ``<name>.pub`` (text form)."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / f"{name}.key", directory / f"{name}.pub"
    if not overwrite and (private_path.exists() or public_path.exists()):
        raise FileExistsError(f"{private_path} or {public_path} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(private_path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(private_path, 0o600)
    public_path.write_text(public_key_text(key.public_key()) + "\n")
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an ed25519 private key")
    return key


class TrustedKeys:
    """The public keys a kiosk accepts bundles from (from config), by key id."""

    def __init__(self, keys: list[Ed25519PublicKey]) -> None:
        self._by_id = {key_id(k): k for k in keys}

    @classmethod
    def from_texts(cls, texts: list[str]) -> "TrustedKeys":
        return cls([parse_public_key(t) for t in texts])

    def __contains__(self, kid: str) -> bool:
        return kid in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def verify(self, kid: str, signature: bytes, data: bytes) -> bool:
        key = self._by_id.get(kid)
        if key is None:
            return False
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True
