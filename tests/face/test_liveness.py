"""Liveness on scripted sequences from a real photo: a live citizen passes in the order asked;
a printed photo (still, moved, tilted), a phone screen and a replayed recording are refused;
with live prompts (PromptTiming) a recording playing to its own clock is refused too.

Each attack's landmarks are tracked once (session fixture) and judged under several
challenge orders; every order × several people × random holds is `bench/face.py --eval`."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from peripherals.camera import face_motion as fm
from peripherals.face import geometry as g
from peripherals.face.liveness import Challenge, LivenessJudge, Reason, draw_challenges
from peripherals.face.video import judge_frames, judge_track, observe_track, track_frames
from tests.face.conftest import timed

ORDER = [Challenge.TURN_LEFT, Challenge.BLINK, Challenge.OPEN_MOUTH]


@pytest.fixture(scope="module")
def live_clip(citizen):
    base, landmarks = citizen
    return fm.live_sequence(base, landmarks, [c.value for c in ORDER])


def test_live_citizen_following_the_challenge_passes(live_clip):
    result = judge_frames(timed(live_clip), ORDER)
    assert result.live and result.reason is Reason.PASSED and result.passed == ORDER


def test_a_replayed_recording_fails_another_order(live_clip):
    result = judge_frames(timed(fm.phone_replay(live_clip)), [Challenge.OPEN_MOUTH, Challenge.TURN_LEFT])
    assert not result.live and result.reason in (Reason.WRONG_ACTION, Reason.TIMEOUT, Reason.NO_RESPONSE)


ATTACK_FRAMES = 36  # 2.4 s at 15 frames/s: past the baseline and a 2 s time limit


@pytest.fixture(scope="session")
def attack_tracks(citizen):
    """Landmarks of each attack sequence, tracked once: {kind: [(t, landmarks, faces), ...]}."""
    base, _ = citizen
    sequences = {kind: fm.printed_photo(base, kind, frames=ATTACK_FRAMES) for kind in ("still", "moved", "tilted")}
    sequences["phone"] = fm.phone_replay([base] * ATTACK_FRAMES)
    return {kind: list(track_frames(timed(frames))) for kind, frames in sequences.items()}


@pytest.mark.parametrize("kind", ["still", "moved", "tilted", "phone"])
def test_printed_photo_or_phone_is_refused_whatever_the_challenge(attack_tracks, kind):
    track = attack_tracks[kind]
    assert sum(1 for _, marks, _ in track if marks is not None) > ATTACK_FRAMES // 2  # the face is seen, yet:
    for challenges in ([Challenge.TURN_LEFT, Challenge.NOD], [Challenge.BLINK], [Challenge.TURN_RIGHT, Challenge.OPEN_MOUTH]):
        assert not judge_track(track, challenges, time_limit_s=2.0).live
    assert not observe_track(track).live


def test_with_live_prompts_a_recording_on_its_own_clock_is_refused(live_clip):
    """The replay-by-chance hole: a recording that holds the asked order in its own order passes a
    judge without prompt timing; with random holds and reaction windows it must act exactly in them."""
    from peripherals.face.liveness import PromptTiming

    track = list(track_frames(timed(live_clip)))  # turn-left, blink, open-mouth
    assert judge_track(track, ORDER).live  # the recording itself does contain the order
    timing = PromptTiming(hold_min_s=1.5, hold_max_s=1.5)
    judge = LivenessJudge(challenges=ORDER, timing=timing)
    for t, marks, faces in track:  # the turn starts ≈0.4 s after the neutral face: inside the hold
        if judge.add(t, marks, faces) is not None:
            break
    assert judge.finish().reason is Reason.EARLY_ACTION


def test_a_flat_photo_moves_by_one_homography():
    pts = np.random.default_rng(1).uniform(100, 300, (68, 2)).astype(np.float32)
    h = np.array([[1.05, 0.1, 12], [-0.08, 0.97, -7], [1e-4, -2e-4, 1]])
    moved = cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2).astype(np.float32)
    assert g.nonrigid_residual(pts, moved, g.NOSE) < 1e-3
    bent = moved.copy()
    bent[g.NOSE, 0] += 0.2 * g.inter_ocular(moved)
    assert g.nonrigid_residual(pts, bent, g.NOSE) > 0.1


def test_each_attempt_draws_its_own_order():
    orders = {tuple(draw_challenges(2)) for _ in range(40)}
    assert len(orders) > 5 and all(len(set(o)) == 2 for o in orders)


def test_no_face_and_two_faces_are_refused():
    judge = LivenessJudge(challenges=[Challenge.BLINK], time_limit_s=1.0)
    for i in range(30):
        judge.add(i / 15, None, 0)
    assert judge.finish().reason is Reason.NO_FACE
    judge = LivenessJudge(challenges=[Challenge.BLINK])
    assert judge.add(0.0, np.zeros((68, 2), np.float32), faces=2).reason is Reason.SEVERAL_FACES


def _write_video(path, frames, fps=15):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames[0].shape[1], frames[0].shape[0]))
    for f in frames:
        writer.write(f)
    writer.release()


def test_cli_liveness_on_videos(tmp_path, citizen, live_clip):
    base, _ = citizen
    tilted, live = tmp_path / "tilted.avi", tmp_path / "live.avi"
    _write_video(tilted, fm.printed_photo(base, "tilted", frames=ATTACK_FRAMES))
    _write_video(live, live_clip)

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "peripherals.cli", "face", "liveness", *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip())

    answer = run("--video", str(tilted), "--challenge", "blink,turn-left", "--time-limit", "2")  # other orders and
    assert answer["live"] is False and answer["reason"]  # none given: test_printed_photo_or_phone_is_refused_...
    assert run("--video", str(live), "--challenge", ",".join(c.value for c in ORDER))["live"] is True
