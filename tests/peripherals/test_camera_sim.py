"""The camera simulator: sources, frame stepping, faults, simcam:// URLs, and no scikit-image at run time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from peripherals.camera import sim
from peripherals.camera.errors import SceneUnavailable
from peripherals.camera.sim import SCENES, CameraFault, CameraSimulator, from_url, parse_faults

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _forget_named():
    yield
    sim.forget()


def _still(value: int, size=(64, 48)) -> np.ndarray:
    image = np.full((size[1], size[0], 3), value, np.uint8)
    image[10:20, 10:20] = 255 - value
    return image


@pytest.mark.parametrize("name", SCENES)
def test_every_builtin_scene_is_a_640x480_bgr_frame(name):
    pytest.importorskip("skimage")
    ok, frame = CameraSimulator(name).read()
    assert ok and frame.shape == (480, 640, 3) and frame.dtype == np.uint8


def test_frames_advance_one_per_read_and_differ_by_noise():
    camera = CameraSimulator([_still(50), _still(150)], noise=1)
    frames = [camera.read()[1] for _ in range(3)]
    assert camera.frame_index == 3 and camera.reads == 3
    assert abs(float(frames[0].mean()) - 50) < 10 and abs(float(frames[1].mean()) - 150) < 10
    assert abs(float(frames[2].mean()) - 50) < 10  # loops
    assert int(np.abs(frames[0].astype(int) - _still(50)).max()) <= 1


def test_two_reads_of_a_still_are_not_identical_but_deterministic():
    a = CameraSimulator([_still(100)], seed=3)
    b = CameraSimulator([_still(100)], seed=3)
    first, second = a.read()[1], a.read()[1]
    assert not np.array_equal(first, second)
    assert np.array_equal(first, b.read()[1])


def test_noise_saturates_at_black_and_white_as_clipping_would():
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:16] = 255
    picture[16:32] = 128
    camera = CameraSimulator([picture], noise=9, seed=5)
    for index in range(CameraSimulator.NOISE_PATTERNS + 1):
        frame = camera.read()[1]
        pattern = camera._noise_cache[picture.shape]
        offset = index % CameraSimulator.NOISE_PATTERNS
        expected = np.clip(picture.astype(np.int16) + pattern[offset:offset + 48], 0, 255).astype(np.uint8)
        assert frame.dtype == np.uint8 and np.array_equal(frame, expected)
    assert frame[:16].min() >= 246 and frame[32:].max() <= 9 and frame[16:32].std() > 1


def test_noise_zero_serves_the_picture_unchanged():
    assert np.array_equal(CameraSimulator([_still(80)], noise=0).read()[1], _still(80))


def test_black_and_frozen_faults():
    camera = CameraSimulator([_still(100), _still(200)], faults="black:2")
    assert camera.read()[1].max() == 0 and camera.read()[1].max() == 0
    last = camera.read()[1]
    camera.inject(CameraFault.FROZEN, 2)
    assert np.array_equal(camera.read()[1], last) and np.array_equal(camera.read()[1], last)
    assert not np.array_equal(camera.read()[1], last)


def test_stall_fails_reads_while_still_plugged():
    camera = CameraSimulator([_still(100)])
    camera.inject("stall", 2)
    assert camera.read() == (False, None) and camera.read() == (False, None)
    assert camera.plugged and camera.read()[0]


def test_unplug_fails_every_read_until_replug():
    camera = CameraSimulator([_still(100)])
    camera.inject("unplug")
    assert not camera.plugged
    assert [camera.read()[0] for _ in range(3)] == [False] * 3
    camera.replug()
    assert camera.read()[0]


def test_fps_paces_reads():
    camera = CameraSimulator([_still(100)], fps=50)
    started = cv2.getTickCount()
    for _ in range(6):
        camera.read()
    elapsed = (cv2.getTickCount() - started) / cv2.getTickFrequency()
    assert elapsed >= 5 / 50 * 0.9


def test_image_files_directory_glob_and_list(tmp_path):
    for i, value in enumerate((30, 130, 230)):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), _still(value))
    for source in (str(tmp_path), str(tmp_path / "f*.png"), f"{tmp_path / 'f2.png'},{tmp_path / 'f0.png'}"):
        camera = CameraSimulator(source, noise=0)
        assert camera.read()[1].shape == (48, 64, 3)
    assert CameraSimulator(str(tmp_path / "f1.png"), noise=0, size=(32, 24)).read()[1].shape == (24, 32, 3)


def test_video_file_loops(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for value in (20, 120, 220):
        writer.write(_still(value))
    writer.release()
    camera = CameraSimulator(path, noise=0)
    means = [float(camera.read()[1].mean()) for _ in range(4)]
    assert means[0] < means[1] < means[2] and abs(means[3] - means[0]) < 5
    once = CameraSimulator(path, loop=False)
    assert [once.read()[0] for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize("source", ["no_such_scene", "/no/such/file.avi", "/no/such/*.png", "/no/such.png"])
def test_bad_sources_raise_scene_unavailable(source):
    with pytest.raises(SceneUnavailable):
        CameraSimulator(source)


def test_face_scenes_without_scikit_image_fail_clearly(monkeypatch):
    sim._scene.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage", None)  # import skimage now raises ImportError
    try:
        with pytest.raises(SceneUnavailable, match="scikit-image"):
            CameraSimulator("face")
        assert CameraSimulator("empty").read()[0]  # the plain scene needs no scikit-image
    finally:
        sim._scene.cache_clear()


def test_url_options():
    name, options = from_url("simcam://lobby?source=two_faces&fps=15&size=320x240&noise=0&loop=no&seed=4&faults=black:2")
    assert name == "lobby"
    assert options == {
        "source": "two_faces", "fps": 15.0, "size": (320, 240), "noise": 0, "loop": False, "seed": 4, "faults": "black:2"
    }
    assert from_url("simcam://cam") == ("cam", {"source": "face"})
    with pytest.raises(ValueError):
        from_url("simcam://cam?colour=red")
    with pytest.raises(ValueError):
        parse_faults("melt:2")


def test_named_instances_are_shared_until_forgotten():
    first = sim.for_url("simcam://shared?source=empty")
    assert sim.for_url("simcam://shared?source=empty&noise=0") is first
    sim.forget("shared")
    assert sim.for_url("simcam://shared?source=empty") is not first


def test_runtime_path_never_imports_scikit_image(tmp_path):
    cv2.imwrite(str(tmp_path / "still.png"), _still(90))
    code = textwrap.dedent(
        f"""
        import sys
        from peripherals.camera import driver, face, photo, sim
        camera = driver.OpenCvCamera("simcam://a?source=empty", read_timeout=0.3)
        camera.open(); camera.read_frame(); camera.close()
        camera = driver.OpenCvCamera("simcam://b?source={tmp_path / 'still.png'}", read_timeout=0.3)
        camera.open(); face.check_face(camera.read_frame()); camera.close()
        assert "skimage" not in sys.modules, "skimage was imported"
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
