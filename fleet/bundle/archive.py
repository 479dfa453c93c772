"""Update bundles: build, sign, verify.

A bundle is one uncompressed tar file (wheels are already compressed) holding, in order:

    manifest.json   the signed statement (version, created, min_from_version, files + sha256)
    manifest.sig    {"signatures": [{"alg": "ed25519", "key_id": ..., "sig": <base64>}]}
    wheels/*.whl    the package and every dependency, installed with
                    ``pip install --no-index --find-links wheels <requirement>``

One file downloads and resumes simply; the manifest comes first so that a verifier reads
and checks it before touching the (large) wheels. Verification refuses, in this order:
malformed → unsigned → untrusted key → bad signature → version policy → missing,
unexpected, wrong-size or wrong-hash files. Nothing in the bundle is trusted before the
signature checks out.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleet.bundle.keys import TrustedKeys, key_id
from fleet.bundle.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    WHEELS_DIR,
    FileEntry,
    Manifest,
    parse_version,
    sha256_file,
)
from fleet.bundle.errors import ReasonCode, UpdateError

_CHUNK = 1 << 20


class Signature(BaseModel):
    alg: str = "ed25519"
    key_id: str
    sig: str  # base64


class SignatureSet(BaseModel):
    signatures: list[Signature] = Field(default_factory=list)


class VerifiedBundle(BaseModel):
    """A bundle that passed every check; `staging` holds its extracted files if asked for."""

    manifest: Manifest
    manifest_sha256: str
    key_id: str
    staging: Path | None = None


# ---------------------------------------------------------------- build


def _wheel_name_version(path: Path) -> tuple[str, str]:
    parts = path.name[: -len(".whl")].split("-")
    return parts[0], parts[1]


def _normalise(name: str) -> str:
    return name.replace("_", "-").replace(".", "-").lower()


def build_bundle(
    wheels: list[Path],
    out: Path,
    *,
    package: str,
    version: str | None = None,
    min_from_version: str | None = None,
    requirement: str | None = None,
    created: datetime | None = None,
) -> Manifest:
    """Write an unsigned bundle of `wheels` to `out`; `version` defaults to the package's wheel."""
    wheels = sorted({Path(w) for w in wheels}, key=lambda p: p.name)
    if not wheels:
        raise ValueError("no wheels to bundle")
    own = [w for w in wheels if _normalise(_wheel_name_version(w)[0]) == _normalise(package)]
    if version is None:
        if len(own) != 1:
            raise ValueError(f"cannot tell the version: {len(own)} wheels of {package!r} given")
        version = _wheel_name_version(own[0])[1]
    parse_version(version)
    entries = []
    for wheel in wheels:
        size, digest = sha256_file(wheel)
        entries.append(FileEntry(path=f"{WHEELS_DIR}/{wheel.name}", size=size, sha256=digest))
    manifest = Manifest(
        package=package,
        version=version,
        created=created or datetime.now(timezone.utc).replace(microsecond=0),
        min_from_version=min_from_version,
        requirement=requirement or f"{package}=={version}",
        files=entries,
    )
    _write_tar(out, manifest.to_bytes(), None, {f"{WHEELS_DIR}/{w.name}": w for w in wheels})
    return manifest


def wheels_from_project(project: Path, dest: Path, *, with_deps: bool = True, pip_args: list[str] | None = None) -> list[Path]:
    """Build the project's wheel (and its dependencies' wheels) with ``pip wheel``."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), str(project)]
    if not with_deps:
        cmd.insert(4, "--no-deps")
    subprocess.run(cmd + list(pip_args or []), check=True)
    return sorted(dest.glob("*.whl"))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _write_tar(out: Path, manifest: bytes, signatures: bytes | None, files: dict[str, Path | tarfile.TarFile]) -> None:
    """Write atomically: a tmp file beside `out`, then rename."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, MANIFEST_NAME, manifest)
            if signatures is not None:
                _add_bytes(tar, SIGNATURE_NAME, signatures)
            for name, source in files.items():
                if isinstance(source, Path):
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = source.stat().st_size, 0o644, 0
                    with open(source, "rb") as fh:
                        tar.addfile(info, fh)
                else:  # copy a member of another tar without extracting it
                    member = source.getmember(name)
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = member.size, 0o644, 0
                    tar.addfile(info, source.extractfile(member))
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------- read


def _members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        if not member.isfile():
            raise UpdateError(ReasonCode.MALFORMED_BUNDLE, f"{member.name!r} is not a regular file")
        if member.name in members:
            raise UpdateError(ReasonCode.MALFORMED_BUNDLE, f"{member.name!r} appears twice")
        members[member.name] = member
    return members


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:")
    except (tarfile.TarError, OSError) as exc:
        raise UpdateError(ReasonCode.MALFORMED_BUNDLE, f"not a bundle: {exc}") from None


def read_manifest(path: Path) -> tuple[bytes, SignatureSet | None]:
    """The raw manifest bytes and the signatures (None when unsigned), unchecked."""
    with _open(path) as tar:
        members = _members(tar)
        if MANIFEST_NAME not in members:
            raise UpdateError(ReasonCode.MALFORMED_BUNDLE, "no manifest.json")
        raw = tar.extractfile(members[MANIFEST_NAME]).read()
        sigs = None
        if SIGNATURE_NAME in members:
            try:
                sigs = SignatureSet.model_validate_json(tar.extractfile(members[SIGNATURE_NAME]).read())
            except ValidationError as exc:
                raise UpdateError(ReasonCode.MALFORMED_BUNDLE, f"manifest.sig unreadable: {exc.errors()[0]['msg']}") from None
        return raw, sigs


