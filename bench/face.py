"""Face engine figures at 640×480 on one core, and the FAR/FRR table of the labelled photo set.

    .venv/bin/python bench/face.py [--runs 5]
    .venv/bin/python bench/face.py --eval        (FAR/FRR over tests/data/faces, and liveness over every
                                                  challenge order of the scripted sequences: bench/face_liveness_eval.py)

Prints the time of each stage (detect, 68 landmarks, embedding, compare, liveness per
frame), the RSS the models add, and as its last line
    face: verify X ms, liveness Y fps, +Z MiB
where times are CPU time on one core (the thread's own, so other load on the machine
does not inflate them), verify is a whole 1:1 check of two 640×480 frames (both detected and embedded),
liveness is frames per second of the per-frame liveness work (detect + landmarks +
judgement), and Z is the resident memory the loaded engine adds. Goals: X ≤ 300, Y ≥ 15,
Z ≤ 150.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FACES = ROOT / "tests" / "data" / "faces"


def one_core() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def timed(fn, runs: int) -> float:
    """Median CPU milliseconds of `fn` on this thread: the cost on one core, whatever else the machine runs."""
    samples = []
    for _ in range(runs):
        t = time.thread_time()
        fn()
        samples.append((time.thread_time() - t) * 1000)
    return statistics.median(samples)


def bench(runs: int) -> None:
    import cv2
    import numpy as np

    from peripherals.camera import face_motion
    from peripherals.face import engine as face_engine
    from peripherals.face.liveness import Challenge, LivenessJudge
    from peripherals.face.track import FaceTracker
    from peripherals.face.verify import verify

    before = rss_mib()
    t = time.perf_counter()
    engine = face_engine.get_engine()
    load_ms = (time.perf_counter() - t) * 1000
    ref_photo = cv2.imread(str(FACES / "barack_obama" / "1.jpg"))
    probe_photo = cv2.imread(str(FACES / "barack_obama" / "2.jpg"))
    reference, _ = face_motion.portrait_frame(ref_photo)
    probe, _ = face_motion.portrait_frame(probe_photo)
    assert reference.shape[:2] == (480, 640)
    faces = engine.detect(probe)
    verify(reference, probe)  # warm up
    added = rss_mib() - before
    face = faces[0]
    detect = timed(lambda: engine.detect(probe), runs)
    marks = timed(lambda: engine.landmarks(probe, face.box), runs * 4)
    embed = timed(lambda: engine.embed(probe, face), runs)
    a, b = engine.embed(reference, engine.detect(reference)[0]), engine.embed(probe, face)
    compare = timed(lambda: engine.distance(a, b), runs * 20)
    whole = timed(lambda: verify(reference, probe), runs)

    base, landmarks = face_motion.portrait_frame(cv2.imread(str(FACES / "jackie_chan" / "1.jpg")))
    clip = face_motion.live_sequence(base, landmarks, ["turn-left", "blink"])
    tracker = FaceTracker(engine)
    judge = LivenessJudge(challenges=[Challenge.TURN_LEFT, Challenge.BLINK])
    t, wall = time.thread_time(), time.perf_counter()
    for i, frame in enumerate(clip):
        points, count, _ = tracker.update(frame)
        judge.add(i / 15, points, count)
    per_frame = (time.thread_time() - t) * 1000 / len(clip)
    wall_frame = (time.perf_counter() - wall) * 1000 / len(clip)
    verdict = judge.finish()
    print(f"models loaded once:  {load_ms:8.0f} ms  (engine {engine.name})")
    print(f"detect (HOG):        {detect:8.1f} ms")
    print(f"68 landmarks:        {marks:8.1f} ms")
    print(f"embedding (ResNet):  {embed:8.1f} ms")
    print(f"compare:             {compare * 1000:8.1f} µs")
    print(f"liveness per frame:  {per_frame:8.1f} ms  ({len(clip)} frames, live={verdict.live}; wall {wall_frame:.1f} ms)")
    print(f"(CPU time of this thread: the cost on one core; load average now {os.getloadavg()[0]:.1f})")
    print(f"face: verify {whole:.0f} ms, liveness {1000 / per_frame:.0f} fps, +{added:.0f} MiB")


def evaluate() -> None:
    import cv2
    import numpy as np

    from peripherals.face.engine import get_engine, largest_face
    from peripherals.face.verify import MATCH_THRESHOLD, score_of

    engine = get_engine()
    templates: dict[tuple[str, str], np.ndarray] = {}
    missed = []
    for path in sorted(FACES.glob("*/*.jpg")):
        image = cv2.imread(str(path))
        try:
            templates[(path.parent.name, path.name)] = engine.embed(image, largest_face(image, engine))
        except Exception:
            missed.append(path.relative_to(FACES))
    people = {k[0] for k in templates}
    genuine, impostor = [], []
    for (ka, ta), (kb, tb) in itertools.combinations(templates.items(), 2):
        (genuine if ka[0] == kb[0] else impostor).append(score_of(engine.distance(ta, tb)))
    g, i = np.array(genuine), np.array(impostor)
    print(f"{len(people)} people, {len(templates)} photos ({len(missed)} without a detected face), "
          f"{len(g)} genuine and {len(i)} impostor pairs; score = 1 - descriptor distance")
    print("| threshold | FAR | FRR |")
    print("|---|---|---|")
    for th in (0.36, 0.38, 0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.52, 0.54, 0.56, 0.58, 0.60):
        mark = " **chosen**" if abs(th - MATCH_THRESHOLD) < 1e-9 else ""
        print(f"| {th:.2f}{mark} | {np.mean(i >= th):.4%} ({int(np.sum(i >= th))}/{len(i)}) "
              f"| {np.mean(g < th):.2%} ({int(np.sum(g < th))}/{len(g)}) |")
    print(f"highest impostor score {i.max():.3f}, lowest genuine score {g.min():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--eval", action="store_true", help="print the FAR/FRR table of tests/data/faces and the "
                                                             "liveness table of the scripted sequences")
    parser.add_argument("--trials", type=int, default=2, help="--eval: liveness trials per challenge order")
    args = parser.parse_args()
    one_core()
    if args.eval:
        from bench.face_liveness_eval import evaluate_liveness

        evaluate()
        evaluate_liveness(FACES, trials=args.trials)
    else:
        bench(args.runs)


if __name__ == "__main__":
    main()
