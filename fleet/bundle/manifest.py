"""The bundle manifest: what a release is made of, the thing the ed25519 signature covers.

The signature is over the exact bytes of ``manifest.json`` inside the bundle, so there is
no canonicalisation on the verifying side; `Manifest.to_bytes` writes sorted, compact
JSON only so that builds are reproducible.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
WHEELS_DIR = "wheels"

# Only flat wheel files under wheels/: nothing that could climb out of the staging dir.
_FILE_PATH = re.compile(r"^wheels/[A-Za-z0-9][A-Za-z0-9._+-]*\.whl$")


# The public PEP 440 versions a release may carry, in canonical spelling: 1.2.3, 2.0rc1,
# 2.0.post1, 2.1.dev3. No epochs or local labels. Written here rather than importing
# `packaging`, which is not a dependency of the kiosk app; the strict pattern also makes
# a version safe to use as the releases/<version> directory name.
_VERSION = re.compile(r"^(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$")
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}


@dataclass(frozen=True, order=True)
class Version:
    """Ordered by PEP 440 rules: 1.0.dev1 < 1.0a1 < 1.0b1 < 1.0rc1 < 1.0 == 1.0.0 < 1.0.post1."""

    key: tuple = field(repr=False)
    text: str = field(compare=False)

    def __str__(self) -> str:
        return self.text


def parse_version(text: str) -> Version:
    """PEP 440 public version (canonical spelling); raises ValueError on anything else."""
    match = _VERSION.match(text or "")
    if not match:
        raise ValueError(f"not a PEP 440 release version: {text!r}")
    release_text, pre_letter, pre_n, post, dev = match.groups()
    release = tuple(int(part) for part in release_text.split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    if pre_letter:
        pre = (_PRE_RANK[pre_letter], int(pre_n))
    elif dev is not None and post is None:
        pre = (-1, 0)  # 1.0.dev1 sorts before 1.0a1
    else:
        pre = (3, 0)  # a final release
    post_key = int(post) if post is not None else -1
    dev_key = int(dev) if dev is not None else float("inf")
    return Version(key=(release, pre, post_key, dev_key), text=text)


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

