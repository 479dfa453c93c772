"""The licence photo: 260 × 378 px, head in the band health.md §7 gives, on white."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from peripherals.camera.errors import PhotoNotPossible
from peripherals.camera.face import check_face, detect_faces
from peripherals.camera.photo import HEAD_LENGTH_RANGE, HEAD_WIDTH_RANGE, PHOTO_HEIGHT, PHOTO_WIDTH, make_licence_photo
from peripherals.camera.sim import scene

pytest.importorskip("skimage")

CORNER = 12  # px: the top corners are background in any head-and-shoulders photo


@pytest.fixture(scope="module")
def photo():
    return make_licence_photo(scene("face"))


def test_photo_is_260_by_378(photo):
    assert (photo.width, photo.height) == (260, 378) == (PHOTO_WIDTH, PHOTO_HEIGHT)
    assert photo.image.shape == (378, 260, 3) and photo.image.dtype == np.uint8


def test_top_corners_are_white(photo):
    assert (photo.image[:CORNER, :CORNER] == 255).all()
    assert (photo.image[:CORNER, -CORNER:] == 255).all()
    assert 0.15 < photo.background_fraction < 0.7


def test_background_beside_the_head_is_white(photo):
    # Level with the eyes, the outer 10 px on each side are wall in the source frame.
    eyes = photo.face_box.y + photo.face_box.h // 3
    assert photo.image[eyes, :10].min() >= 250
    assert photo.image[eyes, -10:].min() >= 250


def test_estimated_head_is_in_the_rules_band(photo):
    head = photo.head_box
    assert HEAD_WIDTH_RANGE[0] <= head.w <= HEAD_WIDTH_RANGE[1]
    assert HEAD_LENGTH_RANGE[0] <= head.h <= HEAD_LENGTH_RANGE[1]
    assert abs(head.cx - PHOTO_WIDTH / 2) <= 2


def test_face_is_found_again_inside_the_expected_band(photo):
    faces = detect_faces(photo.image)
    assert len(faces) == 1
    face = faces[0]
    # Horizontally centred; the face box (brows to mouth, about head width / 1.2 = 137–158 px)
    # within detector jitter; its centre a little above the middle of the photo.
    assert abs(face.cx - PHOTO_WIDTH / 2) <= 15
    assert 125 <= face.w <= 170
    assert 160 <= face.cy <= 200
    # The face pixels themselves survived the background replacement.
    assert photo.image[face.y : face.y + face.h, face.x : face.x + face.w].mean() < 230


def test_jpeg_bytes_follow_the_file_rules(photo):
    assert photo.format == "jpeg" and photo.media_type == "image/jpeg"
    assert photo.data[:2] == b"\xff\xd8"
    assert photo.jpeg_quality >= 70
    assert photo.size_bytes <= 30_000
    decoded = cv2.imdecode(np.frombuffer(photo.data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (378, 260, 3)
    assert decoded[:CORNER, :CORNER].min() >= 245


def test_png_is_lossless():
    photo = make_licence_photo(scene("face", (320, 240)), fmt="png")
    assert photo.data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = cv2.imdecode(np.frombuffer(photo.data, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decoded, photo.image)


def test_photo_uses_the_box_from_a_passed_check():
    frame = scene("face", (320, 240))
    check = check_face(frame)
    assert check.passed
    photo = make_licence_photo(frame, face=check.face)
    assert photo.image.shape == (378, 260, 3)


def test_photo_repr_and_dump_carry_no_picture(photo):
    assert "data=" not in repr(photo) and "image=" not in repr(photo)
    assert "image" not in photo.model_dump()


@pytest.mark.parametrize("name, reason", [("empty", "no_face"), ("two_faces", "several_faces")])
def test_no_photo_without_exactly_one_face(name, reason):
    with pytest.raises(PhotoNotPossible) as info:
        make_licence_photo(scene(name, (320, 240)))
    assert info.value.reasons == [reason]
    assert info.value.code == "photo_not_possible"


def test_no_photo_when_the_head_is_cut_by_the_edge():
    frame = scene("face")
    check = check_face(frame)
    cut = frame[check.face.y + check.face.h // 3 :, :]  # the top of the head is out of the frame
    with pytest.raises(PhotoNotPossible) as info:
        make_licence_photo(cut, face=check.face.model_copy(update={"y": check.face.y - check.face.h // 3}))
    assert info.value.reasons == ["not_centred"]


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(8, 96), st.integers(8, 96), st.just(3))))
def test_any_picture_gives_a_photo_or_photo_not_possible(frame):
    try:
        photo = make_licence_photo(frame)
    except PhotoNotPossible as exc:
        assert exc.reasons
    else:
        assert photo.image.shape == (378, 260, 3)
