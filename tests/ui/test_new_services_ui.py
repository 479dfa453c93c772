"""A new service through the REAL UI by synthetic touches (simulators, the reference back office),
every screen audited (targets, contrast, text fit): the transit-card top-up, from the home
screen's catalogue to the receipt. Screens kept under artifacts/ui/<flow>-<lang>/."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from kiosk.run import EXAMPLES
from kiosk.runflow import AnswerBook, SkippableClock
from kiosk.virtual import VirtualKiosk

from .audit import audit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def virtual():
    state = Path(tempfile.mkdtemp(prefix="kiosk-ui-new-"))
    vk = VirtualKiosk(state).start()
    yield vk
    vk.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.parametrize("flow, lang, kind, steps", [
    ("card-topup", "zh", "card_load_confirm", ("read_card", "amount", "review", "pay-measuring", "write", "print")),
    # the other new flows end with the shared address form (minutes of typing by touch on a loaded
    # machine); `kiosk run --virtual --headless --autopilot <flow>` runs them the same way
])
def test_new_service_by_touch(kivy_ui, artifacts, virtual, flow, lang, kind, steps):
    from flows.deps import FlowSettings
    from kiosk.app import KioskOptions, create_app
    from kiosk.autopilot import Autopilot

    spec = AnswerBook.load(EXAMPLES / f"{flow}.yaml")
    virtual.flow_settings = FlowSettings(**spec.settings)
    before = len(httpx.get(virtual.backoffice_url + f"/v1/submissions?kind={kind}", timeout=5).json())
    shots = artifacts / f"{flow}-{lang}"
    shutil.rmtree(shots, ignore_errors=True)
    app = create_app(KioskOptions(lang=lang, view_pacing_frames=3, final_linger_s=600, voice=False),
                     virtual.services(), flow_clock=SkippableClock())
    app.host_ready_hooks.append(lambda host: host.submit(virtual.warm_up()))
    app.stop_hooks.append(lambda host: host.submit(virtual.close_devices()).result(15))
    kivy_ui.start(app)
    app.host.submit(virtual.warm_up()).result(60)
    pilot = Autopilot(app, flow, AnswerBook(spec.answers, audio=virtual.audio).action_for, screenshots=shots,
                      frames=kivy_ui.frames, timeout_s=120)
    problems: list[str] = []
    take = pilot.shots.take

    def take_and_audit(label: str):
        path = take(label)
        problems.extend(audit(app.sm.current_screen, Image.open(path).convert("RGB"), lang))
        return path

    pilot.shots.take = take_and_audit
    assert pilot.run() == 0, f"ended {app.session.last_status} {app.session.last_reason}"
    assert not problems, "\n".join(problems)
    names = [p.name for p in pilot.shots.paths]
    for step in steps:
        assert any(step in n for n in names), f"no screenshot of {step}"
    after = httpx.get(virtual.backoffice_url + f"/v1/submissions?kind={kind}", timeout=5).json()
    assert len(after) == before + 1
