"""The path without sight (issue 22, Section 508 402.2 / 407.3): a whole licence renewal — the
medical check included — driven by key events only, with the speech going to a file.

No touch reaches the window (the autopilot's touch class refuses to exist). The kiosk's keypad
sends key codes (kiosk/keys.py); the audio guide (kiosk/guide.py) reads each screen — its title,
what it says, its choices — and says each choice as the arrow keys reach it; the test checks
in the speech file that every screen's title and choices were said, and the result.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from flows.deps import FlowSettings
from flows.views import Choice, ViewKind
from kiosk.run import EXAMPLES
from kiosk.runflow import AnswerBook, SkippableClock
from kiosk.virtual import VirtualKiosk

pytestmark = pytest.mark.slow


class NoTouch:
    def __init__(self, *a, **kw):
        raise AssertionError("a touch was sent: the keypad path must not need the screen")


@pytest.fixture(scope="module")
def virtual():
    spec = AnswerBook.load(EXAMPLES / "licence-renewal.yaml")
    state = Path(tempfile.mkdtemp(prefix="kiosk-keys-"))
    vk = VirtualKiosk(state, sim_options=spec.sim, flow_settings=FlowSettings(**spec.settings)).start()
    yield vk, spec
    vk.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.timeout(300)  # a whole renewal, as long as the touch one (64 s at load 11 on the shared 2 cores)
def test_a_whole_renewal_by_keypad_with_spoken_guidance(kivy_ui, virtual, tmp_path):
    from kiosk.app import KioskOptions, create_app
    from kiosk.autopilot import Autopilot
    from kiosk.autopilot_keys import KeyPerformer
    from kiosk.tts import FileSpeaker

    vk, spec = virtual
    url = vk.backoffice_url + "/v1/submissions?kind=licence_renewal"
    before = len(httpx.get(url, timeout=5).json())
    speaker = FileSpeaker(tmp_path / "speech.jsonl")
    app = create_app(KioskOptions(lang="zh", view_pacing_frames=3, final_linger_s=600, private_audio=True),
                     vk.services(), speaker=speaker, flow_clock=SkippableClock())
    app.stop_hooks.append(lambda host: host.submit(vk.close_devices()).result(15))
    kivy_ui.start(app)
    app.host.submit(vk.warm_up()).result(60)
    views = []
    app.view_listeners.append(lambda name, view: views.append(view) if view is not None and ":" not in name else None)
    pilot = Autopilot(app, "licence-renewal", AnswerBook(spec.answers, audio=vk.audio).action_for,
                      frames=kivy_ui.frames, timeout_s=240, performer=KeyPerformer, touch_class=NoTouch)
    assert pilot.run() == 0, f"ended {app.session.last_status} {app.session.last_reason}"
    assert len(httpx.get(url, timeout=5).json()) == before + 1  # exactly one renewal reached the back office

    tr = app.tr
    said = [line["text"] for line in speaker.lines()]
    whole = "\n".join(said)
    (Path(__file__).resolve().parents[2] / "artifacts" / "ui").mkdir(parents=True, exist_ok=True)
    shutil.copy(speaker.path, Path(__file__).resolve().parents[2] / "artifacts" / "ui" / "renewal-keypad-speech.jsonl")
    assert said[0] == tr("ui.home.prompt")  # before any key: the loudspeaker's short prompt
    assert said[1].startswith(tr("ui.guide.on"))  # the first key switched the guide on, and it read home
    title = tr("service.licence-renewal.title")
    readings = [s for s in said if s.startswith(title)]  # a screen's reading begins with its title

    def read(view) -> str:
        """The reading of this view: the first one that has its message and all its choices."""
        message = tr.msg(getattr(view, "message", None)) if getattr(view, "message", None) else ""
        wanted = [message.split("\n")[0]] + [tr.msg(o.label) for o in getattr(view, "options", ())]
        hit = next((r for r in readings if all(w in r for w in wanted)), None)
        assert hit is not None, f"no reading of {view.step} {view.kind.value} with {wanted}"
        return hit

    asked = [v for v in views if v.awaits_answer and not v.final]
    assert {v.step for v in asked} >= {"consent", "vision", "colour", "hearing", "bp", "review", "address"}
    for v in asked:
        if v.kind is ViewKind.CHOICE:
            read(v)
    # the medical check, each answered on the keypad: glasses, five colour plates, every hearing trial
    plates = [v for v in asked if isinstance(v, Choice) and v.step == "colour"]
    assert len(plates) >= 5 and all(any(f"{tr.msg(o.label)}" in read(p) for o in p.options) for p in plates)
    assert len([v for v in asked if v.step == "hearing" and v.kind is ViewKind.CHOICE]) >= 10
    for eye in ("right", "left"):  # the eye tester's own arrow pad answers the E; its instructions are read
        assert tr("vision.look_into_tester", eye=eye).split("，")[0] in whole
    # typing: the phone number's digits were echoed (private audio), the street typed by letters
    assert "\n".join("13912345678") in whole or "1\n3\n9" in whole
    final = next(v for v in views if v.final)
    result = said[-1] if tr("ui.result.success") in said[-1] else next(s for s in said if tr("ui.result.success") in s)
    assert tr.msg(final.message).split("\n")[0] in result
    assert app.sm.current == "home" and not app.guide.on  # the session ended: the next citizen starts afresh
    assert speaker.volume == 0.6
