"""Drive the REAL UI through a flow by synthetic touches, saving every screen as a PNG.

The autopilot is a citizen with a script: for each view it decides the answer (the same
value the headless runner would send, from the shipped answers file), finds the widgets
that give that answer on the screen — option buttons, consent buttons, keypad keys,
region buttons, pinyin keys and candidates — and taps their centres with synthetic
touch events dispatched through Kivy's event loop, exactly as a finger would. It never
calls the flow runner directly. Frames are pumped by hand, so it runs headless
(SDL offscreen) and deterministically.

Widgets are found by their `kiosk_id` (see kiosk.widgets).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from flows.views import Consent, Error, FieldKind, Form, FormField, ViewBase, ViewKind

log = logging.getLogger(__name__)


# -- touches ----------------------------------------------------------------------------------


def _touch_class():
    from kivy.input.motionevent import MotionEvent

    class SyntheticTouch(MotionEvent):
        """A one-finger touch at window coordinates (as kivy.tests.common.UnitTestTouch, without pytest)."""

        def __init__(self, x: float, y: float):
            from kivy.base import EventLoop

            self.eventloop = EventLoop
            win = EventLoop.window
            super().__init__("SyntheticTouch", 1, {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)},
                             is_touch=True, type_id="touch")
            self.profile = ["pos"]

        def depack(self, args):
            self.sx, self.sy = args["x"], args["y"]
            super().depack(args)

        def touch_down(self):
            self.eventloop.post_dispatch_input("begin", self)

        def touch_up(self):
            self.eventloop.post_dispatch_input("end", self)

    return SyntheticTouch


_TOUCH = None


def tap(widget, frames: Callable[[int], None], touch_class=None) -> None:
    """Touch down and up at the widget's centre (window coordinates), pumping a frame after each."""
    global _TOUCH
    if touch_class is None:
        if _TOUCH is None:
            _TOUCH = _touch_class()
        touch_class = _TOUCH
    _scroll_into_view(widget, frames)
    x, y = widget.to_window(*widget.center)
    t = touch_class(x, y)
    t.touch_down()
    frames(1)
    t.touch_up()
    frames(1)


def _scroll_into_view(widget, frames: Callable[[int], None]) -> None:
    """As a citizen would: scroll a long page until the button is fully visible."""
    from kivy.uix.scrollview import ScrollView

    p = widget.parent
    while p is not None and p is not p.parent and not isinstance(p, ScrollView):
        p = p.parent
    if not isinstance(p, ScrollView):
        return
    wx, wy = widget.to_window(widget.x, widget.y)
    sx, sy = p.to_window(p.x, p.y)
    if wy >= sy and wy + widget.height <= sy + p.height:
        return
    p.scroll_to(widget, padding=20, animate=False)
    frames(2)


def walk(root) -> Iterator[Any]:
    stack = [root]
    while stack:
        w = stack.pop()
        yield w
        stack.extend(w.children)


def find_widget(root, kiosk_id: str):
    """The visible, enabled widget with this kiosk_id under root (overlays first)."""
    for w in walk(root):
        if getattr(w, "kiosk_id", None) == kiosk_id and not getattr(w, "disabled", False):
            return w
    return None


# -- answers as taps --------------------------------------------------------------------------


class TapFailed(RuntimeError):
    pass


