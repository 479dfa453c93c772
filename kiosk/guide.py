"""The path without sight (Section 508 402.2 speech output, 407.3 tactile controls).

A citizen who cannot see the screen plugs in the headphones and presses any key of the kiosk's
keypad (kiosk/keys.py): from then on, for the rest of the session, every screen is read — its
title, what it says and its choices — and the keys drive every step: up/down move a visible
focus ring among the choices and say each one, Enter selects, Esc goes back, F1 is help, F2
repeats, Pause stops the speech, +/- change the volume, digits and letters type into the
on-screen keypads and keyboards.

The guide is a view of the screen the app shows (which is itself a view of the flow's state): it
reads the widgets' texts and presses the same buttons a finger would, so a keypad citizen and a
touch citizen go through the same code. What it says: choices (the kiosk's own words) are read
as shown; the screen's message is the catalog template with its parameters removed, like every
other spoken text (kiosk/tts.py), unless the audio is private (`KioskOptions.private_audio`: the
speech goes only to the headphone jack), when the whole screen is read as shown (402.2.1, 402.2.2:
a blind citizen must hear the summary to check it). The guide, its volume and its focus are
reset when the session ends (402.3.2).
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.uix.label import Label

from kiosk.keys import Command, KeyPress, key_press
from kiosk.tts import DEFAULT_VOLUME, MAX_VOLUME, MIN_VOLUME, speech_text
from kiosk.widgets.focus import FocusRing

# The on-screen key a typed character presses, by screen widget (first found wins).
CHAR_KEYS = ("keypad.{c}", "pinyin.digit.{c}", "pinyin.key.{c}", "plate.key.{C}", "home.search.key.{C}")
DELETE_KEYS = ("keypad.delete", "pinyin.delete", "plate.delete")
CHAR_PREFIXES = ("keypad.", "pinyin.key.", "pinyin.digit.", "plate.key.", "home.search.key.")
MAIN_ACTIONS = ("form.", "consent.confirm", "consent.next", "prompt.", "result.", "help.return", "idle.")
MAX_LISTED = 8  # more choices than this: say how many, not each one


def _is_char_key(kid: str) -> bool:
    return kid.startswith(CHAR_PREFIXES) and kid.rsplit(".", 1)[-1] not in ("clear", "delete")


def focus_group(kid: str) -> int:
    """Order of the focus ring: answers, the main action, character keys (typed directly), the footer,
    the session settings in the header last (a blind citizen wants the answers first)."""
    if kid.startswith("chrome."):
        return 4
    if kid.startswith("nav."):
        return 3
    if _is_char_key(kid):
        return 2
    if kid.startswith(MAIN_ACTIONS):
        return 1
    return 0


def ordered(root) -> list:
    """Widgets in reading order (Kivy keeps children last-added first)."""
    out, stack = [], [root]
    while stack:
        w = stack.pop()
        out.append(w)
        stack.extend(w.children)  # children[0] is the last added: popped last
    return out


def label_of(widget) -> str:
    """What a button says: its text as written (before line wrapping), or its texts (a home tile)."""
    text = getattr(widget, "source_text", None) or getattr(widget, "text", "") or ""
    if not text:
        parts = [getattr(w, "source_text", None) or w.text for w in ordered(widget)
                 if w is not widget and isinstance(w, Label) and w.text]
        text = " ".join(parts)
    return text.replace("\n", " ").strip()


class AudioGuide:
    def __init__(self, app: Any, *, private: bool = False, on: bool = False):
        self.app = app
        self.private = private
        self.default_on = on
        self.on = on
        self.focus_id: str | None = None
        self.ring = FocusRing()
        self.said: list[str] = []  # what the guide said this session, newest last (tests, repeat)
        self._pending: str | None | bool = False  # a reading waiting for the layout to settle
        self._acted = False
        self._readings = 0  # readings so far (a press that led to one needs no other word)
        self._window = None

    # -- wiring -------------------------------------------------------------------------------
    def attach(self, window) -> None:
        self._window = window
        window.bind(on_key_down=self._key_down)

    def detach(self) -> None:
        if self._window is not None:
            self._window.unbind(on_key_down=self._key_down)
            self._window = None
        self.ring.hide()

    def reset(self) -> None:
        """Session end: the next citizen starts with the kiosk's defaults (and the default volume)."""
        self.on = self.default_on
        self.focus_id = None
        self.ring.hide()
        self.said = []
        self._pending = False
        self.app.speaker.volume = DEFAULT_VOLUME

    def _key_down(self, _window, key, scancode=None, codepoint=None, modifiers=None) -> bool:
        press = key_press(key)
        if press is None:
            return False
        self.handle(press)
        return True

    # -- commands -----------------------------------------------------------------------------
    def handle(self, press: KeyPress) -> None:
        cmd = press.command
        if cmd is Command.VOLUME_UP or cmd is Command.VOLUME_DOWN:
            self._volume(0.1 if cmd is Command.VOLUME_UP else -0.1)
            return
        if not self.on:  # the first key press switches the guide on (as plugging in headphones at an ATM)
            self.on = True
            self.read_screen(intro=True)
            return
        if cmd is Command.NEXT or cmd is Command.PREVIOUS:
            self.move(1 if cmd is Command.NEXT else -1)
        elif cmd is Command.SELECT:
            self.select()
        elif cmd is Command.BACK:
            self._press_named(("nav.back",), "ui.guide.no_back")
        elif cmd is Command.HELP:
            self._press_named(("nav.help", "help.return"), "ui.guide.no_help")
        elif cmd is Command.REPEAT:
            self.read_screen(keep_focus=True)
        elif cmd is Command.PAUSE:
            self.app.speaker.stop()
        elif cmd is Command.DELETE:
            if self._press_named(DELETE_KEYS, None, announce=False):
                self.say(self.app.tr("ui.guide.deleted"))
        elif cmd is Command.TYPE:
            self.type_char(press.char)

    def focusables(self) -> list:
        screen = self.app.sm.current_screen
        root = getattr(screen, "overlay", None) or screen
        found = []
        for w in ordered(root):
            kid = getattr(w, "kiosk_id", "")
            if not kid or kid.startswith("diag.") or getattr(w, "disabled", False) or w.opacity == 0:
                continue
            if any(a is not w and getattr(a, "kiosk_id", "") for a in _ancestors(w, root)):
                continue
            found.append(w)
        return sorted(found, key=lambda w: focus_group(w.kiosk_id))  # stable: reading order within a group

    @property
    def reading_pending(self) -> bool:
        return self._pending is not False

    def focused(self):
        if self.focus_id is None:
            return None
        return next((w for w in self.focusables() if w.kiosk_id == self.focus_id), None)

    def move(self, step: int) -> None:
        items = self.focusables()
        if not items:
            return
        ids = [w.kiosk_id for w in items]
        i = ids.index(self.focus_id) if self.focus_id in ids else (-1 if step > 0 else 0)
        i = (i + step) % len(items)
        self.focus(items[i])
        self.say(self.describe(items[i]))

    def focus(self, widget) -> None:
        self.focus_id = widget.kiosk_id
        self.ring.show(widget)
        _scroll_to(widget)

    def describe(self, widget) -> str:
        text = label_of(widget)
        if text.startswith("✓"):
            text = f"{self.app.tr('ui.guide.chosen')} {text.lstrip('✓ ')}"
        return text

    def select(self) -> None:
        w = self.focused()
        if w is None:
            self.say(self.app.tr("ui.guide.nothing_focused"))
            return
        self._press(w)

    def type_char(self, ch: str) -> None:
        """A digit or letter presses its key on the screen's keypad or keyboard; the character is
        echoed only on private audio (typed digits may be a phone number)."""
        for pattern in CHAR_KEYS:
            w = self._find(pattern.format(c=ch, C=ch.upper()))
            if w is not None:
                self._press(w, announce=False)
                self.say(ch if self.private else self.app.tr("ui.guide.typed"))
                return

    def _find(self, kid: str):
        return next((w for w in self.focusables() if w.kiosk_id == kid), None)

    def _press_named(self, ids, missing_key: str | None, announce: bool = True) -> bool:
        for kid in ids:
            w = self._find(kid)
            if w is not None:
                self._press(w, announce=announce)
                return True
        if missing_key:
            self.say(self.app.tr(missing_key))
        return False

    def _press(self, widget, announce: bool = True) -> None:
        """Press the button as a finger would (on_press, on_release); then say what changed on
        this screen, unless the press sent an answer (the next screen is read when it comes)."""
        screen, view, readings = self.app.sm.current_screen, self.app.current_view, self._readings
        self._acted = False
        widget.trigger_action(duration=0)
        if announce:
            Clock.schedule_once(lambda _dt: self._after_press(screen, view, readings), 0)

    def acted(self) -> None:
        """The app sent an action to the flow (a new view will come and be read)."""
        self._acted = True

    def _after_press(self, screen, view, readings: int) -> None:
        if self._acted or self._pending is not False or self._readings != readings:
            return  # an answer went to the flow, or the page was read anew (a form's next page)
        if self.app.sm.current_screen is not screen or self.app.current_view is not view:
            return
        w = self.focused()
        if w is not None:
            self.focus(w)  # the widget may be new (a restyled button): the ring follows it
            self.say(self.describe(w))
        else:
            self.read_screen()  # the press rebuilt the page (next region level, an overlay)

    # -- reading ------------------------------------------------------------------------------
    def read_screen(self, key: str | None = None, intro: bool = False, keep_focus: bool = False) -> None:
        """Read the current screen once its layout has settled (a consent page may split first)."""
        if not keep_focus:
            self.focus_id = None
            self.ring.hide()
        first = self._pending is False
        self._pending = key or (self._pending if isinstance(self._pending, str) else None)
        self._intro = intro or (getattr(self, "_intro", False) and not first)
        if first:
            self._frames = 0
            Clock.schedule_once(self._read_when_settled, 0)

    def _read_when_settled(self, _dt) -> None:
        from kiosk.widgets.fit import layout_pending

        self._frames += 1
        if layout_pending() and self._frames < 30:
            Clock.schedule_once(self._read_when_settled, 0)
            return
        key, self._pending = self._pending, False
        self._readings += 1
        parts = self.reading(key if isinstance(key, str) else None)
        if self._intro:
            parts.insert(0, self.app.tr("ui.guide.on"))
            self._intro = False
        self.say(self._join(parts))
        w = self.focused()
        if w is not None:
            self.ring.show(w)

    def reading(self, key: str | None = None) -> list[str]:
        """Title, what the screen says, and its choices."""
        app, tr = self.app, self.app.tr
        screen = app.sm.current_screen
        parts = [self._title(screen)]
        overlay = getattr(screen, "overlay", None)
        if overlay is not None or self.private:
            parts += [t for t in _texts(overlay or screen)]
        else:
            key = key or screen.speech_key()
            if key:
                parts.append(speech_text(tr.template(key)))
        items = [w for w in self.focusables() if focus_group(w.kiosk_id) <= 1]
        if not items:
            pass  # nothing to choose: the kiosk is working (a device, the network)
        elif len(items) <= MAX_LISTED:
            parts.append(tr("ui.guide.choices", n=len(items)))
            parts += [self.describe(w) for w in items]
        else:
            parts.append(tr("ui.guide.many_choices", n=len(items)))
        if any(_is_char_key(w.kiosk_id) for w in self.focusables()):
            parts.append(tr("ui.guide.type_hint"))
        return [p for p in parts if p]

    def _title(self, screen) -> str:
        view = getattr(screen, "view", None)
        tr = self.app.tr
        if screen.name in ("home", "out_of_service") or view is None:
            return tr("ui.home.title")
        return tr.msg(view.title) if view.title else self.app.service_title()

    def _join(self, parts: list[str]) -> str:
        """One utterance: the parts in order, with a full stop between them where none is."""
        out = ""
        for p in (p.strip() for p in parts):
            if not out:
                out = p
            elif out.endswith(("。", "：", "？", "！", "…")):
                out += p
            elif out.endswith((".", ":", "?", "!")):
                out += " " + p
            else:
                out += ("。" if self.app.lang == "zh" else ". ") + p
        return out

    def say(self, text: str) -> None:
        if not text:
            return
        self.said.append(text)
        self.app.speaker.say(text, self.app.lang)

    def _volume(self, delta: float) -> None:
        sp = self.app.speaker
        sp.volume = round(min(MAX_VOLUME, max(MIN_VOLUME, sp.volume + delta)), 2)
        self.say(self.app.tr("ui.guide.volume", percent=round(sp.volume * 100)))


def _ancestors(w, root):
    p = w.parent
    while p is not None and p is not root and p is not p.parent:
        yield p
        p = p.parent


def _texts(root) -> list[str]:
    """The texts a sighted citizen reads on the screen (not the buttons' nor the header's), in order."""
    from kiosk.widgets.base import Text

    out = []
    for w in ordered(root):
        if isinstance(w, Text) and w.text and w.opacity > 0 and not any(
                getattr(a, "kiosk_id", "") or getattr(a, "is_header", False) for a in _ancestors(w, root)):
            out.append((getattr(w, "source_text", None) or w.text).replace("\n", " ").strip())
    return out


def _scroll_to(widget) -> None:
    from kivy.uix.scrollview import ScrollView

    p = widget.parent
    while p is not None and p is not p.parent and not isinstance(p, ScrollView):
        p = p.parent
    if isinstance(p, ScrollView):
        p.scroll_to(widget, padding=20, animate=False)
