"""The whole licence renewal through the REAL UI: simulators, the reference back office, synthetic touches.

Every screen is kept as a PNG under artifacts/ui/renewal-<lang>/ (repository root,
gitignored), numbered in the order shown. The autopilot answers from the shipped
examples/answers/licence-renewal.yaml exactly as `kiosk run --virtual --headless
--autopilot licence-renewal` does; it finds buttons, keypad keys, region buttons, pinyin
keys and candidates on the screen and taps their centres.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from flows.deps import FlowSettings
from kiosk.run import EXAMPLES
from kiosk.runflow import AnswerBook, SkippableClock
from kiosk.virtual import VirtualKiosk
from PIL import Image

from .audit import audit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def virtual():
    spec = AnswerBook.load(EXAMPLES / "licence-renewal.yaml")
    state = Path(tempfile.mkdtemp(prefix="kiosk-ui-"))
    vk = VirtualKiosk(state, sim_options=spec.sim, flow_settings=FlowSettings(**spec.settings)).start()
    yield vk, spec
    vk.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_licence_renewal_by_touch(kivy_ui, artifacts, virtual, lang):
    from kiosk.app import KioskOptions, create_app
    from kiosk.autopilot import Autopilot
    from kiosk.tts import RecordingSpeaker

    vk, spec = virtual
    before = len(httpx.get(vk.backoffice_url + "/v1/submissions?kind=licence_renewal", timeout=5).json())
    shots = artifacts / f"renewal-{lang}"
    shutil.rmtree(shots, ignore_errors=True)
    speaker = RecordingSpeaker()
    clock = SkippableClock()
    app = create_app(KioskOptions(lang=lang, view_pacing_frames=3, final_linger_s=600), vk.services(),
                     speaker=speaker, flow_clock=clock)
    app.host_ready_hooks.append(lambda host: host.submit(vk.warm_up()))
    app.stop_hooks.append(lambda host: host.submit(vk.close_devices()).result(15))
    kivy_ui.start(app)
    app.host.submit(vk.warm_up()).result(60)
    book = AnswerBook(spec.answers, audio=vk.audio)
    pilot = Autopilot(app, "licence-renewal", book.action_for, screenshots=shots, frames=kivy_ui.frames,
                      timeout_s=150)
    problems: list[str] = []
    take = pilot.shots.take

    def take_and_audit(label: str):
        path = take(label)  # the audit reads the very PNG kept as the artefact
        problems.extend(audit(app.sm.current_screen, Image.open(path).convert("RGB"), lang))
        return path

    pilot.shots.take = take_and_audit
    assert pilot.run() == 0, f"ended {app.session.last_status} {app.session.last_reason}"
    assert not problems, "\n".join(problems)

    names = [p.name for p in pilot.shots.paths]
    assert names[0] == "001-home.png" and names[-1].endswith("final-result.png")
    for step in ("read_id", "consent", "vision", "colour", "hearing", "height", "bp", "photo", "review",
                 "address-pick_province", "address-street", "pay-measuring", "print"):
        assert any(step in n for n in names), f"no screenshot of {step}"
    after = httpx.get(vk.backoffice_url + "/v1/submissions?kind=licence_renewal", timeout=5).json()
    assert len(after) == before + 1  # exactly one renewal reached the back office
    assert app.sm.current == "home"  # "Done" ended the session
    spoken = " ".join(text for _, text in speaker.spoken)
    assert spoken and "王晓东" not in spoken and "13912345678" not in spoken and "128/82" not in spoken
