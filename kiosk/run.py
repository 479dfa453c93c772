"""`kiosk run`: the citizen touch UI (Kivy).

    kiosk run --virtual                       simulators + reference back office + UI in a window
    kiosk run --virtual --headless --screenshots DIR --autopilot FLOW [--lang zh|en]
                                              drive the real UI through FLOW with the shipped answers
                                              file (examples/answers/FLOW.yaml) by synthetic touches,
                                              save every screen as DIR/NNN-*.png, exit 0 when the flow
                                              completes (3 aborted, 2 autopilot stuck, 1 start failure)
    kiosk run --backoffice URL                the kiosk's configured devices (kiosk.toml) and a back office

Options: --lang zh|en, --elderly (large text, longer time limits), --mute (no voice),
--size WxH (default 1080x1920 portrait), --windowed (not fullscreen), --answers FILE
(another answers file for --autopilot, e.g. examples/answers/tax-invoice-photo-attack.yaml:
a printed photo at the face check, refused, staff confirm), --sim KIND.OPTION=VALUE (a
simulator option, e.g. camera.source=phone:resident), --state-dir DIR (journal; a
temporary directory by default with --virtual).

Kivy is imported only when the command runs, so `kiosk --help` and `kiosk run-flow` stay light.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "answers"
EXIT_OK, EXIT_FAILED, EXIT_STUCK, EXIT_ABORTED = 0, 1, 2, 3


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="the citizen touch UI (Kivy); --virtual runs it on simulators",
                              description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--virtual", action="store_true", help="device simulators and the reference back office")
    p.add_argument("--headless", action="store_true", help="no display: SDL offscreen rendering")
    p.add_argument("--screenshots", metavar="DIR", type=Path, help="save every screen shown as a numbered PNG")
    p.add_argument("--autopilot", metavar="FLOW", help="drive the UI through FLOW by synthetic touches, then exit")
    p.add_argument("--answers", metavar="FILE", type=Path, help="answers file for --autopilot "
                                                                 "(default examples/answers/FLOW.yaml)")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--elderly", action="store_true", help="large text and longer time limits")
    p.add_argument("--mute", action="store_true", help="no voice prompts")
    p.add_argument("--high-contrast", action="store_true", help="white and yellow on black (the citizen can switch)")
    p.add_argument("--guidance", action="store_true",
                   help="read every screen aloud from the start (else the first keypad key switches it on)")
    p.add_argument("--private-audio", action="store_true",
                   help="speech goes only to the headphone jack: the guide may read the whole screen")
    p.add_argument("--keys", action="store_true", help="--autopilot by keypad keys only (no touches)")
    p.add_argument("--speech-log", metavar="FILE", type=Path,
                   help="also write every spoken text as a JSON line to FILE (kiosk.tts.FileSpeaker)")
    p.add_argument("--size", default="1080x1920", metavar="WxH", help="window size (default 1080x1920)")
    p.add_argument("--windowed", action="store_true", help="a normal window instead of fullscreen")
    p.add_argument("--state-dir", type=Path, metavar="DIR", help="journal directory")
    p.add_argument("--backoffice", metavar="URL", help="back office base URL (with --virtual: instead of starting one)")
    p.add_argument("--fleet", action=argparse.BooleanOptionalAction, default=None,
                   help="with --virtual: also run a local MQTT broker, the fleet server and this kiosk's agent "
                        "(default on, off with --autopilot)")
    p.add_argument("--sim", action="append", metavar="KIND.OPTION=VALUE",
                   help="with --virtual: a simulator option, e.g. camera.source=print:resident (a printed-photo "
                        "attack; phone:resident, replay:resident); overrides the answers file's sim section")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S", help="--autopilot gives up after S seconds")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"kiosk run: --size must look like 1080x1920, not {args.size!r}", file=sys.stderr)
        return EXIT_STUCK
    if args.autopilot and not args.virtual:
        print("kiosk run: --autopilot needs --virtual (the simulated citizen lives in the simulators)", file=sys.stderr)
        return EXIT_STUCK
    if not args.virtual and not args.backoffice:
        print("kiosk run: give --virtual, or --backoffice URL for the configured devices", file=sys.stderr)
        return EXIT_STUCK

    from kiosk.fonts import FontMissing, font_path

    try:
        font_path()
    except FontMissing as e:
        print(f"kiosk run: {e}", file=sys.stderr)
        return EXIT_FAILED

    from kiosk.kivy_setup import DisplayOptions, configure

    configure(DisplayOptions(width=width, height=height, headless=args.headless,
                             fullscreen=not (args.windowed or args.headless), maxfps=0 if args.autopilot else 30))
    face = _face_process()
    try:
        if args.virtual:
            return _run_virtual(args)
        return _run_configured(args)
    finally:
        face()


def _face_process() -> Callable[[], None]:
    """The face models in a process of their own (docs/memory.md), unless KIOSK_FACE_ENGINE=inprocess.
    Installed with set_engine, not through the environment, so that child processes (the virtual
    kiosk's back office) keep their own choice. The process is started now in the background, so the
    first face check does not wait for the models. Returns what ends it."""
    import os
    import threading

    from peripherals.face import engine

    if os.environ.get(engine.ENGINE_ENV, "process") != "process":
        return lambda: None
    face = engine.ProcessEngine()
    engine.set_engine(face)

    def start() -> None:
        try:
            face.start()
        except Exception as exc:  # the first face check says so on screen
            logging.getLogger(__name__).warning("face process did not start: %s", exc)

    threading.Thread(target=start, name="face-process-start", daemon=True).start()
    return lambda: engine.set_engine(None)  # closes the face process


def _speaker(args: argparse.Namespace):
    from kiosk.tts import EspeakSpeaker, FileSpeaker, NullSpeaker

    speaker = NullSpeaker() if (args.headless or args.mute) else EspeakSpeaker()
    return FileSpeaker(args.speech_log, also=speaker) if args.speech_log else speaker


def _run_virtual(args: argparse.Namespace) -> int:
    from flows import registry
    from flows.deps import FlowSettings
    from flows.engine import EngineSettings, ResumePolicy
    from kiosk.app import KioskOptions, create_app
    from kiosk.kivy_setup import DisplayOptions
    from kiosk.runflow import AnswerBook, SkippableClock
    from kiosk.disk_guard import DiskGuard
    from kiosk.service_loop import ServiceLoop
    from kiosk.virtual import VirtualKiosk

    spec = None
    if args.autopilot:
        if args.autopilot not in registry.FLOWS:
            print(f"kiosk run: no flow {args.autopilot!r}; known: {', '.join(registry.FLOWS)}", file=sys.stderr)
            return EXIT_STUCK
        path = args.answers or EXAMPLES / f"{args.autopilot}.yaml"
        try:
            spec = AnswerBook.load(path)
        except (OSError, ValueError) as e:
            print(f"kiosk run: answers file {path}: {e}", file=sys.stderr)
            return EXIT_STUCK
    from kiosk.runflow import parse_sim_overrides

    sim_options = {k: dict(v) for k, v in (spec.sim if spec else {}).items()}
    try:
        for kind, opts in parse_sim_overrides(args.sim or []).items():
            sim_options.setdefault(kind, {}).update(opts)
    except ValueError as e:
        print(f"kiosk run: {e}", file=sys.stderr)
        return EXIT_STUCK
    temp = tempfile.TemporaryDirectory(prefix="kiosk-virtual-") if args.state_dir is None else None
    state_dir = Path(temp.name) if temp else args.state_dir
    virtual = VirtualKiosk(state_dir, sim_options=sim_options,
                           flow_settings=FlowSettings(**spec.settings) if spec else None,
                           backoffice_url=args.backoffice)
    _add_virtual_fleet(virtual, state_dir, wanted=args.fleet if args.fleet is not None else not args.autopilot)
    diagnostics = None
    try:
        try:
            virtual.start()
        except RuntimeError as e:
            print(f"kiosk run: {e}", file=sys.stderr)
            return EXIT_FAILED
        width, height = (int(v) for v in args.size.lower().split("x"))
        clock = SkippableClock() if spec else None
        options = KioskOptions(
            lang=args.lang, elderly=args.elderly, voice=not args.mute, high_contrast=args.high_contrast,
            guidance=args.guidance, private_audio=args.private_audio,
            display=DisplayOptions(width=width, height=height, headless=args.headless,
                                   fullscreen=not (args.windowed or args.headless)),
            engine=EngineSettings(**spec.engine) if spec else EngineSettings(),
            resume=ResumePolicy.NEVER if spec else ResumePolicy.ASK, state_dir=state_dir,
            final_linger_s=3600 if spec else 45, view_pacing_frames=3 if spec else 0,
        )
        diagnostics = _diagnostics(state_dir, lambda: virtual.deps.devices.supervisor if virtual.deps else None,
                                   audio_output="memory:")  # the virtual kiosk's speakers: samples kept in memory
        virtual.staff_pin = staff_pin_for(diagnostics, virtual=True)
        service_loop = ServiceLoop(stop_app=spec is None,  # the autopilot pumps its own frames and polls it
                                   disk_guard=DiskGuard(state_dir))
        app = create_app(options, virtual.services(), speaker=_speaker(args), flow_clock=clock,
                         diagnostics=diagnostics, service_loop=service_loop,
                         outbox=_outbox(state_dir, lambda: virtual.backoffice_url))
        app.host_ready_hooks.append(lambda host: host.submit(virtual.warm_up()))
        app.stop_hooks.append(lambda host: host.submit(virtual.close_devices()).result(15))
        if spec is None:
            if args.screenshots:
                _screenshot_every_screen(app, args.screenshots)
            app.run()
            return EXIT_OK
        return _autopilot(app, virtual, spec, clock, args)
    finally:
        if diagnostics is not None:
            diagnostics.close()
        virtual.stop()
        if temp is not None:
            temp.cleanup()


def _add_virtual_fleet(virtual, state_dir: Path, *, wanted: bool) -> None:
    """Broker + fleet server + agent beside the virtual kiosk (kiosk/virtual_fleet.py); the
    app serves the agent's control socket through $KIOSK_CONTROL_SOCKET."""
    import os

    if not wanted:
        return
    from kiosk.virtual_fleet import VirtualFleet

    if not VirtualFleet.available():
        print("kiosk run: mosquitto is not installed, so the virtual kiosk runs without its fleet "
              "(scripts/setup.sh installs it)", file=sys.stderr)
        return
    socket_path = state_dir / "run" / "control.sock"
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["KIOSK_CONTROL_SOCKET"] = str(socket_path)
    fleet = VirtualFleet(state_dir, socket_path)
    os.environ.setdefault("KIOSK_FLEET_CONFIG", str(fleet.dir / "agent" / "fleet-config.json"))  # the agent writes it
    virtual.extras.append(fleet)


def _autopilot(app, virtual, spec, clock, args: argparse.Namespace) -> int:
    from kivy.base import runTouchApp

    from kiosk.autopilot import Autopilot
    from kiosk.runflow import AnswerBook

    app._run_prepare()  # build, on_start; then frames are pumped by the autopilot
    runTouchApp(embedded=True)
    try:
        warm = app.host.submit(virtual.warm_up())
        warm.result(60)
        book = AnswerBook(spec.answers, audio=virtual.audio)
        from kiosk.autopilot_keys import KeyPerformer

        pilot = Autopilot(app, args.autopilot, book.action_for, screenshots=args.screenshots, timeout_s=args.timeout,
                          stop_requested=lambda: app.service_loop.stop_requested,
                          performer=KeyPerformer if args.keys else None)
        pilot.on_idle = lambda view: app.host.call_soon(clock.advance, view.timeout_s or 0.0)
        code = pilot.run()
        shots = f", {pilot.shots.count} screenshots in {args.screenshots}" if args.screenshots else ""
        print(f"kiosk run: autopilot {args.autopilot}: "
              f"{ {0: 'completed', 3: 'aborted'}.get(code, 'stuck') } ({app.session.last_reason or 'ok'}){shots}",
              file=sys.stderr)
        return code
    finally:
        app.stop()
        from kivy.base import EventLoop

        EventLoop.close()


def _screenshot_every_screen(app, directory: Path) -> None:
    """Interactive run with --screenshots: a PNG of every screen shown (for reviews and docs).

    The picture is read in the third frame after the screen changed, before the buffer
    swap (the back buffer of a double-buffered window is undefined after it)."""
    from kivy.core.window import Window

    from kiosk.autopilot import Screenshots, grab_window

    shots = Screenshots(directory)
    pending: dict = {"label": None, "frames": 0}

    def on_screen(name: str, view) -> None:
        if not name.endswith(":update"):
            pending["label"] = name if view is None else f"{view.step or 'end'}-{name}"
            pending["frames"] = 3
            Window.canvas.ask_update()  # frames are drawn (and flipped) only when something changed

    def on_flip(*_):
        if pending["label"] is not None:
            pending["frames"] -= 1
            if pending["frames"] > 0:
                Window.canvas.ask_update()
            else:
                label, pending["label"] = pending["label"], None
                shots.count += 1  # noqa: SIM113
                path = directory / f"{shots.count:03d}-{label}.png"
                grab_window().save(path, compress_level=1)
                shots.paths.append(path)

    app.view_listeners.append(on_screen)
    Window.fbind("on_flip", on_flip)


def _run_configured(args: argparse.Namespace) -> int:
    """The kiosk's own devices (kiosk.toml / KIOSK_CONFIG) and a back office at --backoffice."""
    from flows import registry
    from flows.deps import DeviceAccess, FlowDeps, FlowSettings, configured_audio
    from flows.face_verifiers import IdentityServiceVerifier
    from flows.services import HttpBackOffice
    from kiosk.app import KioskOptions, ServiceEntry, create_app
    from kiosk.kivy_setup import DisplayOptions
    from kiosk.disk_guard import DiskGuard
    from kiosk.service_loop import ServiceLoop
    from kiosk.virtual import ICONS
    from peripherals.config import DeviceSettings
    from peripherals.supervisor import Supervisor

    supervisor = Supervisor(DeviceSettings().devices)
    supervisor.start(wait=20)
    holder: dict[str, Any] = {}

    async def deps() -> FlowDeps:
        if "deps" not in holder:
            backoffice = HttpBackOffice(args.backoffice)
            holder["deps"] = FlowDeps.from_backoffice(DeviceAccess(supervisor), backoffice,
                                                      settings=FlowSettings(), audio=configured_audio(state_dir),
                                                      face_verifier=IdentityServiceVerifier(backoffice),  # CTID-style
                                                      staff_pin=staff_pin_for(diagnostics))
        return holder["deps"]

    width, height = (int(v) for v in args.size.lower().split("x"))
    state_dir = args.state_dir or Path("/var/lib/kiosk/state")
    options = KioskOptions(lang=args.lang, elderly=args.elderly, voice=not args.mute, state_dir=state_dir,
                           display=DisplayOptions(width=width, height=height, headless=args.headless,
                                                  fullscreen=not (args.windowed or args.headless)))
    services = [ServiceEntry(name=n, make_flow=lambda n=n: registry.create(n), deps_factory=deps,
                             icon=ICONS.get(n, "")) for n in registry.FLOWS]
    diagnostics = _diagnostics(state_dir, lambda: supervisor)
    app = create_app(options, services, speaker=_speaker(args), diagnostics=diagnostics,
                     service_loop=ServiceLoop(disk_guard=DiskGuard(state_dir)),
                     outbox=_outbox(state_dir, lambda: args.backoffice))
    try:
        app.run()
    finally:
        diagnostics.close()
        supervisor.stop()
    return EXIT_OK


def staff_pin_for(diagnostics, *, virtual: bool = False):
    """`FlowDeps.staff_pin`: staff confirm a citizen with the diagnostics PIN (audited, same lockout)."""
    from kiosk.diagnostics.identity_check import ensure_virtual_pin, for_diagnostics

    if virtual:
        ensure_virtual_pin(diagnostics.auth)
    return for_diagnostics(diagnostics)


def _outbox(state_dir: Path, url: Callable[[], str]):
    """The app's submission outbox (docs/offline.md); its forwarder's client is made on the flow loop."""
    from flows.services import HttpBackOffice
    from kiosk.outbox_runtime import KioskOutbox

    return KioskOutbox(state_dir, lambda: HttpBackOffice(url()))


def _diagnostics(state_dir: Path, supervisor_source, audio_output: str | None = None):
    """The staff diagnostics screen (hidden corner + PIN, docs/diagnostics.md); it serves the
    agent's control socket when $KIOSK_CONTROL_SOCKET names one (kiosk.service sets it)."""
    import os

    from kiosk.diagnostics import Diagnostics, DiagnosticsSettings

    from importlib.metadata import PackageNotFoundError, version

    try:
        app_version = version("kiosk-controller")
    except PackageNotFoundError:
        app_version = ""
    fleet_config = os.environ.get("KIOSK_FLEET_CONFIG", "/etc/kiosk/fleet-config.json")  # the agent's apply_config file
    diagnostics = Diagnostics(DiagnosticsSettings(state_dir=state_dir, app_version=app_version,
                                                  broker_address=os.environ.get("KIOSK_BROKER_ADDRESS", ""),
                                                  fleet_config_path=Path(fleet_config) if fleet_config else None,
                                                  audio_output=audio_output),
                              supervisor_source)
    socket_path = os.environ.get("KIOSK_CONTROL_SOCKET")
    if socket_path:
        diagnostics.serve(socket_path)
    return diagnostics
