"""What the citizen flows are given: devices (through the Supervisor), back-office services, settings.

Flows never build these themselves (DESIGN.md: `kiosk → flows → peripherals`; the
composition root builds the bundle). Three pieces:

- `DeviceAccess`: every device operation a flow needs, awaited through
  `peripherals.supervisor.Supervisor` (one worker thread per device), plus the camera's
  pure image work (face gate, licence photo) so a benchmark can swap in instant fakes.
- the four back-office services (`flows.services` Protocols; `HttpBackOffice` in practice);
- `FlowSettings`: the timing and procedure policy of the flows (retries, timeouts, the
  acuity procedure ...), validated, with production defaults.

Two devices have no driver in `peripherals` and are interfaces here:
- `AudioOut` (the hearing test's left/right sound): a kiosk plays it on its two
  speakers; `SimAudio` records what it "played" so a simulated citizen can answer.
- `FaceVerifier` (1:1 comparison of a live face with the ID card holder, for the real-name
  checks of the tax invoice and the licence errands): `flows.face_verifiers` has the real
  ones (the back office's CTID-style identity service; a portrait source on the kiosk).
  `SimFaceVerifier` answers a fixed score for flow tests; without a verifier the flows
  offer the staff check alone (the non-biometric alternative always exists).

`sim_deps()` builds the whole bundle on the device simulators (the headless runner's
`--devices sim`, the tests, the benchmark).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from flows.services.interfaces import (
    CardIssuerService,
    DocumentService,
    PaymentService,
    PostService,
    PropertyService,
    TaxService,
    TrafficService,
    VehicleService,
)
from flows.medical_rules import HEARING_TEST_RULE, HearingTestRule
from flows.vision_test import AcuitySettings, AsyncEyeTester, Side
from peripherals.audio import calibration as audio_calibration
from peripherals.audio.outputs import MemoryOutput, open_output
from peripherals.audio.player import TonePlayer
from peripherals.base import Device, DeviceKind
from peripherals.errors import DeviceNotPresent

T = TypeVar("T")

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


class FlowSettings(BaseModel):
    """Policy of the citizen flows. Defaults are for a real kiosk; tests shorten the waits."""

    model_config = ConfigDict(extra="forbid")

    card_wait_s: float = Field(default=20.0, gt=0, description="one wait for a card on the reader")
    card_attempts: int = Field(default=3, ge=1, description="failed reads before only 'call staff' is offered")
    face_frames: int = Field(default=12, ge=2, description="frames tried per face-check round")
    face_frame_interval_s: float = Field(default=0.15, ge=0, description="pause between those frames")
    face_match_threshold: float = Field(default=0.5, ge=0, le=1,
                                        description="FaceVerifier score needed (measured: docs/face.md)")
    face_liveness: bool = Field(default=True, description="ask liveness challenges before the comparison")
    face_challenges: int = Field(default=2, ge=1, le=5, description="challenges per attempt, in a random order")
    face_challenge_time_s: float = Field(default=6.0, gt=0, description="time allowed for one challenge")
    face_reaction_timing: bool = Field(default=True, description="random holds before prompts and reaction windows "
                                                                 "after them (peripherals.face.liveness.PromptTiming)")
    face_attempts: int = Field(default=3, ge=1, description="failed face attempts before only staff is offered")
    photo_attempts: int = Field(default=3, ge=1, description="frames tried for the licence photo per round")
    acuity: AcuitySettings = Field(default_factory=AcuitySettings)
    eye_timeout_s: float = Field(default=300.0, gt=0, description="one eye's whole acuity procedure")
    colour_plates_dir: Path | None = Field(default=None, description="generated plate pool; None: kiosk/assets/colour")
    hearing_trials_per_ear: int = Field(default=HEARING_TEST_RULE.trials_per_ear, ge=6,
                                        description="6 per ear: guessing passes with 1/64")
    bp_timeout_s: float = Field(default=120.0, gt=0)
    height_timeout_s: float = Field(default=30.0, gt=0, description="wait for the height station's next reading")
    payment_poll_s: float = Field(default=1.0, gt=0, description="payment status polling interval")
    payment_timeout_s: float = Field(default=300.0, gt=0, description="how long the QR code is shown")
    print_timeout_s: float = Field(default=30.0, gt=0)
    rng_seed: int | None = Field(default=None, description="seed the optotype/hearing order (tests only)")
    today: dt.date | None = Field(default=None, description="override today's date (tests only)")
    fines_max: int = Field(default=20, ge=1, description="fines payable in one payment (back-office limit)")
    submit_wait_s: float = Field(default=15.0, gt=0, description="how long a queued write waits for its answer")
    pay_later_url: str = Field(default="https://pay.backoffice.example/later/",
                               description="the pay-later QR: this + the provisional reference")
    home_province: str = Field(default="重庆市", description="postage tariff used offline: inside the province")
    postage_home_fen: int = Field(default=1_500, ge=0, description="published postage inside the province")
    postage_other_fen: int = Field(default=2_000, ge=0, description="published postage elsewhere")

    def current_date(self) -> dt.date:
        return self.today or dt.datetime.now(CHINA_TZ).date()

    def now(self) -> dt.datetime:
        """Now in China Standard Time (or noon of `today` when overridden)."""
        if self.today is not None:
            return dt.datetime.combine(self.today, dt.time(12, 0), CHINA_TZ)
        return dt.datetime.now(CHINA_TZ)


# --- devices without a peripherals driver ---------------------------------------------------


class AudioOut(Protocol):
    async def ready(self) -> None:
        """Raise a DeviceError when no sound can be played (the step then hands over to staff)."""
        ...

    async def play(self, side: Side) -> None:
        """Play the test sound on one side (left or right speaker) and return when it has been played."""
        ...


class SpeakerAudio:
    """The hearing test's tones (medical_rules.HEARING_TEST_RULE) through a peripherals.audio TonePlayer."""

    def __init__(self, player: TonePlayer, rule: HearingTestRule = HEARING_TEST_RULE,
                 tone_s: float | None = None, calibration_file: Path | None = None) -> None:
        self.player = player
        self.rule = rule
        self.tone_s = tone_s or rule.tone_s
        self.calibration_file = calibration_file  # re-read at each test: staff may have recalibrated
        self.played = 0

    @classmethod
    def from_url(cls, url: str, calibration_file: Path | None = None, **kw: Any) -> "SpeakerAudio":
        """``portaudio:[NAME]``, ``wav:PATH``, ``memory:`` or ``none``, calibrated from `calibration_file`."""
        cal = audio_calibration.load(calibration_file) if calibration_file else None
        return cls(TonePlayer(open_output(url), cal), calibration_file=calibration_file, **kw)

    async def ready(self) -> None:
        if self.calibration_file is not None:
            self.player.calibration = await asyncio.to_thread(audio_calibration.load, self.calibration_file)
        await asyncio.to_thread(self.player.open)

    async def play(self, side: Side) -> None:
        r = self.rule
        await asyncio.to_thread(self.player.play_tone, side.value, r.frequency_hz, r.level_db_spl, self.tone_s)
        self.played += 1

    @property
    def last_played(self) -> Side | None:
        """The side the last sound is heard on, judged from the samples that were played."""
        heard = self.player.heard_side()
        return Side(heard.value) if heard is not None else None


