"""Liveness over the scripted camera sequences, every challenge order, with and without the
reaction timing (peripherals.face.liveness.PromptTiming): `bench/face.py --eval` prints it.

Landmarks are computed once per frame of each sequence (live people: each action's clip
and the neutral face; attacks: printed photo still/moved/tilted, photo on a phone, a phone
replaying a recording of turn-right, blink, nod); then the judge runs on a simulated clock
at 15 frames/s for each of the 20 ordered pairs of challenges, `trials` times each with
fresh random holds and, for the attacks, a random point of the loop to start from. The
live person reacts to each prompt after 0.45 s (the camera simulator's citizen); the
attacks ignore the prompts. Printed: the share of attempts judged live per source.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

FPS = 15.0
REACTION_S = 0.45
PEOPLE = [("jackie_chan", 1), ("dick_cheney", 2), ("matt_damon", 1), ("lynne_cheney", 2),
          ("gloria_macapagal_arroyo", 3), ("george_clooney", 1)]


def _marks(engine, frames):
    out = []
    for f in frames:
        faces = engine.detect(f)
        out.append(faces[0].landmarks if faces else None)
    return out


def _live_attempt(judge, neutral, clips, rng):
    """A person who does each asked action REACTION_S after its prompt (and again while it stays)."""
    t, queue, asked, react_at = 0.0, [], None, 0.0
    for _ in range(int(FPS * 40)):
        prompt = judge.prompt if judge.ready else None
        if prompt is not asked:
            asked, queue, react_at = prompt, list(clips[prompt.value]) if prompt else [], t + REACTION_S
        if asked is not None and t >= react_at and not queue:
            queue = [neutral] * 8 + list(clips[asked.value])
        marks = queue.pop(0) if asked is not None and t >= react_at and queue else neutral
        if judge.add(t, marks, 1 if marks is not None else 0) is not None:
            break
        t += 1 / FPS
    return judge.finish()


def _loop_attempt(judge, track, rng):
    start = rng.randrange(len(track))
    for i in range(int(FPS * 40)):
        marks = track[(start + i) % len(track)]
        if judge.add(i / FPS, marks, 1 if marks is not None else 0) is not None:
            break
    return judge.finish()


def evaluate_liveness(faces_dir: Path, trials: int = 2, seed: int = 7) -> None:
    import cv2

    from peripherals.camera import face_motion as fm
    from peripherals.camera.sim_faces import REPLAY_ORDER
    from peripherals.face.engine import get_engine
    from peripherals.face.liveness import Challenge, LivenessJudge, PromptTiming

    engine = get_engine()
    rng = random.Random(seed)
    orders = list(itertools.permutations(list(Challenge), 2))
    rows = []
    for person, n in PEOPLE:
        base, lm = fm.portrait_frame(cv2.imread(str(faces_dir / person / f"{n}.jpg")))
        neutral = _marks(engine, [base])[0]
        clips = {c.value: _marks(engine, fm.action_clip(base, lm, c.value)) for c in Challenge}
        attacks = {
            "printed photo, still": fm.printed_photo(base, "still", frames=45),
            "printed photo, moved": fm.printed_photo(base, "moved", frames=90),
            "printed photo, tilted": fm.printed_photo(base, "tilted", frames=90),
            "photo on a phone": fm.phone_replay([base] * 90),
            "replayed recording (turn-right, blink, nod)": fm.phone_replay(fm.live_sequence(base, lm, REPLAY_ORDER)),
        }
        tracks = {name: _marks(engine, frames) for name, frames in attacks.items()}
        for timing in (None, PromptTiming()):
            label = "on" if timing else "off"
            judged = [_live_attempt(LivenessJudge(challenges=list(o), timing=timing), neutral, clips, rng).live
                      for o in orders for _ in range(trials)]
            rows.append(("live person (simulated)", label, person, sum(judged), len(judged)))
            for name, track in tracks.items():
                judged = [_loop_attempt(LivenessJudge(challenges=list(o), timing=timing), track, rng).live
                          for o in orders for _ in range(trials)]
                rows.append((name, label, person, sum(judged), len(judged)))
    print(f"liveness: {len(PEOPLE)} people × 20 challenge orders × {trials} trials, judged live "
          f"(timing off = the previous judge; on = random holds and reaction windows)")
    print("| source | timing off | timing on |")
    print("|---|---|---|")
    for source in dict.fromkeys(r[0] for r in rows):
        cells = []
        for label in ("off", "on"):
            live = sum(r[3] for r in rows if r[0] == source and r[1] == label)
            total = sum(r[4] for r in rows if r[0] == source and r[1] == label)
            cells.append(f"{live / total:.1%} ({live}/{total})")
        print(f"| {source} | {cells[0]} | {cells[1]} |")
