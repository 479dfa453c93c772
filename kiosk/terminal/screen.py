"""The terminal's staff screen: a thin Kivy view of `TerminalStatus` plus the hold actions.

It shows the queue, the errand in progress, the counts (and per hour), the paper left, the
open holds with the actions that resolve each, and the last alarms; a new alarm that
calls for it also sounds (a short tone, `alarm.wav` in the state directory). Resolving a
hold takes the staff id and the staff PIN (kiosk.diagnostics.staff_auth, the same PIN as
the diagnostics screen); the PIN is checked off the UI thread, the resolution runs on the
terminal's loop, and the result comes back as a line on the screen.

The terminal itself (kiosk.terminal.runtime) runs on an asyncio loop in a daemon thread,
so the screen never waits for a printer or the back office; status changes are posted to
the UI thread with `Clock.schedule_once`.
"""

from __future__ import annotations

import asyncio
import math
import struct
import sys
import threading
import wave
from pathlib import Path
from typing import Any, Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from flows.terminal.status import TerminalStatus
from lifecycle.signals import on_stop_signals
from kiosk import theme
from kiosk.fonts import font_path
from kiosk.i18n import Translator

ActionHandler = Callable[[int, str, dict, str, str], None]  # hold id, action, args, staff id, PIN
ALARM_COLOURS = {"alarm": tuple(theme.DANGER), "warning": tuple(theme.ACCENT_WARN), "info": tuple(theme.TEXT_MUTED)}
FIELDS = ("staff", "pin", "next_number", "invoice_code", "first_number", "last_number")
NEEDS = {"realign": ("next_number",), "reload": ("invoice_code", "first_number", "last_number"),
         "load_roll": ("invoice_code", "first_number", "last_number")}


def _label(text: str = "", *, size: int = 26, colour=tuple(theme.TEXT), bold: bool = False, kid: str = "") -> Label:
    label = Label(text=text, font_name=str(font_path()), font_size=size, color=colour, bold=bold, halign="left",
                  valign="middle", size_hint_y=None, height=size * 1.9)
    label.bind(size=lambda w, sz: setattr(w, "text_size", (sz[0], None)))
    label.kiosk_id = kid  # type: ignore[attr-defined]
    return label


class TerminalView(BoxLayout):
    """Renders a status snapshot; asks `on_action` to resolve a hold."""

    def __init__(self, tr: Translator, on_action: ActionHandler, **kw: Any):
        super().__init__(orientation="vertical", padding=24, spacing=8, **kw)
        with self.canvas.before:
            Color(*theme.BACKGROUND)
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=lambda w, v: setattr(self._bg, "pos", v), size=lambda w, v: setattr(self._bg, "size", v))
        self.tr, self.on_action = tr, on_action
        self.title = _label(tr("terminal.title"), size=38, bold=True, colour=tuple(theme.HEADER), kid="terminal.title")
        self.queue, self.progress = _label(kid="terminal.queue"), _label(kid="terminal.progress")
        self.counts, self.paper = _label(kid="terminal.counts"), _label(kid="terminal.paper")
        for w in (self.title, self.queue, self.progress, self.counts, self.paper):
            self.add_widget(w)
        self.holds = BoxLayout(orientation="vertical", size_hint_y=None, spacing=6)
        self.holds.bind(minimum_height=self.holds.setter("height"))
        self.add_widget(self.holds)
        self.inputs: dict[str, TextInput] = {}
        row = BoxLayout(size_hint_y=None, height=60, spacing=6)
        for name in FIELDS:
            box = TextInput(hint_text=tr(f"terminal.field.{name}"), multiline=False, password=name == "pin",
                            font_name=str(font_path()), font_size=22, input_filter="int" if name != "staff" else None)
            box.kiosk_id = f"terminal.field.{name}"  # type: ignore[attr-defined]
            self.inputs[name] = box
            row.add_widget(box)
        self.add_widget(row)
        load = Button(text=tr("terminal.action.load_roll"), font_name=str(font_path()), font_size=22, size_hint_y=None,
                      height=60, background_normal="", background_color=tuple(theme.PRIMARY))
        load.kiosk_id = "terminal.load_roll"  # type: ignore[attr-defined]
        load.bind(on_release=lambda _b: self._act(0, "load_roll"))  # a new shift's roll, outside any hold
        self.add_widget(load)
        self.result = _label(kid="terminal.result")
        self.add_widget(self.result)
        self.add_widget(_label(tr("terminal.alarms"), size=30, bold=True))
        self.alarms = BoxLayout(orientation="vertical", size_hint_y=None, spacing=4)
        self.alarms.bind(minimum_height=self.alarms.setter("height"))
        self.add_widget(self.alarms)
        self.add_widget(Widget())  # the rest of the screen: empty, below the alarms
        self._holds_shown: tuple = ()

    def render(self, st: TerminalStatus) -> None:
        tr = self.tr
        self.queue.text = tr("terminal.queue", count=st.pending_total) if st.pending_total else tr("terminal.idle")
        self.progress.text = (tr("terminal.progress", application=st.current, stage=tr(f"terminal.stage.{st.stage}"))
                              if st.current else "")
        self.counts.text = tr("terminal.counts", done=st.done, invoices=st.invoices, requisitions=st.requisitions,
                              per_hour=st.per_hour)
        self.paper.text = tr("terminal.paper", left=st.paper_left, roll=st.roll or "-")
        shown = tuple((h.hold_id, h.actions) for h in st.holds)
        if shown != self._holds_shown:
            self._holds_shown = shown
            self.holds.clear_widgets()
            for hold in st.holds:
                self.holds.add_widget(_label(tr("terminal.holds", cause=tr(f"terminal.cause.{hold.cause}"),
                                                hold_id=hold.hold_id), colour=ALARM_COLOURS["alarm"], bold=True,
                                             kid=f"terminal.hold.{hold.hold_id}"))
                buttons = BoxLayout(size_hint_y=None, height=64, spacing=6)
                for action in hold.actions:
                    b = Button(text=tr(f"terminal.action.{action}"), font_name=str(font_path()), font_size=22,
                               background_normal="", background_color=tuple(theme.PRIMARY))
                    b.kiosk_id = f"terminal.hold.{hold.hold_id}.{action}"  # type: ignore[attr-defined]
                    b.bind(on_release=lambda _b, h=hold.hold_id, a=action: self._act(h, a))
                    buttons.add_widget(b)
                self.holds.add_widget(buttons)
        self.alarms.clear_widgets()
        for alarm in st.alarms[:8]:
            self.alarms.add_widget(_label(tr.msg(alarm.text), size=22, colour=ALARM_COLOURS[alarm.level]))

    def _act(self, hold_id: int, action: str) -> None:
        values = {k: v.text.strip() for k, v in self.inputs.items()}
        args = {name: values[name] for name in NEEDS.get(action, ())}
        self.inputs["pin"].text = ""
        self.on_action(hold_id, action, args, values["staff"], values["pin"])