class Performer:
    """Turns an answer value into taps on the current screen."""

    def __init__(self, app, frames: Callable[[int], None], on_page: Callable[[str], None] | None = None,
                 touch_class=None):
        self.app = app
        self.frames = frames
        self.on_page = on_page or (lambda _label: None)
        self.touch_class = touch_class

    @property
    def screen(self):
        return self.app.sm.current_screen

    def tap(self, kiosk_id: str) -> None:
        w = find_widget(self.screen, kiosk_id)
        if w is None:
            raise TapFailed(f"no button {kiosk_id!r} on the {self.screen.name} screen")
        self.press(w)

    def press(self, widget) -> None:
        """Give one button's answer: a tap here; keys in kiosk.autopilot_keys.KeyPerformer."""
        tap(widget, self.frames, self.touch_class)

    def answer(self, view: ViewBase, value: Any) -> None:
        kind = view.kind
        if kind is ViewKind.PROMPT:
            self.tap("prompt.continue")
        elif kind in (ViewKind.CHOICE, ViewKind.ERROR):
            if kind is ViewKind.ERROR and not isinstance(view, Error):
                raise TapFailed("not an error view")
            self.tap(f"option.{value}")
        elif kind is ViewKind.CONSENT:
            assert isinstance(view, Consent) and isinstance(value, dict)
            for item in view.items:  # one item per page in large-text and landscape modes
                self.tap(f"consent.{item.key}.{'yes' if value.get(item.key) else 'no'}")
                if find_widget(self.screen, "consent.next") is not None:
                    self.on_page(f"{view.step}-consent-{item.key}")
                    self.tap("consent.next")
            self.tap("consent.confirm")
        elif kind is ViewKind.FORM:
            assert isinstance(view, Form) and isinstance(value, dict)
            self.fill_form(view, value)
        elif kind is ViewKind.HELP:
            self.tap("help.return")
        elif kind is ViewKind.IDLE_WARNING:
            self.tap("idle.more_time")
        elif kind is ViewKind.RESULT:
            self.tap("result.continue")
        else:
            raise TapFailed(f"cannot answer a {kind.value} view")

    # -- forms ----------------------------------------------------------------------------
    def fill_form(self, view: Form, value: dict) -> None:
        from kiosk.screens.form import REGION_FIELDS

        screen = self.screen
        pages = screen.pages
        for i, page in enumerate(pages):
            if screen.page != i:
                raise TapFailed(f"form is on page {screen.page}, expected {i}")
            if page[0].name in REGION_FIELDS:
                self.pick_region({f.name: str(value.get(f.name, "")) for f in page}, view.step)
            else:
                field = page[0]
                self.type_field(field, value.get(field.name))
            self.on_page(f"{view.step}-{page[0].name}")
            self.tap("form.submit" if i == len(pages) - 1 else "form.next")
            screen = self.screen
            if screen.name != "form" or (getattr(screen, "page_error", None) and i < len(pages) - 1):
                if getattr(screen, "page_error", None):
                    raise TapFailed(f"the form refused {page[0].name}: {screen.page_error}")
                return

    def type_field(self, field: FormField, wanted: Any) -> None:
        screen = self.screen
        current = screen.values.get(field.name, "")
        text = "" if wanted is None else str(wanted)
        if field.kind is FieldKind.DATE:
            text = text.replace("-", "")
            current = current.replace("-", "")
        if field.kind is FieldKind.NUMBER and text.endswith(".0"):
            text = text[:-2]
        if current == text:
            return
        if field.kind is FieldKind.TEXT and field.name == "plate":
            self.tap("plate.clear")
            for i, ch in enumerate(text):
                self.tap(f"plate.province.{ch}" if i == 0 else f"plate.key.{ch.upper()}")
        elif field.kind is FieldKind.TEXT:
            self.tap("pinyin.clear")
            self.type_text(text)
        else:
            self.tap("keypad.clear") if find_widget(self.screen, "keypad.clear") else None
            while self.screen.values.get(field.name, ""):
                self.tap("keypad.delete")
            for ch in text:
                self.tap(f"keypad.{ch}")

    def type_text(self, text: str) -> None:
        """Word keys where a word fits (单元), else one character at a time."""
        from kiosk.widgets.pinyin_keyboard import WORDS

        words = sorted(WORDS, key=len, reverse=True)
        i = 0
        while i < len(text):
            word = next((w for w in words if text.startswith(w, i)), None)
            if word is not None:
                self.tap(f"pinyin.word.{word}")
                i += len(word)
            else:
                self.type_character(text[i])
                i += 1

    def type_character(self, ch: str) -> None:
        from kiosk.widgets.pinyin_keyboard import WORDS

        if ch.isdigit():
            self.tap(f"pinyin.digit.{ch}")
            return
        if ch in WORDS:
            self.tap(f"pinyin.word.{ch}")
            return
        keyboard = self.screen.input
        syllable = next((s for s, chars in keyboard.table.syllables.items() if ch in chars), None)
        if syllable is None:
            raise TapFailed(f"the pinyin keyboard cannot type {ch!r}")
        for letter in syllable:
            self.tap(f"pinyin.key.{letter}")
        for _ in range(10):
            for w in walk(keyboard.candidate_row):
                if getattr(w, "kiosk_id", "").startswith("pinyin.cand.") and w.text == ch:
                    self.press(w)
                    return
            more = find_widget(keyboard, "pinyin.more")
            if more is None:
                break
            self.press(more)
        raise TapFailed(f"no candidate {ch!r} for {syllable!r}")

    def pick_region(self, wanted: dict[str, str], step: str = "") -> None:
        picker = self.screen.input
        if all(picker.value.get(k) == v for k, v in wanted.items() if v):
            return
        if picker.value:
            self.tap("region.again")
        for level in ("province", "city", "district"):
            name = wanted.get(level)
            if not name or picker.level != level:
                continue
            self.on_page(f"{step}-pick_{level}")
            for _ in range(10):
                w = find_widget(picker, f"region.{level}.{name}")
                if w is not None:
                    self.press(w)
                    break
                nxt = find_widget(picker, "region.next")
                if nxt is None:
                    raise TapFailed(f"no {level} {name!r} in the region picker")
                self.press(nxt)