def configured_audio(state_dir: Path | None = None) -> SpeakerAudio:
    """The kiosk's speakers as kiosk.toml's [audio] names them, with the staff's level calibration."""
    from peripherals.config import DeviceSettings

    cfg = DeviceSettings().audio
    cal = cfg.calibration_file or (state_dir / "audio-calibration.json" if state_dir else None)
    return SpeakerAudio.from_url(cfg.output, cal)


class SimAudio(SpeakerAudio):
    """The simulators' speakers: real tones into memory; the simulated citizen listens to them."""

    def __init__(self, tone_s: float | None = None, realtime: bool = False) -> None:
        super().__init__(TonePlayer(MemoryOutput(realtime=realtime)), tone_s=tone_s)


class NoAudio:
    """A kiosk without a configured audio output: the hearing test cannot run."""

    last_played = None

    async def ready(self) -> None:
        raise DeviceNotPresent("no audio output is configured for the hearing test", kind="audio")

    async def play(self, side: Side) -> None:
        await self.ready()


class FaceVerifier(Protocol):
    async def verify(self, card: Any, frame: Any) -> float:
        """Similarity 0..1 of the face in `frame` with the photo on `card` (an IdCard)."""
        ...


class SimFaceVerifier:
    """Simulators only: answers a fixed score, standing in for photo decoding + face comparison."""

    def __init__(self, score: float = 0.93) -> None:
        self.score = score

    async def verify(self, card: Any, frame: Any) -> float:
        return self.score


