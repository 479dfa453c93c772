"""The bundle manifest: what a release is made of, the thing the ed25519 signature covers.

The signature is over the exact bytes of ``manifest.json`` inside the bundle, so there is
no canonicalisation on the verifying side; `Manifest.to_bytes` writes sorted, compact
JSON only so that builds are reproducible.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field, field_validator, model_validator

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
WHEELS_DIR = "wheels"

# Only flat wheel files under wheels/: nothing that could climb out of the staging dir.
_FILE_PATH = re.compile(r"^wheels/[A-Za-z0-9][A-Za-z0-9._+-]*\.whl$")


def parse_version(text: str) -> Version:
    """PEP 440 version; raises ValueError on nonsense."""
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise ValueError(f"not a PEP 440 version: {text!r}") from exc


def sha256_file(path: Path, chunk: int = 1 << 20) -> tuple[int, str]:
    """(size, hex sha256) of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


class FileEntry(BaseModel):
    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _safe_path(cls, value: str) -> str:
        if not _FILE_PATH.match(value) or ".." in value:
            raise ValueError(f"bundle file path not allowed: {value!r}")
        return value


class Manifest(BaseModel):
    """Release `version` of `package`; `requirement` is what pip installs from the wheels."""

    format: Literal[1] = 1
    package: str
    version: str
    created: datetime
    min_from_version: str | None = None  # kiosks running older than this must not take it
    requirement: str
    files: list[FileEntry]

    @field_validator("version", "min_from_version")
    @classmethod
    def _pep440(cls, value: str | None) -> str | None:
        if value is not None:
            parse_version(value)
        return value

    @model_validator(mode="after")
    def _unique_files(self) -> "Manifest":
        paths = [f.path for f in self.files]
        if len(paths) != len(set(paths)):
            raise ValueError("duplicate file in manifest")
        if not paths:
            raise ValueError("manifest lists no files")
        return self

    @property
    def parsed_version(self) -> Version:
        return parse_version(self.version)

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Manifest":
        return cls.model_validate_json(data)

    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

