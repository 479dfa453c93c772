"""The kiosk camera through OpenCV's VideoCapture, with deadlines and typed errors.

`port` is anything `cv2.VideoCapture` opens, plus the simulator:

    "0"                          a device index (V4L2 on Linux)
    "/dev/video0", "/dev/kiosk/camera"   a device node (a udev symlink is fine)
    "clip.avi", "frames/f_%03d.png"      a video file or an image-sequence pattern (played in a loop)
    "rtsp://host/stream", "http://..."   a network stream (FFmpeg, with open/read timeouts)
    "simcam://NAME?source=face&fps=15"   `peripherals.camera.sim.CameraSimulator`

Failures map to the shared error types: a camera that cannot be opened, or opens but
gives no frame while warming up, is `DeviceNotPresent`; a read that gives no frame
within `read_timeout` (retrying all the while) is `DeviceTimeout`; when reads keep
failing — the device node has gone, or `lost_after` reads in a row timed out — the
camera has been unplugged: the capture is released and `DeviceNotPresent` raised, and
the next `open()` starts afresh. A cv2 exception never escapes.

One backend read can block longer than `read_timeout` (V4L2 waits inside select());
network streams get FFmpeg's own open/read timeouts, and the supervisor's worker thread
bounds the rest. Frames are personal data: nothing here logs or keeps them.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from peripherals.base import Camera, DeviceInfo, DeviceKind, SelfTestResult
from peripherals.errors import DeviceNotPresent, DeviceTimeout

log = logging.getLogger(__name__)

SIM_SCHEME = "simcam"
NETWORK_SCHEMES = {"rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt"}
BLACK_MEAN = 8.0  # mean grey level below which a frame counts as black (lens cap, dead sensor)
UNIFORM_STD = 1.0  # grey-level standard deviation below which a frame is one flat colour
SELF_TEST_FRAMES = 3


class _Capture(Protocol):
    """What the driver needs of a capture: cv2.VideoCapture and the simulator's handle both fit."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def release(self) -> None: ...


class _SimCapture:
    """A VideoCapture-shaped handle on a named `CameraSimulator`."""

    def __init__(self, url: str) -> None:
        from peripherals.camera import sim  # imported only for simcam:// ports

        self.sim = sim.for_url(url)
        if not self.sim.plugged:
            raise DeviceNotPresent("the simulated camera is unplugged", kind=DeviceKind.CAMERA)

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self.sim.read()

    def release(self) -> None:
        pass  # the named simulator outlives the driver, so a replugged camera can be reopened

    def prompt(self, action: str | None) -> None:
        self.sim.prompt(action)

    def present(self) -> bool:
        return self.sim.plugged


def redact(port: str) -> str:
    """`port` without a password, for info() and logs (rtsp://user:secret@host → rtsp://user@host)."""
    parts = urlsplit(port)
    if parts.password is None:
        return port
    netloc = parts.netloc.rsplit("@", 1)[1]
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


