"""Resumable download over real HTTP on loopback (a thread server with Range support)."""

from __future__ import annotations

import os

import pytest

from fleet.updates.download import Downloader, DownloadOptions
from fleet.bundle.manifest import sha256_file
from fleet.updates.models import ReasonCode, UpdateError
from fleet.updates.testing import RangeServer

SIZE = 600_000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("srv")
    (folder / "b.bundle").write_bytes(os.urandom(SIZE))
    size, digest = sha256_file(folder / "b.bundle")
    with RangeServer(folder) as server:
        yield server, folder, size, digest


@pytest.fixture
def server(served):
    server, folder, size, digest = served
    server.requests.clear()
    server.cut_once.clear()
    return server


def fetcher(attempts: int = 3) -> Downloader:
    return Downloader(DownloadOptions(attempts=attempts, backoff_s=0.0, timeout_s=5, chunk_bytes=16 * 1024))


def test_whole_download_with_progress(served, server, tmp_path):
    _, folder, size, digest = served
    seen = []
    dest = fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "b", size=size, sha256=digest, progress=lambda h, t: seen.append((h, t)))
    assert dest.read_bytes() == (folder / "b.bundle").read_bytes()
    assert seen[-1] == (size, size) and all(t == size for _, t in seen)
    assert [h for h, _ in seen] == sorted(h for h, _ in seen)
    assert server.requests == [("b.bundle", None, 200)]
    assert not (tmp_path / "b.part").exists() and not (tmp_path / "b.part.json").exists()


def test_interrupted_download_resumes_from_the_byte_where_it_stopped(served, server, tmp_path):
    _, folder, size, digest = served
    cut = 250_001
    server.cut_once["b.bundle"] = cut
    with pytest.raises(UpdateError) as info:  # one attempt only: the "agent" gives up here
        fetcher(attempts=1).fetch(f"{server.url}/b.bundle", tmp_path / "b", size=size, sha256=digest)
    assert info.value.reason is ReasonCode.DOWNLOAD_FAILED and f"byte {cut}" in info.value.detail
    assert (tmp_path / "b.part").stat().st_size == cut  # persisted with its expectations
    assert '"sha256"' in (tmp_path / "b.part.json").read_text()

    dest = fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "b", size=size, sha256=digest)  # a new process
    assert sha256_file(dest) == (size, digest)
    assert server.requests == [("b.bundle", None, 200), ("b.bundle", f"bytes={cut}-", 206)]


def test_dropped_connection_is_resumed_within_one_call(served, server, tmp_path):
    _, _, size, digest = served
    server.cut_once["b.bundle"] = 100_000
    sent_before = server.bytes_sent
    fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "b", size=size, sha256=digest)
    assert [r[1] for r in server.requests] == [None, "bytes=100000-"]
    assert server.bytes_sent - sent_before == size  # nothing fetched twice


def test_partial_of_another_bundle_is_discarded(served, server, tmp_path):
    _, _, size, digest = served
    (tmp_path / "b.part").write_bytes(b"x" * 1000)
    (tmp_path / "b.part.json").write_text('{"url": "http://elsewhere/old.bundle", "size": 5, "sha256": null}')
    fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "b", size=size, sha256=digest)
    assert server.requests == [("b.bundle", None, 200)]


def test_corrupt_partial_is_detected_and_fetched_again(served, server, tmp_path):
    _, folder, size, digest = served
    fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "ok", size=size, sha256=digest)
    good = (folder / "b.bundle").read_bytes()
    (tmp_path / "b.part").write_bytes(b"\0" * 1000 + good[1000:300_000])  # garbled by a power cut
    (tmp_path / "b.part.json").write_text(
        '{"url": "%s/b.bundle", "size": %d, "sha256": "%s"}' % (server.url, size, digest)
    )
    server.requests.clear()
    dest = fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "b", size=size, sha256=digest)
    assert dest.read_bytes() == good
    assert [r[1] for r in server.requests] == ["bytes=300000-", None]


def test_wrong_sha_is_download_corrupt_and_missing_file_is_download_failed(served, server, tmp_path):
    _, _, size, _ = served
    with pytest.raises(UpdateError) as info:
        fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "b", size=size, sha256="0" * 64)
    assert info.value.reason is ReasonCode.DOWNLOAD_CORRUPT
    with pytest.raises(UpdateError) as info:
        fetcher().fetch(f"{server.url}/b.bundle", tmp_path / "c", size=size + 1)
    assert info.value.reason is ReasonCode.DOWNLOAD_CORRUPT
    with pytest.raises(UpdateError) as info:
        fetcher().fetch(f"{server.url}/nope.bundle", tmp_path / "n")
    assert info.value.reason is ReasonCode.DOWNLOAD_FAILED and "404" in info.value.detail
    with pytest.raises(UpdateError):
        fetcher().fetch("file:///etc/passwd", tmp_path / "p")


def test_unreachable_server_keeps_the_partial(tmp_path, served):
    _, _, size, digest = served
    (tmp_path / "b.part").write_bytes(b"x" * 10)
    (tmp_path / "b.part.json").write_text('{"url": "http://127.0.0.1:9/b.bundle", "size": %d, "sha256": "%s"}' % (size, digest))
    with pytest.raises(UpdateError) as info:
        fetcher(attempts=2).fetch("http://127.0.0.1:9/b.bundle", tmp_path / "b", size=size, sha256=digest)
    assert info.value.reason is ReasonCode.DOWNLOAD_FAILED and "byte 10" in info.value.detail
    assert (tmp_path / "b.part").stat().st_size == 10


def test_a_full_disk_stops_the_download_at_once_and_gives_the_space_back(served, server, tmp_path):
    from ..flows.tiny_disk import tiny_disk

    _, folder, size, digest = served
    with tiny_disk(tmp_path / "disk", size="256k") as disk:  # smaller than the 600 kB bundle
        with pytest.raises(UpdateError) as info:
            fetcher(attempts=3).fetch(f"{server.url}/b.bundle", disk / "b", size=size, sha256=digest)
        assert info.value.reason is ReasonCode.DISK_FULL and "no space left" in info.value.detail
        assert len(server.requests) == 1  # not retried against a full disk
        assert not (disk / "b.part").exists()
        st = os.statvfs(disk)
        assert st.f_bavail * st.f_frsize > 200_000  # the kiosk has its space back