def inspect_bundle(path: Path) -> Manifest:
    raw, _ = read_manifest(path)
    return _parse_manifest(raw)


def _parse_manifest(raw: bytes) -> Manifest:
    try:
        return Manifest.from_bytes(raw)
    except ValidationError as exc:
        raise UpdateError(ReasonCode.MALFORMED_BUNDLE, f"manifest invalid: {exc.errors()[0]['msg']}") from None


# ---------------------------------------------------------------- sign


def sign_bundle(path: Path, private_key: Ed25519PrivateKey, out: Path | None = None) -> Signature:
    """Add (or replace) this key's signature; checks every file hash first so a bad build is never signed."""
    raw, sigs = read_manifest(path)
    manifest = _parse_manifest(raw)
    _check_files(path, manifest, extract_to=None)
    signature = Signature(key_id=key_id(private_key.public_key()), sig=base64.b64encode(private_key.sign(raw)).decode())
    keep = [s for s in (sigs.signatures if sigs else []) if s.key_id != signature.key_id]
    sig_bytes = SignatureSet(signatures=keep + [signature]).model_dump_json().encode()
    with _open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.name not in (MANIFEST_NAME, SIGNATURE_NAME)]
        _write_tar(Path(out or path), raw, sig_bytes, {name: tar for name in names})
    return signature


# ---------------------------------------------------------------- verify


def check_version_policy(
    manifest: Manifest,
    *,
    current_version: str | None,
    allow_downgrade: bool = False,
    expected_version: str | None = None,
) -> None:
    """Refuse a bundle that is not what was asked for, older than what runs, or too new a jump."""
    new = manifest.parsed_version
    if expected_version is not None and new != parse_version(expected_version):
        raise UpdateError(ReasonCode.VERSION_MISMATCH, f"bundle is {manifest.version}, asked for {expected_version}")
    if current_version is None:
        return
    current = parse_version(current_version)
    if new < current and not allow_downgrade:
        raise UpdateError(ReasonCode.DOWNGRADE, f"{manifest.version} is older than the running {current_version}")
    if manifest.min_from_version and current < parse_version(manifest.min_from_version) and not allow_downgrade:
        raise UpdateError(
            ReasonCode.FROM_VERSION_TOO_OLD,
            f"{manifest.version} needs at least {manifest.min_from_version} running, this kiosk runs {current_version}",
        )


def _check_files(path: Path, manifest: Manifest, extract_to: Path | None) -> None:
    expected = {f.path: f for f in manifest.files}
    with _open(path) as tar:
        members = _members(tar)
        present = set(members) - {MANIFEST_NAME, SIGNATURE_NAME}
        for extra in sorted(present - set(expected)):
            raise UpdateError(ReasonCode.UNEXPECTED_FILE, f"{extra} is not in the manifest")
        for missing in sorted(set(expected) - present):
            raise UpdateError(ReasonCode.MISSING_FILE, f"{missing} is in the manifest but not in the bundle")
        for name, entry in expected.items():
            member = members[name]
            if member.size != entry.size:
                raise UpdateError(ReasonCode.SIZE_MISMATCH, f"{name}: {member.size} bytes, manifest says {entry.size}")
            digest = hashlib.sha256()
            source = tar.extractfile(member)
            target = None
            if extract_to is not None:
                dest = extract_to / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                target = open(dest, "wb")
            try:
                while block := source.read(_CHUNK):
                    digest.update(block)
                    if target is not None:
                        target.write(block)
            finally:
                if target is not None:
                    target.close()
            if digest.hexdigest() != entry.sha256:
                raise UpdateError(ReasonCode.HASH_MISMATCH, f"{name}: sha256 differs from the signed manifest")


def verify_bundle(
    path: Path,
    trusted: TrustedKeys,
    *,
    current_version: str | None = None,
    allow_downgrade: bool = False,
    expected_version: str | None = None,
    extract_to: Path | None = None,
) -> VerifiedBundle:
    """Check signature, version policy and every file; optionally extract the files while hashing.

    Raises `UpdateError` with the reason code of the first failed check. On failure the
    partly extracted `extract_to` directory is removed.
    """
    raw, sigs = read_manifest(path)
    if sigs is None or not sigs.signatures:
        raise UpdateError(ReasonCode.UNSIGNED, "the bundle carries no signature")
    known = [s for s in sigs.signatures if s.alg == "ed25519" and s.key_id in trusted]
    if not known:
        ids = ", ".join(s.key_id for s in sigs.signatures)
        raise UpdateError(ReasonCode.UNTRUSTED_KEY, f"signed by key(s) {ids}, none trusted here")
    good = None
    for sig in known:
        try:
            blob = base64.b64decode(sig.sig, validate=True)
        except ValueError:
            continue
        if trusted.verify(sig.key_id, blob, raw):
            good = sig
            break
    if good is None:
        raise UpdateError(ReasonCode.BAD_SIGNATURE, f"signature by trusted key {known[0].key_id} does not match the manifest")
    manifest = _parse_manifest(raw)
    check_version_policy(
        manifest, current_version=current_version, allow_downgrade=allow_downgrade, expected_version=expected_version
    )
    if extract_to is not None:
        shutil.rmtree(extract_to, ignore_errors=True)
        extract_to.mkdir(parents=True)
    try:
        _check_files(path, manifest, extract_to)
    except BaseException:
        if extract_to is not None:
            shutil.rmtree(extract_to, ignore_errors=True)
        raise
    if extract_to is not None:
        (extract_to / MANIFEST_NAME).write_bytes(raw)
    return VerifiedBundle(
        manifest=manifest, manifest_sha256=hashlib.sha256(raw).hexdigest(), key_id=good.key_id, staging=extract_to
    )