class OpenCvCamera(Camera):
    """A USB/V4L2 camera, video file, stream or simulated camera read with OpenCV."""

    def __init__(
        self,
        port: str,
        *,
        width: int = 1280,
        height: int = 720,
        read_timeout: float = 2.0,
        warmup_frames: int = 2,
        lost_after: int = 3,
        retry_interval: float = 0.02,
    ) -> None:
        self.port = str(port)
        self.width = width
        self.height = height
        self.read_timeout = read_timeout
        self.warmup_frames = warmup_frames
        self.lost_after = lost_after  # timed-out reads in a row after which the camera counts as gone
        self.retry_interval = retry_interval
        self._capture: _Capture | None = None
        self._failed_reads = 0
        self._backend = ""
        self._frame_size: tuple[int, int] | None = None

    # -- Device -------------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        self._capture = self._open_capture()
        self._failed_reads = 0
        try:
            for _ in range(max(1, self.warmup_frames)):  # one frame proves it works; auto-exposure settles on the rest
                self.read_frame()
        except (DeviceTimeout, DeviceNotPresent) as exc:
            self.close()
            raise DeviceNotPresent(f"the camera opened but gave no picture ({exc})", kind=self.kind) from exc
        log.info("camera open: %s via %s, %s", redact(self.port), self._backend or "?", self._size_text())

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            try:
                capture.release()
            except Exception:  # noqa: BLE001 - releasing a vanished device may fail; it is gone either way
                log.debug("camera release failed", exc_info=True)

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            kind=self.kind,
            driver="opencv",
            model=" ".join(filter(None, [self._backend, self._size_text()])),
            firmware=f"OpenCV {cv2.__version__}",
            port=redact(self.port),
        )

    def self_test(self) -> SelfTestResult:
        """Grab a few frames and check they are real pictures: not black, not one flat colour, not frozen."""
        started = time.monotonic()
        if not self.is_open:
            self.open()
        frames: list[np.ndarray] = []
        problem = ""
        try:
            for _ in range(SELF_TEST_FRAMES):
                frames.append(self.read_frame())
        except DeviceTimeout as exc:
            problem = str(exc)
        grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
        uniform = [float(g.std()) < UNIFORM_STD for g in grays]
        # Frozen = the same detailed picture byte for byte; a live sensor always adds some
        # noise. Flat frames are identical anyway and already fail `not_uniform`.
        frozen = len(frames) >= 2 and not all(uniform) and all(np.array_equal(frames[0], f) for f in frames[1:])
        checks = {
            "frames": len(frames) == SELF_TEST_FRAMES,
            "not_black": bool(grays) and all(float(g.mean()) >= BLACK_MEAN for g in grays),
            "not_uniform": bool(grays) and not any(uniform),
            "not_frozen": len(frames) >= 2 and not frozen,
        }
        failed = [name for name, ok in checks.items() if not ok]
        detail = problem or ("all checks passed" if not failed else "failed: " + ", ".join(failed))
        return SelfTestResult(
            kind=self.kind,
            passed=not failed,
            checks=checks,
            detail=detail,
            duration_s=round(time.monotonic() - started, 3),
        )

    # -- Camera -------------------------------------------------------------------------
    def show_prompt(self, action: str | None) -> None:
        """The liveness prompt now on screen (None: none). A plain camera ignores it; a kiosk
        with a guide-light ring can light it; the simulator's citizen acts on it."""
        hook = getattr(self._capture, "prompt", None)
        if hook is not None:
            hook(action)

    def read_frame(self) -> np.ndarray:
        """The next BGR frame; retries until `read_timeout`, then DeviceTimeout (or DeviceNotPresent when gone)."""
        capture = self._capture
        if capture is None:
            raise DeviceNotPresent("the camera is not open", kind=self.kind)
        deadline = time.monotonic() + self.read_timeout
        while True:
            frame = self._read_once(capture)
            if frame is not None:
                self._failed_reads = 0
                self._frame_size = (frame.shape[1], frame.shape[0])
                return frame
            if not self._present(capture):
                self.close()
                raise DeviceNotPresent("the camera was disconnected", kind=self.kind)
            if time.monotonic() + self.retry_interval >= deadline:
                break
            time.sleep(self.retry_interval)
        self._failed_reads += 1
        if self._failed_reads >= self.lost_after:
            self.close()
            raise DeviceNotPresent(
                f"the camera gave no picture {self._failed_reads} times in a row", kind=self.kind
            )
        raise DeviceTimeout(f"no picture from the camera within {self.read_timeout:g} s", kind=self.kind)

    # -- internals ----------------------------------------------------------------------
    def _open_capture(self) -> _Capture:
        port = self.port
        if urlsplit(port).scheme == SIM_SCHEME:
            try:
                capture = _SimCapture(port)
            except DeviceNotPresent:
                raise
            except Exception as exc:  # bad option, missing file, scikit-image missing: say why
                raise DeviceNotPresent(f"cannot start the simulated camera: {exc}", kind=self.kind) from exc
            self._backend = "simcam"
            return capture
        source, api, params, live = self._cv2_source(port)
        try:
            capture = cv2.VideoCapture(source, api, params) if params else cv2.VideoCapture(source, api)
            opened = capture.isOpened()
        except Exception as exc:  # cv2.error or a bad argument
            raise DeviceNotPresent(f"cannot open camera {redact(port)}", kind=self.kind) from exc
        if not opened:
            capture.release()
            raise DeviceNotPresent(f"no camera at {redact(port)}", kind=self.kind)
        if live:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued seconds ago
        try:
            self._backend = capture.getBackendName()
        except Exception:  # noqa: BLE001 - only used in info()
            self._backend = ""
        return capture

    def _cv2_source(self, port: str) -> tuple[int | str, int, list[int], bool]:
        """(source, apiPreference, params, is a live device) for cv2.VideoCapture, or DeviceNotPresent."""
        if re.fullmatch(r"\d+", port.strip()):
            index = int(port)
            if os.path.isdir("/dev") and os.name == "posix" and not os.path.exists(f"/dev/video{index}"):
                raise DeviceNotPresent(f"no camera with index {index}", kind=DeviceKind.CAMERA)
            return index, cv2.CAP_ANY, [], True
        scheme = urlsplit(port).scheme.lower()
        if scheme in NETWORK_SCHEMES:
            ms = int(self.read_timeout * 1000)
            return port, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms], False
        if "%" in port:  # image sequence: frames/f_%03d.png
            if not os.path.isdir(os.path.dirname(port) or "."):
                raise DeviceNotPresent(f"no folder for image sequence {port}", kind=DeviceKind.CAMERA)
            return port, cv2.CAP_ANY, [], False
        if not os.path.exists(port):
            raise DeviceNotPresent(f"no camera at {port}", kind=DeviceKind.CAMERA)
        return port, cv2.CAP_ANY, [], port.startswith("/dev/")

    def _read_once(self, capture: _Capture) -> np.ndarray | None:
        try:
            ok, frame = capture.read()
        except Exception:  # noqa: BLE001 - cv2.error from a vanishing device is just "no frame"
            return None
        if not ok or frame is None or frame.size == 0:
            if isinstance(capture, cv2.VideoCapture) and self._is_file():
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)  # a file plays in a loop, like a camera that never stops
                try:
                    ok, frame = capture.read()
                except Exception:  # noqa: BLE001
                    return None
                if not ok or frame is None or frame.size == 0:
                    return None
            else:
                return None
        return _as_bgr(frame)

    def _present(self, capture: _Capture) -> bool:
        """Whether the device still exists (False for an unplugged USB camera or simulator)."""
        if isinstance(capture, _SimCapture):
            return capture.present()
        port = self.port.strip()
        if re.fullmatch(r"\d+", port) and os.path.isdir("/dev"):
            return os.path.exists(f"/dev/video{int(port)}")
        if port.startswith("/dev/"):
            return os.path.exists(port)
        if self._is_file():
            return os.path.isdir(os.path.dirname(port) or ".") if "%" in port else os.path.exists(port)
        return True

    def _is_file(self) -> bool:
        port = self.port
        return not port.startswith("/dev/") and not urlsplit(port).scheme and not re.fullmatch(r"\d+", port.strip())

    def _size_text(self) -> str:
        return f"{self._frame_size[0]}x{self._frame_size[1]}" if self._frame_size else ""


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    """Frames as the interface promises them: H×W×3 uint8 BGR."""
    if frame.dtype != np.uint8:
        frame = cv2.convertScaleAbs(frame)
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame
