"""Active liveness: a random challenge order, judged from landmarks over the frames.

Each attempt draws its own order (`draw_challenges`), so a recording of an earlier
attempt shows the wrong actions at the wrong time. A challenge passes when, within its
time limit, its measure moves far enough from the citizen's neutral face AND the moving
landmarks depart from the single homography that explains the rest of the face
(`geometry.nonrigid_residual`). A printed or on-screen photo, held still, moved or
tilted, moves rigidly and never passes; see docs/face.md for what this does not stop.

Feed frames one at a time to `LivenessJudge.add(t, landmarks, faces)`; it never keeps
images, only the landmarks of the neutral face and of the current frame.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from pydantic import BaseModel

from peripherals.face import geometry as g


class Challenge(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn-left"  # the citizen's left: the nose moves to the right of the raw camera image
    TURN_RIGHT = "turn-right"
    NOD = "nod"
    OPEN_MOUTH = "open-mouth"


class Reason(StrEnum):
    PASSED = "passed"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_LOST = "face_lost"
    RIGID_MOTION = "rigid_motion"  # the face moved like a flat picture
    NO_RESPONSE = "no_response"  # nothing happened in time
    WRONG_ACTION = "wrong_action"  # another action than the one asked (replayed recording)
    EARLY_ACTION = "early_action"  # an action before its prompt, or faster than anyone reacts (recording)
    LATE_RESPONSE = "late_response"  # the asked action began too long after its prompt
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Thresholds:
    """Measured on the simulator's live and attack sequences and on webcam footage; see docs/face.md."""

    turn: float = 0.16  # |Δ yaw proxy|
    nod: float = 0.12  # |Δ pitch proxy|
    blink_ratio: float = 0.62  # EAR below this share of the neutral EAR counts as closed
    mouth: float = 0.30  # Δ mouth aspect ratio
    nonrigid: float = 0.045  # residual (inter-ocular units) the moving group must show
    blink_nonrigid: float = 0.25  # share of eye opening lost beyond what the face's homography explains
    baseline_frames: int = 3
    hold_frames: int = 2  # consecutive frames an action must show (a blink: 1; it lasts ≈120 ms)
    max_lost_s: float = 1.0


@dataclass(frozen=True)
class PromptTiming:
    """Reaction timing for a LIVE prompt (the kiosk screen; not a recorded video, whose
    prompts nobody saw): before each prompt the citizen looks at the camera for a random
    hold; an action during it, an action already under way when the prompt appears, or one
    starting sooner than `min_latency_s` after it is a recording playing to its own clock
    (`early_action`); one starting later than `max_latency_s` is `late_response`.
    See docs/face.md for the figures and what a genuine citizen needs."""

    hold_min_s: float = 0.4
    hold_max_s: float = 2.0
    min_latency_s: float = 0.15  # no one reads a prompt and starts to move faster
    max_latency_s: float = 2.0
    onset: float = 0.4  # share of the action's threshold that counts as its start


def draw_challenges(count: int = 2, rng: secrets.SystemRandom | None = None) -> list[Challenge]:
    """`count` different challenges in a random order, never the same list twice in a row by design of chance."""
    rng = rng or secrets.SystemRandom()
    return rng.sample(list(Challenge), k=min(count, len(Challenge)))


class LivenessResult(BaseModel):
    live: bool
    reason: Reason
    challenges: list[Challenge]
    passed: list[Challenge]
    failed_at: Challenge | None = None
    frames: int = 0
    max_nonrigid: float = 0.0  # largest non-rigidity seen while a challenge's measure moved (1.0 = enough)


@dataclass
class _Features:
    ear: float
    mar: float
    yaw: float
    pitch: float


def features(p: np.ndarray) -> _Features:
    return _Features(g.eye_aspect_ratio(p), g.mouth_aspect_ratio(p), g.yaw_proxy(p), g.pitch_proxy(p))