# --- devices through the supervisor ---------------------------------------------------------


class DeviceAccess:
    """Every device operation the flows use, awaited through the Supervisor.

    The camera's image processing (face gate, licence photo) runs in a worker thread
    here too, so flows await one interface and the benchmark can replace all of it.
    """

    def __init__(self, supervisor: Any):
        self.supervisor = supervisor

    async def _run(self, kind: DeviceKind, operation: Callable[[Device], T]) -> T:
        try:
            device = self.supervisor[kind]
        except KeyError:
            raise DeviceNotPresent(f"no {kind.value} is configured", kind=kind.value) from None
        return await device.run(operation)

    async def read_card(self, wait: float) -> Any:
        return await self._run(DeviceKind.IDCARD, lambda d: d.read_card(wait=wait))  # type: ignore[attr-defined]

    async def measure_bp(self, on_progress: Callable[[Any], None] | None, timeout: float) -> Any:
        """Measure; if the awaiting task is cancelled (the citizen pressed Cancel) the cuff deflates."""
        holder: list[Any] = []

        def measure(d: Any) -> Any:
            holder.append(d)
            return d.measure(on_progress=on_progress, timeout=timeout)

        try:
            return await self._run(DeviceKind.BP, measure)
        except asyncio.CancelledError:
            if holder:
                holder[0].cancel()  # thread-safe by the interface's contract
            raise

    async def measure_height(self, timeout: float) -> Any:
        """The next reading of the height-weight station; a cancelled wait stops the driver's too."""
        holder: list[Any] = []

        def measure(d: Any) -> Any:
            holder.append(d)
            return d.measure(timeout=timeout)

        try:
            return await self._run(DeviceKind.HEIGHT, measure)
        except asyncio.CancelledError:
            if holder:
                holder[0].cancel()
            raise

    def eye_tester(self) -> AsyncEyeTester:
        return _SupervisedEyeTester(self)

    async def frame(self) -> Any:
        return await self._run(DeviceKind.CAMERA, lambda d: d.read_frame())  # type: ignore[attr-defined]

    async def check_face(self, frame: Any) -> Any:
        from peripherals.face.quality import check_quality

        return await asyncio.to_thread(check_quality, frame)

    async def prompt_camera(self, action: str | None) -> None:
        """Tell the camera which liveness prompt is on screen (a guide light; the simulator's citizen)."""
        try:
            await self._run(DeviceKind.CAMERA, lambda d: d.show_prompt(action))  # type: ignore[attr-defined]
        except (AttributeError, DeviceNotPresent):
            pass

    async def licence_photo(self, frame: Any, face: Any) -> Any:
        from peripherals.camera.photo import make_licence_photo

        return await asyncio.to_thread(make_licence_photo, frame, face=face)

    async def document_photo(self) -> Any:
        return await self._run(DeviceKind.DOCCAM, lambda d: d.read_frame())  # type: ignore[attr-defined]

    async def scan_page(self, photo: Any) -> Any:
        """Page detection, perspective correction, deskew and the readable check (peripherals.camera.page)."""
        from peripherals.camera.page import scan_page

        return await asyncio.to_thread(scan_page, photo)

    async def read_purse(self, wait: float) -> Any:
        return await self._run(DeviceKind.CARDREADER, lambda d: d.read_purse(wait=wait))  # type: ignore[attr-defined]

    async def initialize_load(self, amount_fen: int, wait: float) -> Any:
        return await self._run(DeviceKind.CARDREADER,
                               lambda d: d.initialize_load(amount_fen, wait=wait))  # type: ignore[attr-defined]

    async def credit_load(self, when: str, mac2: str) -> str:
        return await self._run(DeviceKind.CARDREADER, lambda d: d.credit_load(when, mac2))  # type: ignore[attr-defined]

    async def load_proof(self, online_counter: int, wait: float) -> str | None:
        return await self._run(DeviceKind.CARDREADER,
                               lambda d: d.load_proof(online_counter, wait=wait))  # type: ignore[attr-defined]

    async def print_receipt(self, receipt: Any) -> None:
        await self._run(DeviceKind.PRINTER, lambda d: d.print_receipt(receipt))  # type: ignore[attr-defined]


