from kiosk.app import KioskOptions, create_app
from kiosk.autopilot import Autopilot

from .demo_support import demo_answers, demo_service


def test_demo_flow_by_touch(kivy_ui, artifacts, tmp_path):
    from .diagnostics_support import make_diagnostics

    diag = make_diagnostics(tmp_path, None)
    try:
        app = kivy_ui.start(create_app(KioskOptions(voice=False), [demo_service()], diagnostics=diag))
        pilot = Autopilot(app, "demo", demo_answers, screenshots=artifacts / "demo-zh", frames=kivy_ui.frames,
                          timeout_s=60)
        assert pilot.run() == 0
    finally:
        diag.close()
    # the fleet's health message counts the flow, and a flow_completed event waits for the agent
    counters = diag.handler.flows["demo"]
    assert (counters.started, counters.completed, counters.aborted) == (1, 1, 0)
    events = diag.handler.event_buffer.fetch(diag.handler.event_buffer.instance, 0, 100).events
    assert [(str(e.kind), e.flow) for e in events if e.flow] == [("flow_completed", "demo")]
    # ... with what the fleet's service statistics need: the step it ended on, its place, the duration
    done = next(e for e in events if e.flow)
    assert done.step and done.step_no >= 1 and done.duration_s is not None and done.reason == ""
