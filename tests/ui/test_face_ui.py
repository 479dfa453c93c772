"""The face real-name check through the REAL UI (headless, synthetic touches) on the virtual
kiosk: a printed-photo attack at the tax invoice is refused, the error screen offers staff,
staff confirm with the kiosk's staff PIN (the diagnostics PIN store, typed as dots, audited)
and the flow goes on; the challenge screen shows which action it asks. (The invoice issued
with method "staff": tests/flows/test_staff_identity_check.py.)"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from kiosk.run import EXAMPLES, staff_pin_for
from kiosk.runflow import AnswerBook, SkippableClock
from kiosk.virtual import VirtualKiosk

from .diagnostics_support import PIN, make_diagnostics, staff_actions

pytestmark = pytest.mark.slow


@pytest.fixture
def attacked_kiosk():
    state = Path(tempfile.mkdtemp(prefix="kiosk-ui-face-"))
    spec = AnswerBook.load(EXAMPLES / "tax-invoice-photo-attack.yaml")
    vk = VirtualKiosk(state, sim_options=spec.sim).start()
    yield vk, spec, state
    vk.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.timeout(240)
def test_photo_attack_refused_then_staff_confirm_with_the_pin(kivy_ui, artifacts, attacked_kiosk):
    from flows.deps import FlowSettings
    from flows.views import Error, Measuring
    from kiosk.app import KioskOptions, create_app
    from kiosk.autopilot import Autopilot

    virtual, spec, state = attacked_kiosk
    virtual.flow_settings = FlowSettings(**{**spec.settings, "face_frame_interval_s": 0.0})
    diag = make_diagnostics(state, None)  # the app's staff PIN store
    virtual.staff_pin = staff_pin_for(diag)
    shots = artifacts / "tax-invoice-photo-attack"
    shutil.rmtree(shots, ignore_errors=True)
    app = create_app(KioskOptions(lang="zh", view_pacing_frames=3, final_linger_s=600, voice=False),
                     virtual.services(), flow_clock=SkippableClock(), diagnostics=diag)
    app.stop_hooks.append(lambda host: host.submit(virtual.close_devices()).result(15))
    kivy_ui.start(app)
    app.host.submit(virtual.warm_up()).result(60)
    typed: list[str] = []
    views: list = []
    app.view_listeners.append(lambda _name, view: views.append(view) if view is not None else None)
    answers = {**spec.answers, "details": "@cancel"}  # staff confirmed: the rest is the tax flow's own tests
    pilot = Autopilot(app, "tax-invoice", AnswerBook(answers).action_for, screenshots=shots,
                      frames=kivy_ui.frames, timeout_s=180)
    page_shot = pilot._page_shot

    def on_page(label: str) -> None:  # what the PIN box shows once staff typed it
        if label.endswith("staff_pin"):
            typed.append(app.sm.current_screen.entry.value_text)
        page_shot(label)

    pilot.performer.on_page = on_page
    try:
        assert pilot.run() == 3 and app.session.last_reason == "cancelled", app.session.last_reason
    finally:
        diag.close()
    challenges = [v for v in views if isinstance(v, Measuring) and v.pictogram]
    assert challenges and challenges[0].pictogram == f"face.{challenges[0].instruction.key.rsplit('.', 1)[1]}"
    assert challenges[0].detail.key == "face.challenge.step"
    refused = next(v for v in views if isinstance(v, Error))
    assert refused.code == "face_not_live" and [o.key for o in refused.options] == ["retry", "staff"]
    names = [p.name for p in pilot.shots.paths]
    assert any("face-error" in n for n in names) and any(n.endswith("-measuring.png") and "face-" in n and
                                                         n.split("-")[2] in ("blink", "turn", "nod", "open")
                                                         for n in names), names
    assert typed == ["●" * len(PIN)]  # never the digits on the citizen's screen
    assert [(e.action, e.reason) for e in staff_actions(diag)] == [("identity_check", "confirmed")]
    assert any(v.step == "details" for v in views)  # past the real-name check