class _SupervisedEyeTester:
    """`flows.vision_test.AsyncEyeTester` over the eye tester's DeviceSupervisor."""

    def __init__(self, devices: DeviceAccess):
        self._devices = devices

    async def show(self, optotype: Any) -> None:
        await self._devices._run(DeviceKind.EYE, lambda d: d.show(optotype))  # type: ignore[attr-defined]

    async def blank(self) -> None:
        await self._devices._run(DeviceKind.EYE, lambda d: d.blank())  # type: ignore[attr-defined]

    async def wait_answer(self, timeout: float) -> Any:
        return await self._devices._run(DeviceKind.EYE, lambda d: d.wait_answer(timeout))  # type: ignore[attr-defined]


# --- the bundle -----------------------------------------------------------------------------


@dataclass
class FlowDeps:
    """Everything a citizen flow awaits. `backoffice` is one object serving all four services."""

    devices: DeviceAccess
    traffic: TrafficService
    tax: TaxService
    post: PostService
    payment: PaymentService
    settings: FlowSettings = field(default_factory=FlowSettings)
    audio: AudioOut = field(default_factory=NoAudio)
    face_verifier: FaceVerifier | None = None
    staff_pin: Callable[[str], Awaitable[bool]] | None = None  # staff confirm a citizen in person (the PIN store)
    sims: dict[str, Any] = field(default_factory=dict)  # simulator instances by kind (sim only)
    paper: Any = None  # flows.paper.path.PaperPath when the kiosk prints on pre-numbered invoice paper
    vehicles: VehicleService | None = None
    property: PropertyService | None = None
    cards: CardIssuerService | None = None
    documents: DocumentService | None = None
    outbox: Any = None  # flows.outbox.Outbox: writes go through it (None: straight to the back office)

    @classmethod
    def from_backoffice(cls, devices: DeviceAccess, backoffice: Any, **kw: Any) -> "FlowDeps":
        return cls(devices=devices, traffic=backoffice, tax=backoffice, post=backoffice, payment=backoffice,
                   vehicles=backoffice, property=backoffice, cards=backoffice, documents=backoffice, **kw)


# --- the simulated kiosk --------------------------------------------------------------------

# Simulator options that keep a headless run quick yet realistic in shape.
SIM_DEFAULTS: dict[str, dict[str, str]] = {
    "idcard": {},
    "bp": {"sys": "128", "dia": "82", "pulse": "72", "duration": "0.3"},
    "eye": {"acuity_left": "5.0", "acuity_right": "5.0", "answer_delay": "0.02", "seed": "1"},
    "printer": {},
    "camera": {"source": "citizen:resident"},  # a real photo who follows the liveness prompts
    "height": {"height": "172", "weight": "68", "period": "0.3"},
    "cardreader": {},
    "doccam": {"source": "document", "size": "1600x1200"},
}
# Driver options for the simulated devices (poll the BP monitor often: it answers at once).
SIM_DRIVER_OPTIONS: dict[str, dict[str, Any]] = {
    "bp": {"baudrate": 9600, "poll_interval": 0.05, "expected_duration": 1.0},
    "eye": {"timeout": 0.5},
    "height": {},
}


