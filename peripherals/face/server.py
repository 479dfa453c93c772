"""The face process: `python -m peripherals.face.server`, dlib's models behind a pipe.

Started by peripherals/face/process_engine.py (the kiosk app's face engine), it reads
requests on stdin and answers on stdout (peripherals/face/wire.py), one at a time:

    {"op": "detect", "scale": s, "upsample": n} + [rgb] or [rgb, small]   → {"faces": [[x,y,w,h,score]...]} + landmarks
    {"op": "landmarks", "box": [x,y,w,h]} + [rgb]                       → {} + [landmarks (68,2)]
    {"op": "embed", "box": [x,y,w,h]} + [rgb]                           → {} + [descriptor (128,)]

It first writes {"ready": true, "name": ...} once the models are loaded (or
{"error": ..., "code": "face_engine_unavailable"} and exits 3). It exits when stdin
closes, so it never outlives the kiosk app, even after a kill -9. Why a process: the
models are ≈ 125 MiB the UI process does not need to hold (docs/memory.md). It imports
numpy, dlib and peripherals.face.dlib_models only — no OpenCV, no pydantic.
"""

from __future__ import annotations

import logging
import sys

from peripherals.face.wire import WireError, receive, send

log = logging.getLogger("peripherals.face.server")
NAME = "dlib-resnet-v1"


def serve(stdin, stdout) -> int:
    from peripherals.face.dlib_models import DlibModels
    from peripherals.face.errors import FaceEngineUnavailable

    try:
        models = DlibModels()
    except FaceEngineUnavailable as exc:
        send(stdout, {"error": str(exc), "code": exc.code})
        return 3
    send(stdout, {"ready": True, "name": NAME})
    while True:
        try:
            header, arrays = receive(stdin)
        except WireError:
            return 0  # the kiosk closed the pipe (or died): nothing more to do
        op = header.get("op")
        try:
            if op == "detect":
                rgb = arrays[0]
                small = arrays[1] if len(arrays) > 1 else None
                found = models.detect(rgb, small, float(header.get("scale", 1.0)), int(header.get("upsample", 0)))
                send(stdout, {"faces": [[*box, score] for box, score, _ in found]}, [p for _, _, p in found])
            elif op == "landmarks":
                send(stdout, {}, [models.landmarks(arrays[0], tuple(header["box"]))])
            elif op == "embed":
                send(stdout, {}, [models.embed(arrays[0], tuple(header["box"]))])
            else:
                send(stdout, {"error": f"unknown op {op!r}", "code": "bad_request"})
        except (IndexError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            send(stdout, {"error": f"{type(exc).__name__}: {exc}", "code": "bad_request"})


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main())
