"""A camera made of image or video files, with faults, for tests and the virtual kiosk.

The camera is not a serial device, so this simulator does not use the byte-level
`peripherals.sim.base.Simulator`. It serves frames the way `cv2.VideoCapture.read()`
does — `(ok, frame)` — and the driver reads it through the `simcam://` port:

    simcam://NAME?source=face&fps=15&size=640x480&noise=1&faults=black:2

`source` is a builtin scene name (see `SCENES`), an image file, a directory or glob of
images, a comma-separated list of images, a video file, or a face sequence from a real
photo (`citizen:NAME`, `print:NAME`, `phone:NAME`, `replay:NAME`; see sim_faces). The instance is registered
under NAME (created on first use, options of later URLs ignored) so a test can inject
faults into, unplug and replug the very camera a driver is reading. Call `forget()`
between tests.

No threads: the frame index advances by one per read. With `fps` set a read waits for
the next frame time, like a real camera; without it reads return at once.

Faults (`CameraSimulator.inject` or the `faults=` option, `kind[:count]`):
  unplug  every read fails and opening fails until `replug()`
  stall   the next `count` reads fail, but the camera is still there
  black   the next `count` frames are all zero
  frozen  the next `count` frames repeat the last frame byte for byte

Each frame gets a little sensor noise (±`noise` grey levels, deterministic) so that a
live camera never serves two identical frames, which lets a frozen camera be told apart.

scikit-image is a development dependency: it is imported only when a builtin face scene
is built, and its absence raises `SceneUnavailable` with a plain explanation.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from peripherals.camera import sim_faces
from peripherals.camera.errors import SceneUnavailable
from peripherals.camera.page_scene import DOCUMENT_SCENES
from peripherals.camera.page_scene import shared_scene as document_scene

SCHEME = "simcam"
DEFAULT_SIZE = (640, 480)  # width, height: a 4:3 webcam frame
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
FACE_SCENES = ("face", "two_faces", "dark", "blurred", "offcentre")
SCENES = ("empty", *FACE_SCENES, *DOCUMENT_SCENES)


class CameraFault(StrEnum):
    UNPLUG = "unplug"
    STALL = "stall"
    BLACK = "black"
    FROZEN = "frozen"


# -- builtin scenes ---------------------------------------------------------------------
def _astronaut_bgr() -> np.ndarray:
    """skimage.data.astronaut(): a 512×512 portrait (Eileen Collins, NASA, public domain) shipped inside scikit-image.

    Read straight from the PNG inside the installed package (cv2.imread gives BGR), without
    importing scikit-image: `skimage.data` pulls in skimage.io and SciPy, +43 MiB in the
    kiosk process for one picture (docs/memory.md)."""
    try:
        spec = importlib.util.find_spec("skimage")
    except (ImportError, ValueError):
        spec = None
    path = Path(spec.origin).parent / "data" / "astronaut.png" if spec is not None and spec.origin else None
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path is not None and path.is_file() else None
    if image is None:
        raise SceneUnavailable(
            "the builtin face scenes use skimage.data.astronaut(), but scikit-image is not installed; "
            "install the development dependencies (pip install scikit-image) or use an image or video file as source"
        )
    return image


@lru_cache(maxsize=16)
def _scene(name: str, width: int, height: int) -> np.ndarray:
    """Build one builtin scene at `width`×`height` (BGR). Cached; callers must not modify it."""
    if name == "empty":
        # A plain wall lit from above: a soft vertical gradient, no face anywhere.
        column = np.linspace(210, 170, height, dtype=np.float32)[:, None, None]
        return np.broadcast_to(column, (height, width, 3)).astype(np.uint8)
    if name not in FACE_SCENES:
        raise SceneUnavailable(f"unknown builtin scene {name!r}; known: {', '.join(SCENES)}")
    portrait = _astronaut_bgr()
    # The astronaut's face is at about x 177–272, y 66–161 of 512×512. A 400×300 crop
    # starting at x=24 puts it in the middle, a little above centre: a citizen at the kiosk.
    face = cv2.resize(portrait[0:300, 24:424], (width, height), interpolation=cv2.INTER_LINEAR)
    if name == "face":
        return face
    if name == "two_faces":
        half = cv2.resize(portrait[0:300, 124:324], (width // 2, height), interpolation=cv2.INTER_LINEAR)
        both = np.hstack([half, half])
        return cv2.resize(both, (width, height)) if both.shape[1] != width else both
    if name == "dark":
        return cv2.convertScaleAbs(face, alpha=0.15)
    if name == "blurred":
        return cv2.GaussianBlur(face, (0, 0), sigmaX=width / 100)
    # offcentre: the same picture shifted a third of the width to the right; the strip
    # uncovered on the left is filled by reflecting the flag, which has no face in it.
    shift = np.float32([[1, 0, width * 0.33], [0, 1, 0]])
    return cv2.warpAffine(face, shift, (width, height), borderMode=cv2.BORDER_REFLECT)


def scene(name: str, size: tuple[int, int] = DEFAULT_SIZE) -> np.ndarray:
    """A copy of builtin scene `name` at `size` (width, height)."""
    return _scene(name, int(size[0]), int(size[1])).copy()


def _shared_scene(name: str, size: tuple[int, int]) -> np.ndarray:
    """The cached scene itself, read-only (the simulator's stills only read it)."""
    image = _scene(name, int(size[0]), int(size[1]))
    image.flags.writeable = False
    return image


# -- frame sources ----------------------------------------------------------------------
class _Stills:
    """A list of still images played in a loop."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        if not frames:
            raise SceneUnavailable("no images to play")
        self.frames = frames

    def frame(self, index: int) -> np.ndarray | None:
        return self.frames[index % len(self.frames)]

    def close(self) -> None:
        pass


class _Video:
    """A video file read frame by frame, rewound at the end when looping."""

    def __init__(self, path: str, loop: bool) -> None:
        self.path = path
        self.loop = loop
        self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            raise SceneUnavailable(f"cannot open video file {path!r}")

    def frame(self, index: int) -> np.ndarray | None:
        ok, image = self.capture.read()
        if not ok and self.loop:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self.capture.read()
        return image if ok else None

    def close(self) -> None:
        self.capture.release()


def _load_image(path: str | Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SceneUnavailable(f"cannot read image {str(path)!r}")
    return image


def _image_paths(source: str) -> list[str] | None:
    """The image files `source` names (file, directory, glob or comma list), or None for a video."""
    if "," in source:
        return [part.strip() for part in source.split(",") if part.strip()]
    if any(ch in source for ch in "*?["):
        paths = sorted(glob.glob(source))
        if not paths:
            raise SceneUnavailable(f"no images match {source!r}")
        return paths
    if os.path.isdir(source):
        paths = sorted(str(p) for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise SceneUnavailable(f"no images in directory {source!r}")
        return paths
    if Path(source).suffix.lower() in IMAGE_SUFFIXES:
        return [source]
    return None


def _open_source(
    source: str | Path | Sequence[str | Path | np.ndarray], size: tuple[int, int] | None, loop: bool
) -> _Stills | _Video | sim_faces.LiveCitizen | sim_faces.Attack:
    if isinstance(source, (list, tuple)):
        frames = [item if isinstance(item, np.ndarray) else _load_image(item) for item in source]
        return _Stills([_fit(f, size) for f in frames])
    source = str(source)
    if sim_faces.is_face_source(source):
        return sim_faces.open_face_source(source, size)
    if source in DOCUMENT_SCENES:
        return _Stills([document_scene(source, size or DEFAULT_SIZE)])
    if source in SCENES:
        return _Stills([_shared_scene(source, size or DEFAULT_SIZE)])
    paths = _image_paths(source)
    if paths is not None:
        return _Stills([_fit(_load_image(p), size) for p in paths])
    if not os.path.exists(source):
        raise SceneUnavailable(f"{source!r} is neither a builtin scene ({', '.join(SCENES)}) nor an existing file")
    return _Video(source, loop)


def _fit(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if size is not None and (image.shape[1], image.shape[0]) != tuple(size):
        image = cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA)
    return image


# -- the simulator ----------------------------------------------------------------------
class CameraSimulator:
    """Serves frames from a source like `cv2.VideoCapture` does, with scripted faults."""

    # Sensor noise: ONE int8 pattern per frame shape, NOISE_PATTERNS rows taller than the frame; frame i
    # uses the view starting at row i mod NOISE_PATTERNS, so consecutive frames differ and nothing is
    # copied. 0.9 MiB at 640×480, 5.5 MiB at the document camera's 1600×1200 (4 separate patterns were
    # 4 × that: 25 MiB of the kiosk process, docs/memory.md).
    NOISE_PATTERNS = 4

    def __init__(
        self,
        source: str | Path | Sequence[str | Path | np.ndarray] = "face",
        *,
        fps: float | None = None,
        size: tuple[int, int] | None = None,
        noise: int = 1,
        loop: bool = True,
        faults: str | None = None,
        seed: int = 0,
    ) -> None:
        self.fps = fps if fps and fps > 0 else None
        self.noise = max(0, int(noise))
        self.seed = seed
        self._source = _open_source(source, size, loop)
        self._faults: deque[CameraFault] = deque()
        self._lock = threading.Lock()
        self._noise_cache: dict[tuple[int, ...], np.ndarray] = {}
        self._next_time = 0.0
        self._last: np.ndarray | None = None
        self.plugged = True
        self.frame_index = 0  # frames served so far (successful reads)
        self.reads = 0  # read() calls, failed ones included
        for kind, count in parse_faults(faults):
            self.inject(kind, count)

    # -- faults -------------------------------------------------------------------------
    def inject(self, kind: CameraFault | str, count: int = 1) -> None:
        """Queue `count` faults of `kind`; `unplug` takes effect at once and lasts until `replug()`."""
        kind = CameraFault(kind)
        if kind is CameraFault.UNPLUG:
            self.unplug()
            return
        with self._lock:
            self._faults.extend([kind] * count)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def unplug(self) -> None:
        self.plugged = False

    def replug(self) -> None:
        self.plugged = True

    def _take_fault(self) -> CameraFault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    # -- capture surface ----------------------------------------------------------------
    def read(self) -> tuple[bool, np.ndarray | None]:
        """One frame, as `cv2.VideoCapture.read()` returns it."""
        self.reads += 1
        if not self.plugged:
            return False, None
        self._pace()
        fault = self._take_fault()
        if fault is CameraFault.STALL:
            return False, None
        if fault is CameraFault.FROZEN and self._last is not None:
            return True, self._last.copy()
        image = self._source.frame(self.frame_index)
        if image is None:  # a non-looping video ended
            return False, None
        if fault is CameraFault.BLACK:
            frame = np.zeros_like(image)
        else:
            frame = self._with_noise(image)
        self._last = frame
        self.frame_index += 1
        return True, frame.copy()

    def close(self) -> None:
        self._source.close()

    def prompt(self, action: str | None) -> None:
        """The liveness prompt the screen shows: a `citizen:` source acts on it, others ignore it."""
        hook = getattr(self._source, "prompt", None)
        if hook is not None:
            hook(action)

    @property
    def prompts(self) -> list[str]:
        return list(getattr(self._source, "prompts", []))

    def _pace(self) -> None:
        if self.fps is None:
            return
        now = time.monotonic()
        if self._next_time > now:
            time.sleep(self._next_time - now)
            now = self._next_time
        self._next_time = now + 1.0 / self.fps

    def _with_noise(self, image: np.ndarray) -> np.ndarray:
        """`clip(image + pattern, 0, 255)` as one new uint8 frame.

        OpenCV adds the int8 pattern with saturation in one pass; the numpy way
        (`image.astype(int16) + pattern`, `np.clip`, `astype(uint8)`) made three frame-sized
        int16 temporaries per frame, 35 MiB of churn a frame at 1600×1200, and was 2.7× slower.
        """
        if self.noise == 0:
            return image.copy()
        pattern = self._noise_cache.get(image.shape)
        if pattern is None:
            rng = np.random.default_rng(self.seed)
            tall = (image.shape[0] + self.NOISE_PATTERNS - 1, *image.shape[1:])
            pattern = rng.integers(-min(self.noise, 127), min(self.noise, 127) + 1, size=tall, dtype=np.int8)
            self._noise_cache[image.shape] = pattern
        offset = self.frame_index % self.NOISE_PATTERNS
        return cv2.add(image, pattern[offset:offset + image.shape[0]], dtype=cv2.CV_8U)


def parse_faults(spec: str | None) -> list[tuple[CameraFault, int]]:
    """`black:2,frozen,stall:3` → [(BLACK, 2), (FROZEN, 1), (STALL, 3)]."""
    out: list[tuple[CameraFault, int]] = []
    for item in filter(None, (s.strip() for s in (spec or "").split(","))):
        kind, _, count = item.partition(":")
        try:
            out.append((CameraFault(kind), int(count) if count else 1))
        except ValueError:
            raise ValueError(f"bad camera fault {item!r}; kinds: {', '.join(k.value for k in CameraFault)}") from None
    return out


# -- simcam:// ports --------------------------------------------------------------------
_named: dict[str, CameraSimulator] = {}
_named_lock = threading.Lock()


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def from_url(url: str) -> tuple[str, dict[str, object]]:
    """Split `simcam://NAME?opt=...` into the instance name and `CameraSimulator` keyword options."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URL: {url!r}")
    name = parts.netloc or parts.path.lstrip("/") or "camera"
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    options: dict[str, object] = {"source": query.pop("source", "face")}
    if "fps" in query:
        options["fps"] = float(query.pop("fps"))
    if "size" in query:
        options["size"] = parse_size(query.pop("size"))
    if "noise" in query:
        options["noise"] = int(query.pop("noise"))
    if "loop" in query:
        options["loop"] = query.pop("loop").lower() not in ("0", "false", "no")
    if "seed" in query:
        options["seed"] = int(query.pop("seed"))
    if "faults" in query:
        options["faults"] = query.pop("faults")
    if query:
        raise ValueError(f"unknown {SCHEME}:// options: {', '.join(sorted(query))}")
    return name, options


def named(name: str, **options) -> CameraSimulator:
    """The simulator registered as `name`, created with `options` on first use."""
    with _named_lock:
        sim = _named.get(name)
        if sim is None:
            sim = _named[name] = CameraSimulator(**options)
        return sim


def for_url(url: str) -> CameraSimulator:
    name, options = from_url(url)
    return named(name, **options)


def forget(name: str | None = None) -> None:
    """Drop one named simulator (or all); tests call this between cases."""
    with _named_lock:
        victims = list(_named.values()) if name is None else [s for s in [_named.get(name)] if s is not None]
        if name is None:
            _named.clear()
        else:
            _named.pop(name, None)
    for sim in victims:
        sim.close()
