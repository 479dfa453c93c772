"""The diagnostics camera and face self-test, headless on the simulators: the preview draws the
face box and the 68 landmarks and says the flows' quality-gate verdict; the liveness demo
asks a random pair of actions (the simulated person follows them) and says LIVE; with a
printed photo in front of the camera it says NOT LIVE and why. Each demo is audited."""

from __future__ import annotations

import asyncio

import pytest

from kiosk.app import KioskOptions, create_app
from kiosk.control import ControlRefused
from kiosk.diagnostics.widgets import OK_MARK

from .diagnostics_support import SimKiosk, login, make_diagnostics, screenshot, staff_actions, wait_text

pytestmark = pytest.mark.slow


@pytest.fixture(params=["citizen:resident", "print:resident"])
def camera_kiosk(request):
    devices = SimKiosk({"camera": {"source": request.param}})
    yield request.param, devices
    devices.stop()


def test_preview_landmarks_gate_and_liveness_demo(kivy_ui, tmp_path, camera_kiosk, artifacts):
    source, devices = camera_kiosk
    diag = make_diagnostics(tmp_path, devices.supervisor, liveness_time_s=2.0)
    try:
        kivy_ui.start(create_app(KioskOptions(lang="en", voice=False), [], diagnostics=diag))
        kivy_ui.wait_screen("home")
        login(kivy_ui, diag)
        kivy_ui.tap("diag.tab.camera")
        kivy_ui.tap("diag.camera.start")
        screen = kivy_ui.app.screens["diagnostics"]
        kivy_ui.wait_for(lambda: screen.preview is not None and screen.preview.last_check is not None
                         and screen.preview.last_landmarks is not None, 900, "a preview frame with landmarks")
        assert screen.preview.last_landmarks.shape == (68, 2) and screen.preview.texture is not None
        wait_text(kivy_ui, "diag.camera.status", lambda t: "1 face" in t and "passes" in t)  # the flows' gate
        kivy_ui.tap("diag.face.demo")
        wait_text(kivy_ui, "diag.face.prompt", lambda t: "Action 1 of 2" in t, 900)
        assert kivy_ui.app.screens["diagnostics"].face_picture.key.startswith("face.")
        screenshot(kivy_ui, artifacts / "diagnostics", f"08-face-demo-{source.split(':')[0]}-en")
        result = wait_text(kivy_ui, "diag.face.result", lambda t: "LIVE" in t, 1500)
        with pytest.raises(ControlRefused):  # a face on screen: no screenshot leaves the kiosk
            asyncio.run(diag.handler.screenshot())
        demo = screen.demo_result
        audited = [(e.action, e.reason) for e in staff_actions(diag)][-1]
        if source.startswith("citizen"):
            assert result.startswith(OK_MARK) and "NOT LIVE" not in result and demo.live
            assert devices.sims["camera"].prompts[-2:] == [c.value for c in demo.challenges]  # it followed the prompts
            assert audited == ("liveness_demo", "live")
        else:
            assert "NOT LIVE" in result and not demo.live and demo.passed == []
            assert audited == ("liveness_demo", f"not_live:{demo.reason.value}")
        assert screen.preview.paused is False  # the preview reads the camera again
    finally:
        diag.close()
