"""Live camera preview with the face box and its 68 landmarks, for staff checking the camera.

A Kivy `Clock` interval (UI thread) asks for a frame when none is in flight: the frame is
read on the camera's supervisor worker (`DeviceSupervisor.submit(read_frame)`), the quality
gate the flows use (`peripherals.face.quality`: one face, size, centred, exposure,
sharpness, pose, eyes open, nothing covering it) and the drawing of the box and landmarks
run on a short-lived helper thread, and the next tick uploads the picture into a fresh
texture (never rewriting one a frame may still draw, see kiosk.widgets.base.FreshTexture).
While the liveness demo reads the camera itself, the preview is paused and shows the
demo's frames (`push`).

Frames are personal data: they are never stored or logged; `stop()` drops the last frame
and blanks the texture, and the control socket refuses screenshots while a preview runs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.uix.image import Image

log = logging.getLogger(__name__)

PREVIEW_WIDTH = 640  # frames are scaled to this before drawing and uploading
BOX_OK = (46, 160, 67)  # BGR: a green box when the face passes the gate
BOX_BAD = (0, 140, 255)  # BGR: orange otherwise
LANDMARK = (255, 220, 0)  # BGR: the 68 landmarks in cyan


def annotate(frame, check, landmarks=None) -> Any:
    """A preview-sized RGB copy of `frame` with the FaceCheck box and the landmarks drawn (the frame is untouched)."""
    import cv2

    height, width = frame.shape[:2]
    scale = PREVIEW_WIDTH / width
    small = cv2.resize(frame, (PREVIEW_WIDTH, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    colour = BOX_OK if check is None or check.passed else BOX_BAD
    if check is not None and check.face is not None:
        f = check.face
        p1 = (round(f.x * scale), round(f.y * scale))
        p2 = (round((f.x + f.w) * scale), round((f.y + f.h) * scale))
        cv2.rectangle(small, p1, p2, colour, 4)
    if landmarks is not None:
        for x, y in landmarks:
            cv2.circle(small, (round(float(x) * scale), round(float(y) * scale)), 2, LANDMARK, -1, cv2.LINE_AA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


def analyse(frame) -> tuple[Any, Any]:
    """(the flows' quality-gate FaceCheck, its landmarks or None); the camera's gate alone without a face engine."""
    from peripherals.face.errors import FaceEngineUnavailable
    from peripherals.face.quality import check_with_landmarks

    try:
        return check_with_landmarks(frame)
    except FaceEngineUnavailable:
        from peripherals.camera.face import check_face

        return check_face(frame), None


class CameraPreview(Image):
    """`start(device, pool_run, on_check)`; `stop()`. `on_check(check | None, error | None)` on the UI thread."""

    def __init__(self, interval_s: float = 0.2, **kw):
        kw.setdefault("fit_mode", "contain")
        super().__init__(**kw)
        self.interval_s = interval_s
        self._event = None
        self._busy = False
        self._latest: tuple[Any, Any] | None = None  # (rgb, check) ready for the UI thread
        self._lock = threading.Lock()
        self._device = None
        self._on_check: Callable[[Any, BaseException | None], None] | None = None
        self.frames_shown = 0
        self.last_check = None
        self.last_landmarks = None  # of the last frame shown (a test looks; dropped on stop)
        self.paused = False  # the liveness demo reads the camera; it pushes its frames here

    @property
    def running(self) -> bool:
        return self._event is not None

    def start(self, device, on_check: Callable[[Any, BaseException | None], None]) -> None:
        self.stop()
        self._device = device
        self._on_check = on_check
        self._event = Clock.schedule_interval(self._tick, self.interval_s)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self._device = None
        with self._lock:
            self._latest = None
        self.texture = None
        self.last_check = None
        self.last_landmarks = None
        self.paused = False

    def wipe(self) -> None:
        self.stop()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def push(self, frame, landmarks) -> None:
        """A frame someone else read (the liveness demo, any thread): shown at the next tick."""
        rgb = annotate(frame, None, landmarks)
        with self._lock:
            if self._device is not None:
                self._latest = (rgb, None, landmarks)

    # -- UI thread ---------------------------------------------------------------------------
    def _tick(self, _dt) -> None:
        with self._lock:
            latest, self._latest = self._latest, None
        if latest is not None:
            rgb, check, self.last_landmarks = latest
            self._show(rgb)
            if check is not None:
                self.last_check = check
                if self._on_check is not None:
                    self._on_check(check, None)
        if not self._busy and not self.paused and self._device is not None:
            self._busy = True
            future = self._device.submit(lambda d: d.read_frame())
            future.add_done_callback(self._frame_arrived)

    def _show(self, rgb) -> None:
        import numpy as np

        height, width = rgb.shape[:2]
        texture = Texture.create(size=(width, height), colorfmt="rgb")
        texture.blit_buffer(np.ascontiguousarray(rgb[::-1]).tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self.texture = texture
        self.frames_shown += 1

    # -- the camera's worker thread ----------------------------------------------------------------
    def _frame_arrived(self, future) -> None:
        try:
            frame = future.result()
        except BaseException as exc:  # DeviceError (timeout, unplugged): tell the screen, try again later
            self._busy = False
            Clock.schedule_once(lambda _dt, exc=exc: self._on_check and self._running_check(None, exc), 0)
            return
        threading.Thread(target=self._analyse, args=(frame,), daemon=True, name="preview-face").start()

    def _running_check(self, check, exc) -> None:
        if self.running and self._on_check is not None:
            self._on_check(check, exc)

    def _analyse(self, frame) -> None:
        landmarks = None
        try:
            check, landmarks = analyse(frame)
            rgb = annotate(frame, check, landmarks)
        except Exception:
            log.exception("preview: face check failed")
            check, rgb = None, annotate(frame, None)
        finally:
            del frame
        with self._lock:
            if self._device is not None and not self.paused:
                self._latest = (rgb, check, landmarks)
        self._busy = False
