from kiosk.app import KioskOptions, create_app
from kiosk.autopilot import Autopilot

from .demo_support import demo_answers, demo_service


def test_demo_flow_by_touch(kivy_ui, artifacts):
    app = kivy_ui.start(create_app(KioskOptions(voice=False), [demo_service()]))
    pilot = Autopilot(app, "demo", demo_answers, screenshots=artifacts / "demo-zh", frames=kivy_ui.frames,
                      timeout_s=60)
    assert pilot.run() == 0
