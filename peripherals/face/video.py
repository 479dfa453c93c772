"""Liveness on a recorded video file (the CLI, and checks with footage of real attacks)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from peripherals.face.errors import NoFaceFound
from peripherals.face.liveness import (Challenge, LivenessJudge, LivenessResult, Reason, Thresholds, action_strength,
                                       features, nonrigidity)
from peripherals.face.track import FaceTracker


class VideoUnreadable(NoFaceFound):
    code = "video_unreadable"
    plain = "the video file cannot be read"


def frames_of(path: str, max_width: int = 640) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, BGR frame) of a video file, downscaled to at most `max_width`."""
    import os

    capture = cv2.VideoCapture(str(path)) if os.path.isfile(path) else None
    if capture is None or not capture.isOpened():
        raise VideoUnreadable(f"cannot open video {path!r}", kind="camera")
    fps = capture.get(cv2.CAP_PROP_FPS) or 15.0
    if not 1.0 <= fps <= 240.0:
        fps = 15.0
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame.shape[1] > max_width:
                scale = max_width / frame.shape[1]
                frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            yield index / fps, frame
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise VideoUnreadable(f"no frames in video {path!r}", kind="camera")


Track = Iterable[tuple[float, "np.ndarray | None", int]]  # (t, landmarks or None, faces seen) per frame


def track_frames(frames: Iterable[tuple[float, np.ndarray]], tracker: FaceTracker | None = None) -> Iterator[
        tuple[float, np.ndarray | None, int]]:
    """(t, landmarks, faces) per frame: the landmarks a judgement needs, frames dropped as they go."""
    tracker = tracker or FaceTracker()
    for t, frame in frames:
        landmarks, count, _ = tracker.update(frame)
        yield t, landmarks, count


def judge_frames(frames: Iterable[tuple[float, np.ndarray]], challenges: list[Challenge], *,
                 time_limit_s: float = 5.0, tracker: FaceTracker | None = None) -> LivenessResult:
    """The ordered challenge–response judgement over (t, frame) pairs (a recording: no prompt timing)."""
    return judge_track(track_frames(frames, tracker), challenges, time_limit_s=time_limit_s)


def judge_track(track: Track, challenges: list[Challenge], *, time_limit_s: float = 5.0) -> LivenessResult:
    """`judge_frames` over landmarks already tracked (several challenge orders on one recording)."""
    judge = LivenessJudge(challenges=challenges, time_limit_s=time_limit_s)
    for t, landmarks, count in track:
        if judge.add(t, landmarks, count) is not None:
            break
    return judge.finish()


def observe_actions(frames: Iterable[tuple[float, np.ndarray]], *, tracker: FaceTracker | None = None,
                    thresholds: Thresholds | None = None) -> LivenessResult:
    """Without a known challenge order: live when at least two different actions are seen, each
    with non-rigid landmark motion. A still, moved or tilted photo shows none."""
    return observe_track(track_frames(frames, tracker), thresholds=thresholds)


def observe_track(track: Track, *, thresholds: Thresholds | None = None) -> LivenessResult:
    """`observe_actions` over landmarks already tracked."""
    th = thresholds or Thresholds()
    base: list[np.ndarray] = []
    seen: list[Challenge] = []
    rigid = 0
    frames_n = 0
    max_res = 0.0
    for _t, landmarks, count in track:
        frames_n += 1
        if landmarks is None or count != 1:
            continue
        if len(base) < th.baseline_frames:
            base.append(landmarks)
            continue
        base_pts = np.median(np.stack(base), axis=0)
        b, c = features(base_pts), features(landmarks)
        for ch in Challenge:
            if ch in seen or action_strength(ch, b, c, th) < 1.0:
                continue
            residual = nonrigidity(ch, base_pts, landmarks, th)
            max_res = max(max_res, residual)
            if residual >= 1.0:
                seen.append(ch)
            else:
                rigid += 1
    live = len(seen) >= 2
    if live:
        reason = Reason.PASSED
    elif not base:
        reason = Reason.NO_FACE
    else:
        reason = Reason.RIGID_MOTION if rigid else Reason.NO_RESPONSE
    return LivenessResult(live=live, reason=reason, challenges=[], passed=seen, frames=frames_n, max_nonrigid=round(max_res, 4))
