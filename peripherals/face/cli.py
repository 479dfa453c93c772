"""`kiosk-devices face verify|liveness`: the face engine on image and video files.

  kiosk-devices face verify --reference IMG --probe IMG   → {"match", "score", ...}
  kiosk-devices face liveness --video FILE [--challenge blink,turn-left,...]  → {"live", "reason", ...}

Exit 0 whenever a decision was made (match or not, live or not). An image with no face,
an unreadable file or missing models: non-zero, one plain line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

import os

from peripherals.face.errors import ImageUnreadable, NoFaceFound

EXIT_NO_DECISION = 3


def _image(path: str, role: str):
    import cv2

    image = cv2.imread(path, cv2.IMREAD_COLOR) if os.path.isfile(path) else None
    if image is None:
        raise ImageUnreadable(f"{role} image {path!r}", kind="camera")
    return image


def cmd_verify(args: argparse.Namespace) -> int:
    from peripherals.face.engine import get_engine, largest_face
    from peripherals.face.verify import compare_templates

    engine = get_engine()
    templates = []
    for path, role in ((args.reference, "reference"), (args.probe, "probe")):
        image = _image(path, role)
        try:
            templates.append(engine.embed(image, largest_face(image, engine)))
        except NoFaceFound:
            raise NoFaceFound(f"{role} image {path!r}", kind="camera") from None
    verdict = compare_templates(*templates, threshold=args.threshold, engine=engine)
    print(json.dumps(verdict.model_dump(mode="json")), flush=True)
    return 0


def _parse_challenges(text: str | None):
    from peripherals.face.liveness import Challenge

    if not text:
        return None
    try:
        return [Challenge(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        names = ", ".join(c.value for c in Challenge)
        raise argparse.ArgumentTypeError(f"unknown challenge in {text!r}; known: {names}") from None


def cmd_liveness(args: argparse.Namespace) -> int:
    from peripherals.face.video import frames_of, judge_frames, observe_actions

    try:
        challenges = _parse_challenges(args.challenge)
    except argparse.ArgumentTypeError as exc:
        print(str(exc), file=sys.stderr)
        return 64
    frames = frames_of(args.video)
    if challenges:
        result = judge_frames(frames, challenges, time_limit_s=args.time_limit)
    else:
        result = observe_actions(frames)
    print(json.dumps(result.model_dump(mode="json")), flush=True)
    return 0


def add_parser(sub) -> None:
    from peripherals.face.verify import MATCH_THRESHOLD

    face = sub.add_parser("face", help="face verification and liveness on files").add_subparsers(dest="face_command", required=True)
    v = face.add_parser("verify", help="is the probe's face the reference's person?")
    v.add_argument("--reference", required=True, help="image of the card holder (e.g. the decoded card photo)")
    v.add_argument("--probe", required=True, help="image of the person at the kiosk")
    v.add_argument("--threshold", type=float, default=MATCH_THRESHOLD, help=f"score needed for a match (default {MATCH_THRESHOLD})")
    v.set_defaults(func=cmd_verify)
    lv = face.add_parser("liveness", help="challenge–response liveness on a video file")
    lv.add_argument("--video", required=True)
    lv.add_argument("--challenge", default=None, help="the order asked, e.g. blink,turn-left (default: any two actions)")
    lv.add_argument("--time-limit", type=float, default=5.0, help="seconds allowed per challenge")
    lv.set_defaults(func=cmd_liveness)
