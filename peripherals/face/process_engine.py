"""`ProcessEngine`: the `FaceEngine` interface, with dlib's models in a face process of their own.

Why: the models are ≈ 125 MiB, and the kiosk's UI process has a budget of 200 MiB
(docs/memory.md). `kiosk run` installs it with `set_engine()` (and KIOSK_FACE_ENGINE=process
makes `get_engine()` build it in any process), so `get_engine()` gives this engine; callers see the same interface and the same results as `DlibEngine`
(colour conversion and downscaling happen here with OpenCV, the models run there).

The process (`python -m peripherals.face.server`) starts on first use or on `start()`,
answers one request at a time over a pipe (peripherals/face/wire.py), and ends when its
stdin closes — on `close()`, or because the kiosk died. When it dies mid-request the call
raises `FaceEngineUnavailable` (a DeviceError: the flow shows its face-check failure
screen) and the next call starts a new one. Images go through the pipe only.
"""

from __future__ import annotations

import fcntl
import logging
import subprocess
import sys
import threading

import numpy as np

from peripherals.camera.models import FaceBox
from peripherals.face.interface import Face, box_tuple, faces_from, prepare, to_rgb
from peripherals.face.errors import FaceEngineUnavailable
from peripherals.face.wire import WireError, receive, send

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0  # loading the models takes ≈ 1 s on a quiet machine


PIPE_BYTES = 1 << 20  # a 640×480 frame (900 KiB) in one write: with the default 64 KiB pipe a frame took
# 15 hand-overs between the two processes, each waiting to be scheduled, and on a loaded machine the
# liveness check's per-frame round trips came too late


def _widen(stream) -> None:
    """Make the pipe hold a whole camera frame (Linux F_SETPIPE_SZ; up to /proc/sys/fs/pipe-max-size)."""
    try:
        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass  # a smaller limit: frames go in several pieces, still correct


class ProcessEngine:
    name = "dlib-resnet-v1"

    def __init__(self, python: str | None = None) -> None:
        self._python = python or sys.executable
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()  # one request in flight; also guards start/close

    # -- the process ------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> "ProcessEngine":
        """Start the face process now (idempotent), so the first face check does not wait for the models."""
        with self._lock:
            self._ensure()
        return self

    def _ensure(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._reap()
        proc = subprocess.Popen([self._python, "-m", "peripherals.face.server"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, close_fds=True)
        for stream in (proc.stdin, proc.stdout):
            _widen(stream)
        timer = threading.Timer(START_TIMEOUT_S, proc.kill)  # a process that never says ready is killed
        timer.daemon = True
        timer.start()
        try:
            header, _ = receive(proc.stdout)
        except WireError:
            header = {"error": f"the face process exited (status {proc.wait()})"}
        finally:
            timer.cancel()
        if not header.get("ready"):
            self._proc = proc
            self._reap()
            raise FaceEngineUnavailable(str(header.get("error", "the face process did not start")), kind="camera")
        self._proc = proc
        log.info("face process %d ready", proc.pid)
        return proc

    def _reap(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """End the face process (it exits when its stdin closes)."""
        with self._lock:
            self._reap()

    def _call(self, header: dict, arrays: list[np.ndarray]) -> tuple[dict, list[np.ndarray]]:
        with self._lock:
            proc = self._ensure()
            try:
                send(proc.stdin, header, arrays)
                answer, out = receive(proc.stdout)
            except (WireError, OSError, ValueError):
                self._reap()
                raise FaceEngineUnavailable("the face process stopped; it restarts on the next try", kind="camera") from None
        if "error" in answer:
            raise FaceEngineUnavailable(f"face process: {answer['error']}", kind="camera")
        return answer, out

    # -- FaceEngine -----------------------------------------------------------------
    def detect(self, image: np.ndarray, *, upsample: int = 0, max_width: int | None = None) -> list[Face]:
        rgb, small, scale = prepare(image, max_width)
        answer, points = self._call({"op": "detect", "scale": scale, "upsample": int(upsample)},
                                    [rgb] if small is None else [rgb, small])
        return faces_from(((tuple(f[:4]), float(f[4]), p.copy()) for f, p in zip(answer["faces"], points)))

    def landmarks(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        _, out = self._call({"op": "landmarks", "box": list(box_tuple(box))}, [to_rgb(image)])
        return out[0].copy()

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        _, out = self._call({"op": "embed", "box": list(box_tuple(face.box))}, [to_rgb(image)])
        return out[0].copy()

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
