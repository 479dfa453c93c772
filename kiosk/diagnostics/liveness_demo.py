"""The staff's liveness demo: the citizens' challenge–response check, run on the kiosk's camera.

Staff stand in front of the camera (or hold up a photo to see it refused) and follow the
prompts the screen shows. The same pieces as the flows (flows/face_check.py): a random
order from `draw_challenges`, the camera told the prompt (`show_prompt`: a guide light, the
simulator's citizen), frames read on the camera's supervisor worker, landmarks from the
`FaceTracker` (the `FaceEngine` interface, so an engine in its own process or a vendor SDK
serves it too), judged by `LivenessJudge`. Runs on a pool thread; `on_prompt` and
`on_frame` are called from it (the panel posts them to the UI thread). Frames are shown
and dropped: nothing is kept, logged or sent.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from peripherals.face.liveness import Challenge, LivenessJudge, LivenessResult, PromptTiming, draw_challenges

READ_TIMEOUT_S = 5.0


def run_demo(device: Any, *, challenges: int = 2, time_limit_s: float = 6.0,
             on_prompt: Callable[[Challenge | None, int, int], None] = lambda c, i, n: None,
             on_frame: Callable[[Any, Any], None] = lambda frame, landmarks: None,
             cancelled: threading.Event | None = None) -> LivenessResult:
    """Run one attempt on `device` (a camera `DeviceSupervisor`) and return the judge's verdict."""
    from peripherals.face.track import FaceTracker

    cancelled = cancelled or threading.Event()
    judge = LivenessJudge(challenges=draw_challenges(challenges), time_limit_s=time_limit_s, timing=PromptTiming())
    tracker = FaceTracker()
    shown: Challenge | None | bool = False
    started = time.monotonic()
    try:
        while judge.result is None and not cancelled.is_set():
            if judge.ready and judge.prompt is not shown:
                shown = judge.prompt  # None: the random hold before the next prompt
                on_prompt(shown, judge.challenges.index(judge.current) + 1 if judge.current else 0,
                          len(judge.challenges))
                device.submit(lambda d, a=shown.value if shown else None: d.show_prompt(a)).result(READ_TIMEOUT_S)
            frame = device.submit(lambda d: d.read_frame()).result(READ_TIMEOUT_S)
            landmarks, faces, _box = tracker.update(frame)
            judge.add(time.monotonic() - started, landmarks, faces)
            on_frame(frame, landmarks)
            del frame
    finally:
        try:
            device.submit(lambda d: d.show_prompt(None)).result(READ_TIMEOUT_S)
        except Exception:  # the camera went away: nothing to switch off
            pass
    return judge.result or judge.finish()