_MOVING = {
    Challenge.BLINK: g.EYES,
    Challenge.TURN_LEFT: g.NOSE,
    Challenge.TURN_RIGHT: g.NOSE,
    Challenge.NOD: g.NOSE,
    Challenge.OPEN_MOUTH: g.MOUTH[12:] + [57, 8, 7, 9],  # inner lips, lower lip, chin
}


def nonrigidity(ch: Challenge, base_pts: np.ndarray, cur_pts: np.ndarray, th: Thresholds) -> float:
    """Non-rigid evidence for `ch`, 1.0 = just enough (a flat photo stays near 0)."""
    if ch is Challenge.BLINK:
        return g.blink_nonrigidity(base_pts, cur_pts) / th.blink_nonrigid
    return g.nonrigid_residual(base_pts, cur_pts, _MOVING[ch]) / th.nonrigid


def action_strength(ch: Challenge, base: _Features, cur: _Features, th: Thresholds) -> float:
    """How far `cur` has gone towards `ch` from the neutral face, 1.0 = just enough."""
    if ch is Challenge.TURN_LEFT:
        return (cur.yaw - base.yaw) / th.turn
    if ch is Challenge.TURN_RIGHT:
        return (base.yaw - cur.yaw) / th.turn
    if ch is Challenge.NOD:
        return abs(cur.pitch - base.pitch) / th.nod
    if ch is Challenge.OPEN_MOUTH:
        return (cur.mar - base.mar) / th.mouth
    closed = base.ear * th.blink_ratio
    return (base.ear - cur.ear) / max(base.ear - closed, 1e-6)