def alarm_tone(path: Path, *, seconds: float = 0.6, hz: float = 880.0, rate: int = 16000) -> Path:
    """A short two-beep tone as a WAV file (made once; no audio asset to ship)."""
    if not path.exists():
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            frames = bytearray()
            for i in range(int(seconds * rate)):
                on = (i // (rate // 5)) % 2 == 0
                frames += struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate)) if on else 0)
            w.writeframes(bytes(frames))
    return path


class TerminalStaffApp(App):
    """The staff screen around a running terminal (`runtime`), on its own loop thread."""

    def __init__(self, runtime: Any, *, lang: str = "zh", **kw: Any):
        super().__init__(**kw)
        self.runtime, self.tr = runtime, Translator(lang)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="terminal-loop", daemon=True)
        self.view: TerminalView | None = None
        self._sounded: set[float] = set()
        self._tone = None

    def build(self) -> TerminalView:
        from kivy.core.audio import SoundLoader

        self.view = TerminalView(self.tr, self._on_action)
        try:
            self._tone = SoundLoader.load(str(alarm_tone(self.runtime.options.state_dir / "alarm.wav")))
        except Exception:  # no audio device: the text alarm still shows
            self._tone = None
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._main(), self.loop)
        return self.view

    async def _main(self) -> None:
        try:
            terminal = await self.runtime.start()
        except Exception as exc:
            self._say(f"{type(exc).__name__}: {exc}")
            await self.runtime.close()
            self.loop.call_soon(self.loop.stop)
            return
        terminal.listeners.append(lambda st: self._post(st.model_copy(deep=True)))
        self._post(terminal.status.model_copy(deep=True))
        try:
            await self.runtime.run()
        finally:
            await self.runtime.close()
            self.loop.call_soon(self.loop.stop)

    def _post(self, st: TerminalStatus) -> None:
        Clock.schedule_once(lambda _dt: self._render(st))

    def _render(self, st: TerminalStatus) -> None:
        assert self.view is not None
        self.view.render(st)
        for alarm in st.alarms:
            if alarm.sound and alarm.at not in self._sounded:
                self._sounded.add(alarm.at)
                if self._tone is not None:
                    self._tone.play()

    def _on_action(self, hold_id: int, action: str, args: dict, staff: str, pin: str) -> None:
        from kiosk.diagnostics.staff_auth import StaffAuth

        def check_then_resolve() -> None:  # scrypt: never on the UI thread
            outcome = StaffAuth(self.runtime.options.state_dir).check(pin)
            if not outcome.ok or not staff:
                self._say(self.tr("terminal.pin"))
                return
            terminal = self.runtime.terminal
            work = (terminal.load_roll(args["invoice_code"], args["first_number"], args["last_number"], staff=staff)
                    if action == "load_roll" else terminal.resolve(hold_id, action, staff=staff, **args))
            future = asyncio.run_coroutine_threadsafe(work, self.loop)
            try:
                future.result(60)
                self._say(self.tr("terminal.alarm.resolved", action=action, staff=staff))
            except Exception as exc:  # a refused resolution says why
                self._say(f"{getattr(exc, 'code', type(exc).__name__)}: {exc}")

        threading.Thread(target=check_then_resolve, daemon=True).start()

    def _say(self, text: str) -> None:
        Clock.schedule_once(lambda _dt: setattr(self.view.result, "text", text))

    def on_stop(self) -> None:
        self.loop.call_soon_threadsafe(self.runtime.request_stop)
        self._thread.join(timeout=30)


def run_staff_screen(options: Any, *, lang: str = "zh") -> int:
    from kiosk.diagnostics.staff_auth import StaffAuth
    from kiosk.kivy_setup import DisplayOptions, configure
    from kiosk.terminal.runtime import TerminalRuntime

    import os

    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    configure(DisplayOptions(width=1280, height=1024, fullscreen=False, headless=no_display))  # offscreen without one
    auth = StaffAuth(options.state_dir)
    if options.virtual and not auth.has_pin():
        auth.set_pin("246810")
        print("kiosk terminal --virtual: staff PIN 246810 (virtual terminal only)", file=sys.stderr)
    app = TerminalStaffApp(TerminalRuntime(options), lang=lang)
    # SIGTERM / SIGINT (systemd stop, Ctrl-C): end the app like a window close; on_stop lets the print
    # under way finish. Only asks: the handler runs between two bytecodes of the UI thread.
    on_stop_signals(lambda _name: Clock.schedule_once(lambda _dt: app.stop()))
    app.run()
    return 0
