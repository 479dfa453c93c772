"""Update artifacts: signed bundles the server accepts, stores and serves to kiosks.

An upload is written to a temporary file in the artifact directory while it arrives,
then checked exactly as a kiosk would check it (`fleet.bundle.archive.verify_bundle`: signature
by one of the server's trusted keys, manifest, size and sha256 of every file). Only then
is it renamed into place and recorded with its sha256, size and version. A tampered,
unsigned or foreign-signed bundle is refused with the installer's reason code, so an
operator learns at upload what every kiosk would otherwise refuse one by one.

Kiosks download with HTTP Range (resume); the API serves the file with Starlette's
`FileResponse`, which answers ``Range: bytes=N-`` with 206. Downloads need no login: a
kiosk has no operator account, and the bundle is signed and carries no secret (put the
kiosks' client certificates in front at the reverse proxy if the release must not be
public).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel
from sqlalchemy import select

from fleet.server import audit
from fleet.server.db import Database
from fleet.server.models import Artifact, Rollout, utcnow
from fleet.server.rollouts import RolloutStatus
from fleet.bundle.archive import verify_bundle
from fleet.bundle.keys import TrustedKeys
from fleet.bundle.manifest import sha256_file
from fleet.bundle.errors import UpdateError
from fleet.bundle.durable import fsync_dir

DOWNLOAD_PATH = "api/artifacts/{artifact_id}/download"
_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


class ArtifactRefused(Exception):
    """The upload is not a bundle the server (or any kiosk) would accept."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ArtifactConflict(Exception):
    """Already there (same bytes or same version), or still used by an active rollout."""


class ArtifactView(BaseModel):
    artifact_id: str
    package: str
    version: str
    sha256: str
    size: int
    filename: str
    key_id: str
    min_from_version: str | None
    uploaded_by: str
    uploaded_at: dt.datetime
    deleted_at: dt.datetime | None = None
    download_path: str  # relative to the server's base URL


def artifact_view(row: Artifact) -> ArtifactView:
    return ArtifactView(artifact_id=row.artifact_id, package=row.package, version=row.version, sha256=row.sha256,
                        size=row.size, filename=row.filename, key_id=row.key_id, min_from_version=row.min_from_version,
                        uploaded_by=row.uploaded_by, uploaded_at=row.uploaded_at, deleted_at=row.deleted_at,
                        download_path="/" + DOWNLOAD_PATH.format(artifact_id=row.artifact_id))


