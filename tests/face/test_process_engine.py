"""The face engine in a process of its own gives the same answers as in-process, and survives its process dying."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from peripherals.face.engine import DlibEngine, FaceEngine
from peripherals.face.errors import FaceEngineUnavailable
from peripherals.face.process_engine import ProcessEngine
from tests.face.conftest import photo


@pytest.fixture(scope="module")
def engines():
    remote = ProcessEngine().start()
    yield DlibEngine(), remote
    remote.close()


def test_same_faces_landmarks_and_descriptors(engines):
    local, remote = engines
    assert isinstance(remote, FaceEngine) and remote.name == local.name
    image = photo("jackie_chan", 1)
    a, b = local.detect(image), remote.detect(image)
    assert [f.box for f in a] == [f.box for f in b] and a
    assert np.array_equal(a[0].landmarks, b[0].landmarks) and a[0].confidence == pytest.approx(b[0].confidence)
    assert np.array_equal(local.landmarks(image, a[0].box), remote.landmarks(image, a[0].box))
    assert remote.distance(local.embed(image, a[0]), remote.embed(image, b[0])) == pytest.approx(0.0, abs=1e-6)
    grey = image.mean(axis=2).astype(np.uint8)  # grey and wide images are converted on this side
    assert [f.box for f in remote.detect(grey)] == [f.box for f in local.detect(grey)]
    assert remote.detect(np.zeros((120, 160, 3), np.uint8)) == []


def test_killed_process_is_an_error_then_restarts(engines):
    _, remote = engines
    image = photo("jackie_chan", 1)
    pid = remote.pid
    os.kill(pid, signal.SIGKILL)
    try:  # the kill may land before or during the next call: either the call fails typed, or it restarts
        remote.detect(image)
    except FaceEngineUnavailable:
        pass
    assert len(remote.detect(image)) == 1
    assert remote.pid not in (None, pid)


def test_process_ends_when_its_pipe_closes(engines):
    _, remote = engines
    remote.start()
    proc = remote._proc
    remote.close()
    assert proc.poll() is not None and remote.pid is None