# -- screenshots ------------------------------------------------------------------------------


class Screenshots:
    """Numbered PNGs of what the window shows: 001-home.png, 002-read_id-prompt.png ..."""

    def __init__(self, directory: Path | None, frames: Callable[[int], None] | None = None):
        self.directory = directory
        self.frames = frames  # when given, the picture is taken in the next frame, before the buffer flip
        self.count = 0
        self.paths: list[Path] = []
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def take(self, label: str) -> Path | None:
        if self.directory is None:
            return None
        self.count += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
        target = self.directory / f"{self.count:03d}-{safe}.png"
        image = grab_next_frame(self.frames) if self.frames is not None else grab_window()
        image.save(target, compress_level=1)  # fast: zlib level 1 (Window.screenshot uses 6+)
        self.paths.append(target)
        return target


def grab_next_frame(frames: Callable[[int], None]):
    """Draw one frame and read it before the buffers are swapped (a double-buffered X11/Wayland
    window has an undefined back buffer after the swap; SDL offscreen does not care)."""
    from kivy.core.window import Window

    grabbed: list = []

    def on_flip(*_):
        if not grabbed:
            grabbed.append(grab_window())

    Window.canvas.ask_update()
    Window.fbind("on_flip", on_flip)
    try:
        frames(1)
    finally:
        Window.funbind("on_flip", on_flip)
    return grabbed[0] if grabbed else grab_window()


def grab_window():
    """What the window shows now, as a PIL RGB image (top row first): the pixels a citizen sees."""
    from kivy.core.window import Window
    from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels
    from PIL import Image

    width, height = Window.size
    data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
    return Image.frombytes("RGB", (width, height), data).transpose(Image.Transpose.FLIP_TOP_BOTTOM)


# -- the driver -------------------------------------------------------------------------------


Decide = Callable[[ViewBase], Any]  # view -> Action, IDLE (do nothing) or a bare answer value