def sim_device_configs(options: dict[str, dict[str, Any]] | None = None, tag: str | None = None) -> dict:
    """`peripherals.config.simulated_devices()` with per-kind simulator options and unique instance names.

    `options` maps kind → simulator options (`faults` included), e.g. {"bp": {"sys": 150}}.
    Names carry `tag` so two kiosks in one process (tests) never share a simulator.
    """
    from peripherals.config import DeviceConfig, simulated_devices

    tag = tag or secrets.token_hex(4)
    merged = {k: {**v, **{key: str(val) for key, val in (options or {}).get(k, {}).items()}} for k, v in SIM_DEFAULTS.items()}
    base = simulated_devices()
    configs = {}
    for kind, cfg in base.items():
        opts = merged.get(kind.value, {})
        name = f"{kind.value}-{tag}"
        if cfg.port.startswith("simcam://"):  # the face camera and the document camera
            port = f"simcam://{name}?{urlencode(opts)}"
        else:
            scheme, rest = cfg.port.split("://", 1)
            sim_kind = rest.split("?", 1)[0]
            port = f"{scheme}://{sim_kind}?{urlencode({'name': name, **opts})}"
        driver_options = {**cfg.options, **SIM_DRIVER_OPTIONS.get(kind.value, {})}
        configs[kind] = DeviceConfig(driver=cfg.driver, port=port, options=driver_options)
    return configs


def simulator_for(config: Any) -> Any:
    """The simulator instance behind a sim://, simusb:// or simcam:// port (for fault injection)."""
    port: str = config.port
    if port.startswith("simcam://"):
        from peripherals.camera import sim as camsim

        return camsim.for_url(port)
    from urllib.parse import parse_qs, urlsplit

    from peripherals.sim import registry

    parts = urlsplit(port)
    name = parse_qs(parts.query).get("name", [None])[-1]
    return registry.named(name) if name else None


@contextlib.asynccontextmanager
async def sim_deps(
    backoffice_url: str,
    *,
    sim_options: dict[str, dict[str, Any]] | None = None,
    settings: FlowSettings | None = None,
    client_options: dict[str, Any] | None = None,
    face_score: float | None = 0.93,
    real_face: bool = False,
    start_wait: float = 20.0,
    audio_realtime: bool = False,
) -> AsyncIterator[FlowDeps]:
    """The whole bundle on the simulators and an HTTP back office; everything stopped at exit."""
    from flows.services import HttpBackOffice
    from peripherals.supervisor import Supervisor

    configs = sim_device_configs(sim_options)
    supervisor = Supervisor(configs, backoff_initial=0.2)
    await asyncio.to_thread(supervisor.start, start_wait)
    sims = {}
    for kind, cfg in configs.items():
        try:
            sims[kind.value] = simulator_for(cfg)
        except Exception:  # a simulator that failed to start is reported by the supervisor's state
            pass
    backoffice = HttpBackOffice(backoffice_url, **(client_options or {}))
    deps = FlowDeps.from_backoffice(
        DeviceAccess(supervisor), backoffice, settings=settings or FlowSettings(),
        audio=SimAudio(tone_s=0.6 if audio_realtime else None, realtime=audio_realtime),
        face_verifier=_sim_verifier(backoffice, face_score, real_face), sims=sims,
    )
    try:
        yield deps
    finally:
        await backoffice.aclose()
        stopper = threading.Thread(target=supervisor.stop, daemon=True)
        stopper.start()
        await asyncio.to_thread(stopper.join, 10)
        _forget_sims(configs)


def _sim_verifier(backoffice: Any, face_score: float | None, real_face: bool) -> FaceVerifier | None:
    """`real_face`: the back office's identity service compares for real (the virtual kiosk);
    else a fixed score (flow tests), or None for a kiosk without a verifier."""
    if real_face:
        from flows.face_verifiers import IdentityServiceVerifier

        return IdentityServiceVerifier(backoffice)
    return SimFaceVerifier(face_score) if face_score is not None else None


def _forget_sims(configs: dict) -> None:
    from urllib.parse import parse_qs, urlsplit

    from peripherals.camera import sim as camsim
    from peripherals.sim import registry

    for cfg in configs.values():
        parts = urlsplit(cfg.port)
        if parts.scheme == "simcam":
            camsim.forget(parts.netloc)
        else:
            name = parse_qs(parts.query).get("name", [None])[-1]
            if name:
                registry.forget(name)
