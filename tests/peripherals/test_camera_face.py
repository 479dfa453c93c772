"""Face detection and the quality gate, on skimage.data.astronaut() and the simulator's scenes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from peripherals.camera.face import check_face, detect_faces, sharpness
from peripherals.camera.models import ISSUE_MESSAGES, FaceCheck, FaceCheckConfig, FaceIssue
from peripherals.camera.sim import scene

skimage_data = pytest.importorskip("skimage.data")


def test_haar_finds_exactly_one_face_on_astronaut():
    portrait = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    faces = detect_faces(portrait)
    assert len(faces) == 1
    face = faces[0]
    # Her face is at about x 177–272, y 66–161 of the 512×512 picture.
    assert 200 < face.cx < 250 and 90 < face.cy < 140
    assert 80 < face.w < 115


def test_gate_passes_a_well_placed_face():
    result = check_face(scene("face"))
    assert result.passed, result.reasons
    assert result.reasons == []
    assert result.faces_found == 1 and result.face is not None
    assert 70 < result.brightness < 210
    assert result.sharpness > FaceCheckConfig().min_sharpness
    assert (result.frame_width, result.frame_height) == (640, 480)
    assert result.message


@pytest.mark.parametrize(
    "name, reason",
    [
        ("empty", FaceIssue.NO_FACE),
        ("two_faces", FaceIssue.SEVERAL_FACES),
        ("dark", FaceIssue.TOO_DARK),
        ("blurred", FaceIssue.BLURRED),
        ("offcentre", FaceIssue.NOT_CENTRED),
    ],
)
def test_gate_fails_with_the_right_reason(name, reason):
    result = check_face(scene(name))
    assert not result.passed
    assert result.reasons == [reason]  # that reason and no other
    assert result.message == ISSUE_MESSAGES[reason]


@pytest.mark.parametrize("size", [(320, 240), (1280, 720)])
def test_gate_does_not_depend_on_resolution(size):
    assert check_face(scene("face", size)).passed
    assert check_face(scene("blurred", size)).reasons == [FaceIssue.BLURRED]


def test_size_thresholds_report_too_small_and_too_large():
    frame = scene("face")
    too_small = check_face(frame, FaceCheckConfig(min_face_fraction=0.4))
    assert too_small.reasons == [FaceIssue.FACE_TOO_SMALL]
    too_large = check_face(frame, FaceCheckConfig(max_face_fraction=0.2))
    assert too_large.reasons == [FaceIssue.FACE_TOO_LARGE]


def test_too_bright_is_reported():
    frame = cv2.convertScaleAbs(scene("face"), alpha=1.0, beta=110)  # washed out, still a face
    result = check_face(frame)
    assert FaceIssue.TOO_BRIGHT in result.reasons
    assert FaceIssue.NO_FACE not in result.reasons


def test_dark_face_is_not_called_blurred():
    # Sharpness is measured on a contrast-stretched face, so darkness alone does not read as blur.
    result = check_face(scene("dark"))
    assert result.sharpness > FaceCheckConfig().min_sharpness


def test_face_check_serialises_with_stable_codes():
    dumped = check_face(scene("two_faces")).model_dump(mode="json")
    assert dumped["reasons"] == ["several_faces"]
    assert FaceCheck.model_validate(dumped).reasons == [FaceIssue.SEVERAL_FACES]


def test_sharpness_orders_sharp_above_blurred():
    gray = cv2.cvtColor(scene("face"), cv2.COLOR_BGR2GRAY)[100:260, 240:400]
    assert sharpness(gray) > 5 * sharpness(cv2.GaussianBlur(gray, (0, 0), 4))


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 64), st.integers(1, 64), st.just(3))))
def test_gate_accepts_any_picture(frame):
    result = check_face(frame)
    assert result.passed == (not result.reasons)
    assert result.reasons  # random noise is never a usable face
