"""Resumable HTTP(S) download of a bundle.

Bytes go to ``<dest>.part``; beside it ``<dest>.part.json`` records what is being fetched
(url, expected size and sha256). After a broken connection, a killed agent or a power cut
the next call asks for ``Range: bytes=<size of .part>-`` and appends. A server that
ignores Range (200) or answers a different range restarts the file from byte 0. The
finished file must match the expected size and sha256 before it is renamed to `dest`, so
bytes lost or garbled in a power cut cost one fresh download, never a bad bundle.
"""

from __future__ import annotations

import errno
import http.client
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from fleet.bundle.manifest import sha256_file
from fleet.updates.models import ReasonCode, UpdateError
from fleet.bundle.durable import atomic_write_bytes

ProgressFn = Callable[[int, int | None], None]  # (bytes on disk, total or None)

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_FSYNC_EVERY = 4 << 20


class PartInfo(BaseModel):
    url: str
    size: int | None = None
    sha256: str | None = None


class DownloadOptions(BaseModel):
    timeout_s: float = 30.0
    attempts: int = 5  # connections tried in one call before giving up
    backoff_s: float = 1.0  # doubles per failed attempt
    chunk_bytes: int = 64 * 1024
    ca_file: str | None = None  # CA bundle for the fleet server's HTTPS certificate
    headers: dict[str, str] = {}  # e.g. an Authorization header for the artifact store


class Downloader:
    def __init__(self, options: DownloadOptions | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options or DownloadOptions()
        self._sleep = sleep
        context = ssl.create_default_context(cafile=self.options.ca_file) if self.options.ca_file else None
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    def fetch(
        self,
        url: str,
        dest: Path,
        *,
        size: int | None = None,
        sha256: str | None = None,
        progress: ProgressFn | None = None,
    ) -> Path:
        """Download `url` to `dest` (resuming a earlier partial download of the same thing)."""
        if not url.startswith(("http://", "https://")):
            raise UpdateError(ReasonCode.DOWNLOAD_FAILED, f"unsupported URL scheme in {url!r}")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part, info_path = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")
        wanted = PartInfo(url=url, size=size, sha256=sha256)
        if dest.exists() and _matches(dest, size, sha256):
            return dest
        if info_path.exists():
            try:
                known = PartInfo.model_validate_json(info_path.read_bytes())
            except ValueError:
                known = None
            if known != wanted:
                part.unlink(missing_ok=True)
        elif part.exists():
            part.unlink()
        atomic_write_bytes(info_path, wanted.model_dump_json().encode())

        failures, corrupt_restarts, last_error = 0, 0, ""
        while True:
            try:
                done = self._one_request(url, part, size, progress)
            except UpdateError:
                raise
            except (OSError, http.client.HTTPException, urllib.error.URLError) as exc:
                if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                    part.unlink(missing_ok=True)  # the journal and the outbox need the space more than a bundle
                    raise UpdateError(ReasonCode.DISK_FULL, f"no space left for the {size}-byte bundle; "
                                      "the partial download was removed, it starts again later") from None
                failures += 1
                last_error = _describe(exc)
                if isinstance(exc, urllib.error.HTTPError) and 400 <= exc.code < 500 and exc.code not in (408, 429):
                    raise UpdateError(ReasonCode.DOWNLOAD_FAILED, f"HTTP {exc.code} for the bundle") from None
                if failures >= self.options.attempts:
                    have = part.stat().st_size if part.exists() else 0
                    raise UpdateError(
                        ReasonCode.DOWNLOAD_FAILED,
                        f"{last_error}; stopped at byte {have}, the next attempt resumes there",
                    ) from None
                self._sleep(self.options.backoff_s * (2 ** (failures - 1)))
                continue
            if not done:  # connection ended early: resume
                failures += 1
                if failures >= self.options.attempts:
                    have = part.stat().st_size
                    raise UpdateError(
                        ReasonCode.DOWNLOAD_FAILED, f"connection closed early; stopped at byte {have}, the next attempt resumes there"
                    )
                self._sleep(self.options.backoff_s * (2 ** (failures - 1)))
                continue
            if _matches(part, size, sha256):
                os.replace(part, dest)
                info_path.unlink(missing_ok=True)
                return dest
            part.unlink(missing_ok=True)
            corrupt_restarts += 1
            if corrupt_restarts > 1:
                info_path.unlink(missing_ok=True)
                raise UpdateError(ReasonCode.DOWNLOAD_CORRUPT, "downloaded bundle does not match the requested size/sha256")

    def _one_request(self, url: str, part: Path, size: int | None, progress: ProgressFn | None) -> bool:
        """One HTTP exchange; True when the whole body arrived, False if it stopped early."""
        offset = part.stat().st_size if part.exists() else 0
        if size is not None and offset > size:
            part.unlink()
            offset = 0
        if size is not None and offset == size and size > 0:
            return True
        request = urllib.request.Request(url, headers=dict(self.options.headers))
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            response = self._opener.open(request, timeout=self.options.timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:  # asked past the end: start over, sha decides
                part.unlink(missing_ok=True)
                return False
            raise
        with response:
            announced: int | None = None
            if response.status == 206 and offset:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if not match or int(match.group(1)) != offset:
                    part.unlink(missing_ok=True)  # a range we did not ask for: restart
                    return False
                announced = None if match.group(3) == "*" else int(match.group(3))
                mode = "ab"
            else:  # 200: the whole file again
                offset, mode = 0, "wb"
                length = response.headers.get("Content-Length")
                announced = int(length) if length is not None else None
            if size is not None and announced is not None and announced != size:
                raise UpdateError(ReasonCode.DOWNLOAD_CORRUPT, f"server offers {announced} bytes, expected {size}")
            total = size if size is not None else announced
            have, since_sync = offset, 0
            with open(part, mode) as fh:
                if progress:
                    progress(have, total)
                while True:
                    try:
                        block = response.read(self.options.chunk_bytes)
                    except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError, ssl.SSLError):
                        block = b""
                    if not block:
                        break
                    if total is not None and have + len(block) > total:
                        raise UpdateError(ReasonCode.DOWNLOAD_CORRUPT, "server sent more bytes than announced")
                    fh.write(block)
                    have += len(block)
                    since_sync += len(block)
                    if since_sync >= _FSYNC_EVERY:
                        fh.flush()
                        os.fsync(fh.fileno())
                        since_sync = 0
                    if progress:
                        progress(have, total)
                fh.flush()
                os.fsync(fh.fileno())
            return total is None or have == total


def _matches(path: Path, size: int | None, sha256: str | None) -> bool:
    if size is not None and path.stat().st_size != size:
        return False
    if sha256 is not None:
        return sha256_file(path)[1] == sha256
    return True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot reach the server ({exc.reason})"
    return f"{type(exc).__name__}: {exc}"
