"""The Kivy application: the composition root of the citizen UI.

It builds the screens (one per view type), the flow host (an asyncio loop on its own
thread), the session lifecycle, the translator, the voice and the sizes, and wires the
flows' views to the screens. Devices and the back office arrive already built, as
`ServiceEntry.deps_factory` (kiosk.virtual builds them on the simulators).

Call `kiosk.kivy_setup.configure()` before importing this module when the display
options matter (kiosk.run does).
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from flows.availability import Availability, LinkState, availability, policy_of
from flows.catalogue import Catalogue, UnknownService, UsageStore, catalogue_for
from flows.engine import EngineSettings, ResumePolicy
from flows.journal import Journal
from flows.views import Action, ViewBase, ViewKind
from kiosk import gl_frames, memory, text_surfaces, theme
from kiosk.fonts import register_cjk_font
from kiosk.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator
from kiosk.kivy_setup import DisplayOptions, configure, prepare_environment
from kiosk.ports import ServiceEntry
from kiosk.tts import NullSpeaker, Speaker, speech_text

prepare_environment()  # before the first `import kivy`

from kivy.app import App  # noqa: E402
from kivy.clock import Clock
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.diagnostics.install import install_diagnostics
from kiosk.flowhost import FlowHost
from kiosk.guide import AudioGuide
from kiosk.images import AssetImages
from kiosk.screens.choice import ChoiceScreen
from kiosk.screens.consent import ConsentScreen
from kiosk.screens.form import FormScreen
from kiosk.screens.home import HomeScreen, OutOfServiceScreen
from kiosk.screens.simple import (
    BusyScreen,
    ErrorScreen,
    HelpScreen,
    IdleWarningScreen,
    MeasuringScreen,
    PromptScreen,
    ResultScreen,
)
from kiosk.session import SessionLifecycle

__all__ = ["KioskApp", "KioskOptions", "ServiceEntry", "create_app"]

FLOW_SCREENS = (PromptScreen, ChoiceScreen, FormScreen, ConsentScreen, MeasuringScreen, BusyScreen,
                ResultScreen, ErrorScreen, HelpScreen, IdleWarningScreen)

log = logging.getLogger(__name__)


class KioskOptions(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    lang: str = DEFAULT_LANGUAGE
    elderly: bool = False
    voice: bool = True
    display: DisplayOptions = Field(default_factory=DisplayOptions)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    resume: ResumePolicy = ResumePolicy.ASK
    final_linger_s: float = Field(default=45.0, gt=0)
    # Frames each flow view stays before the next is applied (0 = at once). The autopilot sets 3
    # so every view is drawn — and photographed — even when the flow moves on within a frame.
    view_pacing_frames: int = Field(default=0, ge=0)
    state_dir: Path | None = None  # the journal's directory; None = no journal (tests, demos)
    # The path without sight (kiosk/guide.py): `guidance` reads every screen from the start (else the
    # first keypad key switches it on); `private_audio`: speech goes only to the headphone jack, so the
    # whole screen (summaries, amounts) may be read, not only the parameter-free templates.
    guidance: bool = False
    private_audio: bool = False
    high_contrast: bool = False  # the kiosk's default palette (the citizen may switch it for the session)


class KioskApp(App):
    """The citizen UI. Build with `create_app()` (which configures Kivy first)."""

    title = "Kiosk"

    def __init__(self, options: KioskOptions | None = None, services: list[ServiceEntry] | None = None, *,
                 speaker: Speaker | None = None, journal: Journal | None = None, flow_clock: Any = None,
                 diagnostics: Any = None, service_loop: Any = None, outbox: Any = None, **kw):
        super().__init__(**kw)
        self.service_loop = service_loop  # kiosk.service_loop.ServiceLoop under `kiosk run`: signals, sd_notify
        self.outbox = outbox  # kiosk.outbox_runtime.KioskOutbox: writes wait there while the back office is down
        self.diagnostics = diagnostics  # kiosk.diagnostics.Diagnostics: staff screens behind a hidden gesture
        self.options = options or KioskOptions()
        self.services = list(services or [])
        # What the home screen offers, and in which order: a flows-level model (flows.catalogue).
        self.usage = UsageStore(self.options.state_dir / "service_usage.json" if self.options.state_dir else None)
        self.catalogue: Catalogue = catalogue_for([s.name for s in self.services], usage=self.usage.counts)
        self.speaker: Speaker = speaker or NullSpeaker()
        self._journal = journal
        self.flow_clock = flow_clock
        self.lang = self.options.lang
        self.tr = Translator(self.lang)
        self.elderly = self.options.elderly
        self.larger = False  # the text-size step between normal and elderly (kiosk/screens/access.py)
        self.high_contrast = self.options.high_contrast
        theme.use(theme.HIGH_CONTRAST if self.high_contrast else theme.NORMAL)
        self.voice_on = self.options.voice
        self.speaker.muted = not self.voice_on
        self.speaker.elderly = self.elderly  # slower speech in elderly mode
        self.guide = AudioGuide(self, private=self.options.private_audio, on=self.options.guidance)
        self.images = AssetImages()
        self.current_view: ViewBase | None = None
        self.out_of_service_reason: str | None = None
        self.view_listeners: list[Callable[[str, ViewBase | None], None]] = []  # autopilot, tests
        self._spoken: tuple[str, str] | None = None
        self.host: FlowHost | None = None
        self.host_ready_hooks: list[Callable[[FlowHost], None]] = []  # e.g. open the devices on the flow loop
        self.stop_hooks: list[Callable[[FlowHost], None]] = []  # e.g. close them, before the loop stops
        self.session = SessionLifecycle(self)
        self.trimmer = memory.Trimmer()  # freed memory back to the system after each screen change (docs/memory.md)
        self._update_sizes()

    def journal(self) -> Journal | None:
        """The journal, opened on the flow loop's thread (SQLite connections stay on one thread)."""
        if self._journal is None and self.options.state_dir is not None:
            self._journal = Journal(self.options.state_dir)
        return self._journal

    # -- Kivy lifecycle ---------------------------------------------------------------
    def build(self):
        from kivy.core.window import Window  # creates the window: kivy_setup.configure() has run

        register_cjk_font()
        text_surfaces.install()  # a label's SDL surface is freed once it is a texture (docs/memory.md)
        gl_frames.install(Window)  # headless: execute each frame, or llvmpipe keeps it queued (docs/memory.md)
        Window.clearcolor = theme.BACKGROUND
        Window.bind(on_request_close=self._veto_close)
        self.guide.attach(Window)  # the keypad / keyboard (kiosk/keys.py)
        self.host = FlowHost(post=self._post)
        self._posted: deque = deque()
        self._frames_since_view = 0
        self._drain = Clock.schedule_interval(self._run_posted, 0)
        for hook in self.host_ready_hooks:
            hook(self.host)
        self._start_outbox()
        self.sm = ScreenManager(transition=NoTransition())
        self.screens = {}
        for cls in (HomeScreen, OutOfServiceScreen, *FLOW_SCREENS):
            screen = cls(self)
            self.screens[cls.kind] = screen
            self.sm.add_widget(screen)
        if self.diagnostics is not None:
            install_diagnostics(self.diagnostics, self)  # its screens, and the hidden corner on home / out of service
        self.show_home()
        if self.service_loop is not None:
            self.service_loop.attach(self)
        return self.sm

    def _post(self, fn: Callable[[], None]) -> None:
        """Called from the flow thread: run `fn` on the UI thread (Clock callbacks are thread-safe)."""
        self._posted.append(fn)  # deque.append is atomic

    def _run_posted(self, _dt) -> None:
        self._frames_since_view += 1
        pacing = self.options.view_pacing_frames
        while self._posted and self._frames_since_view > pacing:
            fn = self._posted.popleft()
            try:
                fn()
            except Exception:
                log.exception("UI update from the flow failed")
            if pacing:
                self._frames_since_view = 0

    def _close_journal(self) -> None:
        """Close the journal on the flow loop's thread, where its SQLite connection lives."""
        async def close() -> None:
            self._journal.close()

        try:
            self.host.submit(close()).result(5)
        except Exception:
            log.exception("journal did not close cleanly")

    def _veto_close(self, *args, **kw) -> bool:
        return True  # a citizen cannot close the kiosk (staff stop the service)

    def on_stop(self):
        if self.service_loop is not None:
            self.service_loop.stopping()
        if getattr(self, "_drain", None) is not None:
            self._drain.cancel()
        if self.diagnostics is not None:
            self.diagnostics.uninstall()
        self.session.end() if self.session.active else None
        for s in getattr(self, "screens", {}).values():
            s.stop_timers()
        self.trimmer.cancel()
        if self.host is not None:
            for hook in self.stop_hooks:
                try:
                    hook(self.host)
                except Exception:
                    log.exception("stop hook failed")
            if self._journal is not None:
                self._close_journal()
            self.host.stop()
        self.guide.detach()
        self.speaker.close()
        from kivy.core.window import Window

        Window.unbind(on_request_close=self._veto_close)

    # -- sizes, language, voice --------------------------------------------------------
    def _update_sizes(self) -> None:
        from kiosk.theme import sizes_for

        w, h = self.options.display.width, self.options.display.height
        self.sizes = sizes_for(h, self.elderly, w, larger=self.larger and not self.elderly)
        self.base_sizes = sizes_for(h, False, w)

    def toggle_language(self) -> None:
        names = list(LANGUAGES)
        self.set_language(names[(names.index(self.lang) + 1) % len(names)])

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.tr = Translator(lang)
        self._spoken = None
        self.rerender()

    def toggle_voice(self) -> None:
        self.voice_on = not self.voice_on
        self.speaker.muted = not self.voice_on
        if not self.voice_on:
            self.speaker.stop()
        self._spoken = None
        self.rerender()

    def toggle_elderly(self) -> None:
        self.elderly = not self.elderly
        self.speaker.elderly = self.elderly
        self._update_sizes()
        self.session.set_elderly(self.elderly)
        self.rerender()

    @property
    def text_size(self) -> str:
        return "elderly" if self.elderly else "larger" if self.larger else "normal"

    def set_text_size(self, step: str) -> None:
        """normal / larger / elderly (elderly also means longer time limits and slower speech)."""
        self.larger = step == "larger"
        if (step == "elderly") != self.elderly:
            self.toggle_elderly()  # re-renders
        else:
            self._update_sizes()
            self.rerender()
        self._reopen_access()

    def set_high_contrast(self, on: bool) -> None:
        from kivy.core.window import Window

        self.high_contrast = on
        theme.use(theme.HIGH_CONTRAST if on else theme.NORMAL)
        Window.clearcolor = theme.BACKGROUND
        self.rerender()
        self._reopen_access()

    def _reopen_access(self) -> None:
        """The panel stays open after a choice (a re-render closed it), showing the new one ticked."""
        screen = getattr(self, "sm", None) and self.sm.current_screen
        if screen is not None and hasattr(screen, "show_access"):
            screen.show_access()

    def reset_session_settings(self) -> None:
        """Session end: the next citizen gets the kiosk's text size and colours (and voice speed)."""
        self.larger = False
        if self.elderly != self.options.elderly:
            self.elderly = self.options.elderly
            self.speaker.elderly = self.elderly
        self._update_sizes()
        self.high_contrast = self.options.high_contrast
        theme.use(theme.HIGH_CONTRAST if self.high_contrast else theme.NORMAL)  # home is drawn next, in it
        if getattr(self, "sm", None) is not None:
            from kivy.core.window import Window

            Window.clearcolor = theme.BACKGROUND

    def rerender(self) -> None:
        screen = self.sm.current_screen
        if screen.name in ("home", "out_of_service"):
            screen.render(None)
        elif self.current_view is not None:
            screen.render(self.current_view)
        self._speak_for(screen)
        self._notify(screen.name)

    def speak_key(self, key: str | None) -> None:
        if self.guide.on:
            self.guide.read_screen(key)  # the whole screen: title, text, choices
        elif key and self.voice_on:
            self.speaker.say(speech_text(self.tr.template(key)), self.lang)

    def repeat(self) -> None:
        """Say the current screen again (the header's Repeat button, the keypad's repeat key)."""
        if self.guide.on:
            self.guide.read_screen(keep_focus=True)
        else:
            self.speak_key(self.sm.current_screen.speech_key())

    def _speak_for(self, screen) -> None:
        key = screen.speech_key()
        if key and (self.lang, key) != self._spoken:
            self._spoken = (self.lang, key)
            self.speak_key(key)

    # -- services and sessions -------------------------------------------------------
    def service(self, name: str) -> ServiceEntry:
        return next(s for s in self.services if s.name == name)

    def service_title(self) -> str:
        svc = self.session.service
        return self.tr(f"service.{svc.name}.title") if svc else self.tr("ui.home.title")

    def _start_outbox(self) -> None:
        """The forwarder on the flow loop; the home screen is redrawn when the back office comes or goes."""
        if self.outbox is None or self.host is None:
            return
        self.host.submit(self.outbox.start()).result(10)
        self.outbox.on_link_change = lambda _state: self._post(self._link_changed)
        self.stop_hooks.append(lambda host: host.submit(self.outbox.stop()).result(5))
        if self.diagnostics is not None and hasattr(self.diagnostics, "handler"):
            self.diagnostics.handler.outbox_stats = self.outbox.stats  # queue depth and age in the fleet health

    def _link_changed(self) -> None:
        self.refresh_home()

    def refresh_home(self) -> None:
        """Redraw the home screen in place when what it offers changed (the back office came or went,
        a fleet config): not a new screen, so nothing is spoken again and listeners get "home:update".
        A tap in progress is not lost: the screen waits for the finger to lift (HomeScreen.refresh)."""
        if getattr(self, "sm", None) is None or self.session.active:
            return
        if self.sm.current == "home" and self.out_of_service_reason is None:
            if self.screens["home"].refresh():
                self._notify("home", update=True)
        elif self.sm.current in ("home", "out_of_service"):
            self.show_home()

    def availability(self, name: str) -> Availability:
        """Whether `name` can start now (flows/availability.py: the service's offline policy and the link)."""
        from flows import registry

        try:
            policy = policy_of(registry.flow_class(name))
        except (KeyError, ImportError):
            policy = policy_of(None)
        return availability(name, policy, self.outbox.link() if self.outbox is not None else LinkState.UNKNOWN)

    def start_service(self, name: str) -> None:
        if not self.availability(name).available:
            return  # the tile says why; a citizen never reaches step 12 to learn it
        if self.out_of_service_reason is None and name in self.catalogue.enabled:
            self.guide.acted()
            self.usage.record(name)
            self.session.start(self.service(name))

    def check_fleet_settings(self, settings: Any) -> str | None:
        """Why the fleet's settings cannot be applied here (a service this kiosk has no flow for)."""
        try:
            self.catalogue.with_enabled(getattr(settings, "enabled_flows", None))
        except UnknownService as e:
            return str(e)
        return None

    def apply_fleet_settings(self, settings: Any) -> None:
        """The fleet's `enabled_flows` switch services on and off (any thread; home redrawn on the UI thread)."""
        self.catalogue = self.catalogue.with_enabled(getattr(settings, "enabled_flows", None))
        Clock.schedule_once(lambda _dt: self.refresh_home(), 0)

    def act(self, action: Action) -> None:
        self.guide.acted()
        self.session.act(action)

    def end_session(self) -> None:
        self.session.end()

    def set_out_of_service(self, reason: str | None) -> None:
        """Staff maintenance or missing devices: "devices", "maintenance"; None = back in service."""
        self.out_of_service_reason = reason
        if not self.session.active:
            self.show_home()

    # -- views -------------------------------------------------------------------------
    def show_home(self) -> None:
        self.current_view = None
        self._spoken = None
        name = "out_of_service" if self.out_of_service_reason else "home"
        screen = self.screens[name]
        screen.render(None)
        self.sm.current = name
        self._speak_for(screen)
        self._notify(name)

    def show_view(self, view: ViewBase) -> None:
        """Render a flow view on its screen (UI thread)."""
        screen = self.screens[view.kind.value]
        if view.kind is ViewKind.MEASURING and self.sm.current == screen.name and screen.update(view):
            self.current_view = view
            self._notify(screen.name, update=True)
            return
        self.current_view = view
        screen.render(view)
        self.sm.current = screen.name
        if self.guide.on:
            self._spoken = None
            self.guide.read_screen()  # every new view, even one with the same message (the next plate)
        else:
            self._speak_for(screen)
        self._notify(screen.name)

    def _notify(self, name: str, update: bool = False) -> None:
        if not update:
            self.trimmer.soon()
        for listener in list(self.view_listeners):
            try:
                listener(name if not update else name + ":update", self.current_view)
            except Exception:
                log.exception("view listener failed")

    def wipe_screens(self) -> None:
        for name, screen in self.screens.items():
            if name not in ("home", "out_of_service"):
                screen.wipe()
        self.current_view = None
        self.guide.reset()  # the next citizen: guidance off, default volume
        self.reset_session_settings()



def create_app(options: KioskOptions | None = None, services: list[ServiceEntry] | None = None, **kw):
    """Configure Kivy (first call only) and build the app object."""
    options = options or KioskOptions()
    configure(options.display)
    return KioskApp(options, services, **kw)