class Autopilot:
    """Runs one flow from the home screen to its final view; returns the exit code.

    0 = the flow completed, 3 = it ended aborted (as `kiosk run-flow`), 2 = the
    autopilot could not go on (no answer, a button missing, time out). When
    `stop_requested()` turns true (SIGTERM) it stops at once with `stopped_code`.
    """

    stopped_code = 0

    def __init__(self, app, flow_name: str, decide: Decide, *, screenshots: Path | None = None,
                 frames: Callable[[int], None] | None = None, timeout_s: float = 300.0, touch_class=None,
                 stop_requested: Callable[[], bool] = lambda: False, performer: type["Performer"] | None = None):
        self.app = app
        self.stop_requested = stop_requested
        self.flow_name = flow_name
        self.decide = decide
        self.frames = frames or _pump
        self.shots = Screenshots(screenshots, self.frames)
        self.timeout_s = timeout_s
        self.events: list[tuple[str, ViewBase | None]] = []
        self.performer = (performer or Performer)(app, self.frames, on_page=self._page_shot, touch_class=touch_class)
        app.view_listeners.append(self._on_screen)

    def _on_screen(self, name: str, view: ViewBase | None) -> None:
        if not name.endswith(":update"):
            self.events.append((name, view))

    def _page_shot(self, label: str) -> None:
        self.frames(2)
        self.shots.take(label)

    def _label(self, name: str, view: ViewBase | None) -> str:
        if view is None:
            return name
        pictogram = getattr(view, "pictogram", None)  # a liveness challenge: which action it asks
        if pictogram:
            name = f"{pictogram.rsplit('.', 1)[-1]}-{name}"
        return f"{view.step or 'end'}-{name}" if not view.final else f"final-{name}"

    def run(self) -> int:
        app = self.app
        deadline = time.monotonic() + self.timeout_s
        self.frames(2)
        self.shots.take("home")
        self.events.clear()
        self.performer.tap(f"home.service.{self.flow_name}")
        answered: set[int] = set()
        retaps, started = 0, False
        while time.monotonic() < deadline:
            if self.stop_requested():
                return self.stopped_code
            self.frames(1)
            if not self.events:
                time.sleep(0.002)
                continue
            name, view = self.events.pop(0)
            started = started or view is not None
            if name == "home" and not started:
                # the home screen was redrawn (the back office came online, the fleet switched services)
                # under the finger: ignore it when the session started anyway, else tap the tile again
                if app.session.active:
                    continue
                if retaps < 3:
                    retaps += 1
                    self.events.clear()
                    self.frames(2)
                    self.performer.tap(f"home.service.{self.flow_name}")
                    continue
            if self.events:
                continue  # superseded (e.g. measuring progress) before it was drawn: the newest counts
            self.frames(2)
            self._settle()
            if self.events:
                continue
            if name == "home" and not self._started():
                continue  # home drawn again before the tile's tap took effect: not the end of a flow
            self.shots.take(self._label(name, view))
            if name == "home":
                return self._exit_code()
            if view is None:
                continue
            if view.final:
                self.frames(2)
                code = self._wait_end(deadline)
                self.performer.tap("result.done")
                self.frames(3)
                return code
            if view.awaits_answer and view.view_id not in answered and not self.events:
                answered.add(view.view_id)
                try:
                    self.perform(view, self.decide(view))
                except (TapFailed, LookupError) as e:
                    log.error("autopilot: %s", e)
                    return 2
        log.error("autopilot: the flow did not finish within %.0f s", self.timeout_s)
        return 2

    def _started(self) -> bool:
        session = self.app.session
        return session.active or session.last_status is not None

    def _settle(self, limit: int = 30) -> None:
        """A page that did not fit re-arranges itself within a few frames (kiosk.widgets.fit)."""
        from kiosk.widgets.fit import layout_pending

        for _ in range(limit):
            if not layout_pending():
                return
            self.frames(1)

    def perform(self, view: ViewBase, decision: Any) -> None:
        """Carry out an answers-file decision with taps (Cancel goes through its confirmation)."""
        from flows.views import Action, ActionKind

        if not isinstance(decision, Action):
            if type(decision).__name__ in ("_Idle", "Idle"):
                idle = getattr(self, "on_idle", None)
                if idle is not None:
                    idle(view)
                return
            decision = Action.answer(decision)
        kind = decision.kind
        if kind is ActionKind.ANSWER:
            self.performer.answer(view, decision.value)
        elif kind is ActionKind.CANCEL:
            self.performer.tap("nav.cancel")
            if find_widget(self.app.sm.current_screen, "cancel.yes") is not None:
                self.shots.take(self._label("cancel-confirm", view))
                self.performer.tap("cancel.yes")
        elif kind is ActionKind.HELP:
            self.performer.tap("nav.help")
        elif kind is ActionKind.BACK:
            self.performer.tap("nav.back")
        elif kind is ActionKind.MORE_TIME:
            self.performer.tap("idle.more_time")

    def _wait_end(self, deadline: float) -> int:
        while self.app.session.last_status is None and time.monotonic() < deadline:
            self.frames(1)
            time.sleep(0.002)
        return self._exit_code()

    def _exit_code(self) -> int:
        status = self.app.session.last_status
        return 0 if status == "completed" else 3 if status else 2


def _pump(n: int = 1) -> None:
    from kivy.base import EventLoop

    for _ in range(n):
        EventLoop.idle()
