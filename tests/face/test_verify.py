"""1:1 verification on real photos, and the `kiosk-devices face verify` command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from peripherals.face.errors import NoFaceFound
from peripherals.face.verify import MATCH_THRESHOLD, verify
from tests.face.conftest import FACES, photo


def test_same_person_matches_and_another_does_not():
    same = verify(photo("jackie_chan", 1), photo("jackie_chan", 2))
    other = verify(photo("jackie_chan", 1), photo("dick_cheney", 1))
    assert same.match and same.score >= MATCH_THRESHOLD
    assert not other.match and other.score < same.score
    assert same.method == "dlib-resnet-v1"


def test_an_image_without_a_face_is_a_typed_error():
    wall = np.full((480, 640, 3), 128, np.uint8)
    with pytest.raises(NoFaceFound):
        verify(wall, photo("jackie_chan", 1))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "peripherals.cli", "face", *args], capture_output=True, text=True, timeout=120)


def test_cli_verify_prints_one_json_line_and_exits_0_on_a_decision():
    run = _cli("verify", "--reference", str(FACES / "anthony_hopkins/1.jpg"), "--probe", str(FACES / "barack_obama/1.jpg"))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert answer["match"] is False and 0 <= answer["score"] < MATCH_THRESHOLD


def test_cli_verify_without_a_face_exits_non_zero_with_one_plain_line(tmp_path):
    import cv2

    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((480, 640, 3), 200, np.uint8))
    run = _cli("verify", "--reference", str(wall), "--probe", str(FACES / "barack_obama/1.jpg"))
    assert run.returncode != 0 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert "no face" in run.stderr and "reference" in run.stderr
    missing = _cli("verify", "--reference", str(tmp_path / "nope.jpg"), "--probe", str(wall))
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