@dataclass
class LivenessJudge:
    """Runs the challenges in order over frames; `result` is set once decided."""

    challenges: list[Challenge]
    time_limit_s: float = 5.0  # per challenge
    thresholds: Thresholds = field(default_factory=Thresholds)
    timing: PromptTiming | None = None  # live prompts: holds and reaction windows (None: a recording)
    result: LivenessResult | None = None
    _base: list[np.ndarray] = field(default_factory=list)
    _index: int = 0
    _started: float | None = None
    _last_face: float | None = None
    _frames: int = 0
    _rigid_hits: int = 0
    _held: int = 0
    _max_nonrigid: float = 0.0
    _passed: list[Challenge] = field(default_factory=list)
    _hold_until: float | None = None  # timing: the current prompt appears at this time
    _onset: float | None = None  # timing: when the asked action began
    _prompted_at: float = 0.0  # timing: when the current prompt appeared
    _rng: secrets.SystemRandom = field(default_factory=secrets.SystemRandom)

    @property
    def current(self) -> Challenge | None:
        return self.challenges[self._index] if self.result is None and self._index < len(self.challenges) else None

    @property
    def prompt(self) -> Challenge | None:
        """What the screen should ask now: None before the neutral face is known and during a hold."""
        if not self.ready or self._hold_until is not None:
            return None
        return self.current

    def _next_prompt(self, t: float) -> None:
        """The clock of the current challenge starts at t (after a random hold when timing is on)."""
        self._started, self._onset = t, None
        if self.timing is not None:
            self._hold_until = t + self._rng.uniform(self.timing.hold_min_s, self.timing.hold_max_s)

    @property
    def ready(self) -> bool:
        """True once the neutral face is known and challenges are being judged."""
        return len(self._base) >= self.thresholds.baseline_frames

    def _finish(self, live: bool, reason: Reason) -> LivenessResult:
        self.result = LivenessResult(live=live, reason=reason, challenges=list(self.challenges), passed=list(self._passed),
                                     failed_at=None if live else self.current, frames=self._frames,
                                     max_nonrigid=round(self._max_nonrigid, 4))
        self._base.clear()
        return self.result

    def add(self, t: float, landmarks: np.ndarray | None, faces: int = 1) -> LivenessResult | None:
        """One frame at time `t` (seconds) with the landmarks of its face (None: no face seen)."""
        if self.result is not None:
            return self.result
        self._frames += 1
        th = self.thresholds
        if self._started is None:
            self._started = t
        if faces > 1:
            return self._finish(False, Reason.SEVERAL_FACES)
        if landmarks is None:
            if self._last_face is None:
                if t - self._started > self.time_limit_s:
                    return self._finish(False, Reason.NO_FACE)
            elif t - self._last_face > th.max_lost_s:
                return self._finish(False, Reason.FACE_LOST)
            return None
        self._last_face = t
        if not self.ready:
            self._base.append(np.asarray(landmarks, np.float32))
            if self.ready:
                self._next_prompt(t)  # the first challenge's clock starts on the neutral face
            return None
        base_pts = np.median(np.stack(self._base), axis=0)
        base, cur = features(base_pts), features(landmarks)
        asked = self.challenges[self._index]
        holding = self._hold_until is not None and t < self._hold_until
        for other in Challenge:
            if other is Challenge.BLINK or other in self._passed or (other is asked and not holding):
                continue  # people blink all the time; an action already done may linger
            if {other, asked} == {Challenge.NOD, Challenge.OPEN_MOUTH} or (
                    holding and {other} | set(self._passed) == {Challenge.NOD, Challenge.OPEN_MOUTH}):
                continue  # opening the mouth moves the chin: it must not read as a nod, nor the reverse
            if action_strength(other, base, cur, th) > 1.6 and nonrigidity(other, base_pts, landmarks, th) > 1.5:
                return self._finish(False, Reason.EARLY_ACTION if holding else Reason.WRONG_ACTION)
        if holding:
            return None  # the prompt is not on screen yet
        strength = action_strength(asked, base, cur, th)
        if self.timing is not None and (verdict := self._reaction(t, strength)) is not None:
            return verdict
        if strength >= 1.0:
            residual = nonrigidity(asked, base_pts, landmarks, th)
            self._max_nonrigid = max(self._max_nonrigid, residual)
            self._held = self._held + 1 if residual >= 1.0 else 0
            if self._held >= (1 if asked is Challenge.BLINK else th.hold_frames):
                self._held = 0
                self._passed.append(asked)
                self._index += 1
                self._next_prompt(t)
                self._rigid_hits = 0
                if self._index == len(self.challenges):
                    return self._finish(True, Reason.PASSED)
                return None
            if residual < 1.0:
                self._rigid_hits += 1
        else:
            self._held = 0
        if t - self._started > self.time_limit_s:
            return self._finish(False, Reason.RIGID_MOTION if self._rigid_hits else Reason.NO_RESPONSE)
        return None

    def _reaction(self, t: float, strength: float) -> LivenessResult | None:
        """Timing: the asked action starts after its prompt, not too soon, not too late."""
        timing = self.timing
        assert timing is not None
        if self._hold_until is not None:  # the first frame since the prompt appeared
            shown, self._hold_until = self._hold_until, None
            self._prompted_at = self._started = shown  # the time limit runs from the prompt
            if strength >= timing.onset:  # already under way when it was asked
                return self._finish(False, Reason.EARLY_ACTION)
            return None
        if self._onset is None and strength >= timing.onset:
            self._onset = t
            latency = t - self._prompted_at
            if latency < timing.min_latency_s:
                return self._finish(False, Reason.EARLY_ACTION)
            if latency > timing.max_latency_s:
                return self._finish(False, Reason.LATE_RESPONSE)
        return None

    def finish(self) -> LivenessResult:
        """No more frames: decide with what was seen."""
        if self.result is not None:
            return self.result
        if not self.ready:
            return self._finish(False, Reason.NO_FACE if self._last_face is None else Reason.NO_RESPONSE)
        return self._finish(False, Reason.RIGID_MOTION if self._rigid_hits else Reason.TIMEOUT)
