"""Every screen type, in every mode, laid out without clipping, hiding, scrolling or overlap.

The views are the real ones: four of the shipped flows run headless once (`kiosk run-flow` on
the simulators with its examples/answers file, in parallel, a few seconds), and every
kind of view they showed (the one with the most text) is rendered in zh and en, normal and elderly, 1080×1920 portrait
and 1920×1080 landscape. Form pages, region-picker levels, consent pages and the
"really cancel?" question are opened too. The checks (tests/ui/layout_check.py) read
the widget tree, so no screenshot is needed and a mode takes a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from flows.common_steps import RETRY, STAFF
from flows.views import Error, Help, IdleWarning, ViewKind, msg, view_from_json

from .contrast_check import check_contrast
from .layout_check import check_layout

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ("licence-renewal", "traffic-fines", "inspection-label", "tax-invoice")  # every kind of view between them
SHOTS = os.environ.get("KIOSK_LAYOUT_SHOTS")
# (language, text size, high contrast, window): 10 modes, every screen type in each.
# - Portrait: zh/en × normal/elderly, and the larger text-size step in both languages.
# - Landscape: zh/en × elderly and × larger. Normal landscape is left out: in landscape nothing
#   depends on the text size except the scale (answers two a row, one consent a page and the
#   right-hand pane apply at every size), so it is the larger step's layout at 1.0 instead of 1.12.
# - High contrast in one pass each way: colours move nothing, and the contrast of every text is
#   checked in every mode.
MODES = [(lang, step, False, (1080, 1920)) for step in ("normal", "elderly") for lang in ("zh", "en")] + [
    ("en", "larger", True, (1080, 1920)), ("zh", "larger", False, (1080, 1920))] + [
    (lang, "elderly", False, (1920, 1080)) for lang in ("zh", "en")] + [
    ("zh", "larger", True, (1920, 1080)), ("en", "larger", False, (1920, 1080))]


def _signature(view) -> tuple:
    """Views that lay out alike: same kind, picture, number of answers, field kinds, device."""
    fields = tuple("region" if f.name in ("province", "city", "district") else f.kind.value
                   for f in getattr(view, "fields", ()))
    count = len(getattr(view, "options", ()) or getattr(view, "items", ()))
    return (view.kind, bool(getattr(view, "image", None)), count, fields, view.final, getattr(view, "device", None),
            bool(getattr(view, "illustration", None)), view.awaits_answer)


def _text_length(view) -> int:
    """How much text a view shows in both languages (the longest of its kind is the hardest to fit)."""
    from kiosk.i18n import Translator

    msgs = [m for m in (getattr(view, k, None) for k in ("message", "instruction", "what", "next", "topic")) if m]
    msgs += [o.label for o in getattr(view, "options", ())] + [i.text for i in getattr(view, "items", ())]
    msgs += [f.label for f in getattr(view, "fields", ())] + list(getattr(view, "details", ()))
    return sum(len(tr.msg(m)) for tr in (Translator("zh"), Translator("en")) for m in msgs)


@pytest.fixture(scope="module")
def real_views():
    """The distinct views the five shipped flows show, from headless runs on the simulators."""
    tmp = Path(tempfile.mkdtemp(prefix="kiosk-layout-"))
    procs = {}
    for flow in FLOWS:
        out = (tmp / f"{flow}.jsonl").open("wb")
        procs[flow] = (subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "run-flow", flow, "--answers", str(ROOT / "examples/answers" / f"{flow}.yaml"),
             "--devices", "sim", "--state-dir", str(tmp / flow)], stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT), out)
    kinds: dict[tuple, object] = {}
    for flow, (proc, out) in procs.items():
        assert proc.wait(timeout=240) == 0, f"kiosk run-flow {flow} failed"
        out.close()
        for line in (tmp / f"{flow}.jsonl").read_text().splitlines():
            if '"kind"' not in line:
                continue
            try:
                view = view_from_json(line)
            except Exception:
                continue  # the outcome line
            best = kinds.get(_signature(view))
            if best is None or _text_length(view) > _text_length(best):
                kinds[_signature(view)] = view
    views = list(kinds.values())
    extra = [
        Error(code="service_failed", what=msg("error.service_failed.what"), next=msg("error.service_failed.next"),
              options=(RETRY, STAFF), awaits_answer=True, step="submit", flow="licence-renewal", can_back=True),
        Error(code="device_fault", what=msg("error.device_fault.what"), next=msg("error.device_fault.next"),
              final=True, step="bp", flow="licence-renewal"),
        Help(topic=msg("help.licence-renewal.colour"), awaits_answer=True, step="colour", flow="licence-renewal"),
        IdleWarning(seconds=30, timeout_s=30, extensions_left=9, awaits_answer=True, step="address",
                    flow="licence-renewal"),
    ]
    kinds = {v.kind for v in views + extra}
    assert kinds == set(ViewKind), f"no real view of kind {set(ViewKind) - kinds}"
    return views + extra


@pytest.fixture
def window_size():
    from kivy.core.window import Window

    before = Window.size
    yield lambda size: setattr(Window, "size", size)
    Window.size = before


@pytest.mark.parametrize("lang,step,high_contrast,size", MODES,
                         ids=[f"{lang}-{step}{'-hc' if hc else ''}-{w}x{h}" for lang, step, hc, (w, h) in MODES])
def test_every_screen_fits(kivy_ui, window_size, real_views, lang, step, high_contrast, size):
    from kivy.core.window import Window

    from kiosk.app import KioskOptions, create_app
    from kiosk.kivy_setup import DisplayOptions
    from kiosk.screens.form import REGION_FIELDS

    from flows import registry
    from kiosk.app import ServiceEntry
    from kiosk.virtual import ICONS

    window_size(size)
    services = [ServiceEntry(name=n, make_flow=lambda n=n: registry.create(n), icon=ICONS.get(n, ""))
                for n in registry.FLOWS]  # the real home tiles (the layout needs no devices)
    elderly = step == "elderly"
    app = create_app(KioskOptions(lang=lang, elderly=elderly, high_contrast=high_contrast, display=DisplayOptions(
        width=size[0], height=size[1], headless=True, fullscreen=False)), services)
    app.larger = step == "larger"
    app._update_sizes()
    kivy_ui.start(app)
    assert tuple(Window.size) == size
    min_target = 90 if elderly else 60

    def settle() -> None:
        """Run the layout and text triggers without drawing (drawing is what costs time here)."""
        from kivy.clock import Clock

        from kiosk.widgets.fit import layout_pending

        for i in range(80):
            Clock.tick()
            Clock.tick_draw()  # the layout triggers (timeout -1) run here, before a frame would be drawn
            if i >= 5 and not layout_pending():
                break

    problems: list[str] = []
    checked = 0

    def check(what: str) -> None:
        nonlocal checked
        settle()
        found = check_layout(app.sm.current_screen, size, min_target) + check_contrast(app.sm.current_screen)
        problems.extend(f"[{what}] {p}" for p in found)
        checked += 1
        if SHOTS:  # KIOSK_LAYOUT_SHOTS=DIR: also draw and keep every screen (slow; for looking at them)
            from kiosk.autopilot import grab_window

            kivy_ui.frames(2)
            folder = Path(SHOTS) / f"{lang}-{step}{'-hc' if high_contrast else ''}-{size[0]}x{size[1]}"
            folder.mkdir(parents=True, exist_ok=True)
            safe = "".join(c if c.isalnum() else "_" for c in what)
            grab_window().save(folder / f"{checked:03d}-{'BAD-' if found else ''}{safe}.png", compress_level=1)

    app.show_home()
    check("home")
    app.screens["home"].show_access()
    check("home access panel")
    for view in real_views:
        app.show_view(view)
        label = f"{view.flow}/{view.step}/{view.kind.value}"
        check(label)
        screen = app.sm.current_screen
        if view.kind is ViewKind.FORM:
            for page in range(1, len(screen.pages)):
                screen.page = page
                screen._rebuild()
                check(f"{label} page {page + 1}")
                if screen.pages[page][0].name in REGION_FIELDS:
                    screen.input.choose("重庆市")
                    check(f"{label} districts")
        elif view.kind is ViewKind.CONSENT:
            for page in range(1, screen.pages()):
                screen.page = page
                screen._turn(0)
                check(f"{label} page {page + 1}")
        elif view.kind is ViewKind.CHOICE and view.step == "review":
            screen.ask_cancel()
            check(f"{label} cancel?")
    app.set_out_of_service("devices")
    check("out of service")
    assert checked > 30
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])
