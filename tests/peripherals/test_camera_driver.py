"""OpenCvCamera over simcam://, over real files written with cv2.VideoWriter, and with missing devices."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from peripherals.base import DeviceKind
from peripherals.camera import sim
from peripherals.camera.driver import OpenCvCamera, redact
from peripherals.errors import DeviceNotPresent, DeviceTimeout

TIMEOUT = 0.3


@pytest.fixture(autouse=True)
def _forget_named():
    yield
    sim.forget()


def _camera(port: str, **options) -> OpenCvCamera:
    options.setdefault("read_timeout", TIMEOUT)
    return OpenCvCamera(port, **options)


def _moving(i: int, size=(160, 120)) -> np.ndarray:
    frame = np.full((size[1], size[0], 3), 60, np.uint8)
    cv2.rectangle(frame, (10 + 12 * i, 30), (40 + 12 * i, 90), (230, 200, 40), -1)
    return frame


def test_reads_frames_from_the_simulator():
    pytest.importorskip("skimage")
    with _camera("simcam://cam?source=face&size=320x240") as camera:
        frame = camera.read_frame()
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        assert sim.named("cam").frame_index == 3  # two warm-up frames, then ours
        info = camera.info()
        assert info.kind is DeviceKind.CAMERA and info.model == "simcam 320x240"


def test_self_test_passes_on_a_working_camera():
    result = _camera("simcam://cam?source=empty&size=160x120").self_test()
    assert result.passed, result.detail
    assert result.checks == {"frames": True, "not_black": True, "not_uniform": True, "not_frozen": True}


@pytest.mark.parametrize(
    "fault, failed",
    [("black", {"not_black", "not_uniform"}), ("frozen", {"not_frozen"})],
)
def test_self_test_catches_black_and_frozen_pictures(fault, failed):
    with _camera("simcam://cam?source=empty&size=160x120") as camera:
        sim.named("cam").inject(fault, 10)
        result = camera.self_test()
        assert not result.passed
        assert {name for name, ok in result.checks.items() if not ok} == failed
        sim.named("cam").clear_faults()
        assert camera.self_test().passed


def test_unplug_gives_not_present_and_the_next_open_after_replug_works():
    camera = _camera("simcam://cam?source=empty&size=160x120")
    camera.open()
    simulator = sim.named("cam")
    simulator.unplug()
    started = time.monotonic()
    with pytest.raises(DeviceNotPresent):
        camera.read_frame()
    assert time.monotonic() - started < TIMEOUT  # the device is gone: no need to wait out the deadline
    assert not camera.is_open
    with pytest.raises(DeviceNotPresent):
        camera.read_frame()
    with pytest.raises(DeviceNotPresent):
        camera.open()  # still unplugged
    simulator.replug()
    camera.open()
    assert camera.read_frame().shape == (120, 160, 3)
    camera.close()


def test_stalled_camera_times_out_and_the_next_read_succeeds():
    with _camera("simcam://cam?source=empty&size=160x120") as camera:
        simulator = sim.named("cam")
        simulator.inject("stall", 100_000)
        started = time.monotonic()
        with pytest.raises(DeviceTimeout):
            camera.read_frame()
        assert TIMEOUT * 0.8 <= time.monotonic() - started < TIMEOUT + 0.3
        simulator.clear_faults()
        assert camera.read_frame().shape == (120, 160, 3)


def test_a_short_stall_is_absorbed_by_retries():
    with _camera("simcam://cam?source=empty&size=160x120") as camera:
        sim.named("cam").inject("stall", 3)
        assert camera.read_frame().shape == (120, 160, 3)


def test_reads_failing_again_and_again_mean_the_camera_is_gone():
    with _camera("simcam://cam?source=empty&size=160x120", lost_after=2, read_timeout=0.1) as camera:
        sim.named("cam").inject("stall", 100_000)
        with pytest.raises(DeviceTimeout):
            camera.read_frame()
        with pytest.raises(DeviceNotPresent):
            camera.read_frame()
        assert not camera.is_open
        sim.named("cam").clear_faults()
        camera.open()
        assert camera.read_frame() is not None


def test_camera_that_opens_but_gives_no_picture_is_not_present():
    with pytest.raises(DeviceNotPresent, match="no picture"):
        _camera("simcam://cam?source=empty&faults=stall:100000", read_timeout=0.1).open()


def test_reads_a_real_mjpg_video_file(tmp_path):
    path = tmp_path / "kiosk.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    assert writer.isOpened()
    for i in range(6):
        writer.write(_moving(i))
    writer.release()
    with _camera(str(path), warmup_frames=1) as camera:  # open() used frame 0
        frames = [camera.read_frame() for _ in range(7)]  # frames 1-5, then the file loops: 0, 1
        assert all(f.shape == (120, 160, 3) for f in frames)
        # The rectangle moves 12 px right per frame, then starts again.
        columns = [int(np.argmax(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).max(axis=0) > 150)) for f in frames]
        expected = [10 + 12 * i for i in (1, 2, 3, 4, 5, 0, 1)]
        assert all(abs(c - e) <= 2 for c, e in zip(columns, expected)), columns
        assert camera.info().model.startswith("FFMPEG")
        assert camera.self_test().passed


def test_reads_an_image_sequence(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f_{i:02d}.png"), _moving(i))
    with _camera(str(tmp_path / "f_%02d.png")) as camera:
        assert camera.read_frame().shape == (120, 160, 3)


@pytest.mark.parametrize("port", ["99", "/dev/video99"])
def test_missing_device_is_not_present(port):
    camera = _camera(port)
    with pytest.raises(DeviceNotPresent):
        camera.open()
    assert not camera.is_open
    camera.close()  # safe after a failed open


def test_missing_or_unreadable_files_are_not_present(tmp_path):
    with pytest.raises(DeviceNotPresent):
        _camera(str(tmp_path / "nothing.avi")).open()
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(DeviceNotPresent):
        _camera(str(junk)).open()
    with pytest.raises(DeviceNotPresent):
        _camera(str(tmp_path / "missing_dir" / "f_%02d.png")).open()


def test_bad_simulator_sources_are_not_present_with_the_reason():
    with pytest.raises(DeviceNotPresent, match="no_such_scene"):
        _camera("simcam://cam?source=no_such_scene").open()
    with pytest.raises(DeviceNotPresent, match="unknown"):
        _camera("simcam://cam2?source=empty&colour=red").open()


def test_missing_scikit_image_is_reported_clearly(monkeypatch):
    import sys

    sim._scene.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage", None)
    try:
        with pytest.raises(DeviceNotPresent, match="scikit-image"):
            _camera("simcam://cam?source=face").open()
    finally:
        sim._scene.cache_clear()


def test_read_before_open_is_not_present():
    with pytest.raises(DeviceNotPresent):
        _camera("simcam://cam?source=empty").read_frame()


def test_passwords_never_reach_info():
    assert redact("rtsp://admin:secret@10.0.0.5/stream") == "rtsp://admin@10.0.0.5/stream"
    assert redact("/dev/video0") == "/dev/video0"
    assert "secret" not in _camera("rtsp://admin:secret@10.0.0.5/stream").info().port