class ArtifactStore:
    """Bundles on disk under `directory`, rows in `artifacts`."""

    def __init__(self, db: Database, directory: Path, trusted_keys: list[str], *,
                 max_bytes: int = 2 << 30) -> None:
        self.db = db
        self.directory = Path(directory)
        self.trusted_texts = list(trusted_keys)
        self.trusted = TrustedKeys.from_texts(self.trusted_texts)  # ValueError on a bad key: refuse to start
        self.max_bytes = max_bytes

    # ------------------------------------------------------------ upload
    def receive(self, chunks: Iterable[bytes]) -> Path:
        """Write an upload to a temporary file beside the store (same file system, so the
        final rename is atomic); the caller passes it to `accept` or removes it."""
        with self._upload_file() as upload:
            for chunk in chunks:
                upload.write(chunk)
        return upload.path

    async def receive_stream(self, chunks) -> Path:
        """`receive` for an async byte stream (the API's request body)."""
        with self._upload_file() as upload:
            async for chunk in chunks:
                upload.write(chunk)
        return upload.path

    @contextmanager
    def _upload_file(self) -> Iterator[_Upload]:
        """A temporary file in the store's directory, fsynced when the block ends; removed
        if anything is raised (too large, a broken stream, a cancelled request)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield _Upload(Path(tmp), fh, self.max_bytes)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def accept(self, tmp: Path, *, operator: str, source: str = "") -> Artifact:
        """Verify the uploaded file, store and record it; audited either way."""
        try:
            return self._accept(tmp, operator, source)
        except (ArtifactRefused, ArtifactConflict) as exc:
            with self.db.session() as session:
                audit.record(session, operator, "artifact_upload", outcome="failed", source=source,
                             detail={"error": str(exc)[:300]})
            raise
        finally:
            tmp.unlink(missing_ok=True)

    def _accept(self, tmp: Path, operator: str, source: str) -> Artifact:
        if len(self.trusted) == 0:
            raise ArtifactRefused("not_configured", "the server has no trusted update keys (--trusted-key)")
        try:
            verified = verify_bundle(tmp, self.trusted)
        except UpdateError as exc:
            raise ArtifactRefused(exc.reason.value, exc.detail) from None
        size, digest = sha256_file(tmp)
        manifest = verified.manifest
        artifact_id = digest[:16]
        filename = _SAFE.sub("_", f"{manifest.package}-{manifest.version}-{artifact_id}.bundle")
        with self.db.session() as session:
            same = session.scalar(select(Artifact).where(Artifact.sha256 == digest))
            if same is not None and same.deleted_at is None:
                raise ArtifactConflict(f"this bundle is already artifact {same.artifact_id}")
            clash = session.scalar(select(Artifact).where(
                Artifact.package == manifest.package, Artifact.version == manifest.version, Artifact.deleted_at.is_(None)))
            if clash is not None:
                raise ArtifactConflict(f"{manifest.package} {manifest.version} is already artifact {clash.artifact_id} "
                                       "(a different bundle); delete it first")
            final = self.directory / filename
            os.replace(tmp, final)
            fsync_dir(self.directory)
            row = same or Artifact(artifact_id=artifact_id, sha256=digest)
            row.package, row.version, row.size, row.filename = manifest.package, manifest.version, size, filename
            row.key_id, row.min_from_version = verified.key_id, manifest.min_from_version
            row.manifest = manifest.model_dump(mode="json")
            row.uploaded_by, row.uploaded_at, row.deleted_at, row.deleted_by = operator, utcnow(), None, None
            if same is None:
                session.add(row)
            audit.record(session, operator, "artifact_upload", artifact_id, source=source,
                         detail={"package": row.package, "version": row.version, "sha256": digest, "size": size,
                                 "key_id": row.key_id})
        return row

    # ------------------------------------------------------------ read, delete
    def get(self, artifact_id: str) -> Artifact | None:
        with self.db.session() as session:
            return session.get(Artifact, artifact_id)

    def path(self, row: Artifact) -> Path:
        return self.directory / row.filename

    def list(self, include_deleted: bool = False) -> list[Artifact]:
        query = select(Artifact).order_by(Artifact.uploaded_at.desc())
        if not include_deleted:
            query = query.where(Artifact.deleted_at.is_(None))
        with self.db.session() as session:
            return list(session.scalars(query))

    def delete(self, artifact_id: str, *, operator: str, source: str = "") -> None:
        """Remove the file; keep the row (finished rollouts name it). Refused while an
        active rollout uses it."""
        with self.db.session() as session:
            row = session.get(Artifact, artifact_id, with_for_update=True)
            if row is None or row.deleted_at is not None:
                raise LookupError(artifact_id)
            active = [r.rollout_id for r in session.scalars(select(Rollout).where(Rollout.artifact_id == artifact_id))
                      if RolloutStatus(r.status).active]
            if active:
                audit.record(session, operator, "artifact_delete", artifact_id, outcome="failed", source=source,
                             detail={"error": f"used by active rollout(s) {', '.join(active)}"})
                raise ArtifactConflict(f"artifact {artifact_id} is used by active rollout(s) {', '.join(active)}")
            row.deleted_at, row.deleted_by = utcnow(), operator
            audit.record(session, operator, "artifact_delete", artifact_id, source=source,
                         detail={"package": row.package, "version": row.version})
            path = self.path(row)
        path.unlink(missing_ok=True)

    def url(self, row: Artifact, base_url: str | None) -> str:
        """Where kiosks download it: absolute with the server's public base URL, else
        relative (the agent joins it with its ``update_base_url``)."""
        path = DOWNLOAD_PATH.format(artifact_id=row.artifact_id)
        return f"{base_url.rstrip('/')}/{path}" if base_url else path


class _Upload:
    """The file an upload is written to; refuses to grow past `max_bytes`."""

    def __init__(self, path: Path, fh: BinaryIO, max_bytes: int) -> None:
        self.path = path
        self._fh = fh
        self._max_bytes = max_bytes
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise ArtifactRefused("too_large", f"bundle larger than {self._max_bytes} bytes")
        self._fh.write(chunk)
