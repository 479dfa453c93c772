"""KVT/1 from the tester's side, with a scripted citizen at the response pad.

Options (strings from a `sim://eye?...` URL, or keywords):
- `acuity_left`, `acuity_right` (5-point, default 5.0): the citizen answers correctly
  for rows at or below the acuity of the eye being tested (both eyes: the better one),
  and above it guesses a random direction or presses "cannot see";
- `answer_delay` (s, default 0.05): time from SHOW to the press;
- `citizen` (`on`/`off`, default on): off = only `press()` makes pad events;
- `seed`: seeds the citizen's guesses;
- `resend_after` (s, default 0.2) / `resend_limit` (default 5): un-ACKed PAD events;
- `drop_acks` (default 0): ignore that many host ACKs (forces a duplicate event);
- `broken`: comma list of parts (lamp, display, occluder, pad) that fail self-test;
  a broken lamp/display/occluder also NAKs SHOW with its code.

A `device_error` fault with arg CODE (`0x10`, `16` or a NakCode name such as
`occluder_jammed`) NAKs the next command with that code.
"""

from __future__ import annotations

import random
import time
from collections import deque

from peripherals.sim.base import Simulator

from . import codec, optics
from .errors import BadPayloadLength, BadValue, UnknownType
from .models import (
    Ack,
    Blank,
    Eye,
    FrameType,
    Hello,
    Info,
    Message,
    Nak,
    NakCode,
    Optotype,
    Orientation,
    PadEvent,
    SelfTest,
    SelfTestReport,
    Show,
    U32_MAX,
)

PARTS = ("lamp", "display", "occluder", "pad")


def parse_nak_code(arg: str | None) -> int:
    """`0x10`, `16` or `occluder_jammed` -> 16; no arg -> display failure."""
    if not arg:
        return NakCode.DISPLAY_FAILURE
    try:
        return int(arg, 0) & 0xFF
    except ValueError:
        return NakCode[arg.upper()]


class EyeTesterSimulator(Simulator):
    kind = "eye"

    def __init__(self, faults=None, **options) -> None:
        super().__init__(faults, **options)
        opt = options.get
        self.acuity = {
            Eye.LEFT: float(opt("acuity_left", 5.0)),
            Eye.RIGHT: float(opt("acuity_right", 5.0)),
        }
        self.answer_delay = float(opt("answer_delay", 0.05))
        self.citizen = str(opt("citizen", "on")).lower() not in ("off", "0", "false", "no")
        self.rng = random.Random(opt("seed"))
        self.resend_after = float(opt("resend_after", 0.2))
        self.resend_limit = int(opt("resend_limit", 5))
        self.drop_acks = int(opt("drop_acks", 0))
        self.identity = Info(
            distance_mm=int(opt("distance_mm", optics.STANDARD_DISTANCE_MM)),
            pixel_pitch_um=int(opt("pixel_pitch_um", 100)),
            model=str(opt("model", "KVT-SIM")),
            serial=str(opt("serial", "SIM0001")),
            firmware=str(opt("firmware", "1.0.0")),
        )
        broken = {p.strip() for p in str(opt("broken", "")).split(",") if p.strip()}
        self.parts = {p: p not in broken for p in PARTS}
        self._t0 = time.monotonic()
        self._parser = codec.FrameParser()
        self._last_command: tuple[bytes, bytes] | None = None  # (seq+type+payload, reply frame)
        # What the tester shows: for tests and the virtual kiosk. Never logged.
        self.shown: Optotype | None = None
        self.shown_ms: int | None = None
        self.shown_size_px: float | None = None
        self.history: list[Optotype] = []
        self.pad_frames_sent = 0
        self.acks_received = 0
        self._reset_transient()

    # -- wiring -------------------------------------------------------------------------
    def _reset_transient(self) -> None:
        """Forget events in flight; timers set before this become no-ops (see `_later`)."""
        self._generation = getattr(self, "_generation", 0) + 1
        self._event_seq = 0
        self._outbox: deque[PadEvent] = deque()
        self._inflight: tuple[int, bytes, int] | None = None  # (seq, frame, times sent)
        self._resend_timer: object | None = None
        self._citizen_timer: object | None = None

    def on_attach(self) -> None:
        """A new connection (power-on or replug): no half-delivered events survive it."""
        self._parser = codec.FrameParser()
        self._reset_transient()

    def _later(self, delay: float, fn) -> object:
        """A host timer that does nothing if the session was reset before it fires."""
        assert self.host is not None
        generation = self._generation

        def run() -> None:
            if generation == self._generation:
                fn()

        return self.host.call_later(delay, run)

    def corrupt_checksum(self, frame: bytes) -> bytes:
        """Flip the CRC's low byte (not the ETX, which would make the frame plain garbage)."""
        return frame[:-2] + bytes((frame[-2] ^ 0xFF,)) + frame[-1:] if len(frame) >= 3 else frame

    def now_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000) & U32_MAX

    # -- host -> tester -----------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        for item in self._parser.feed(data):
            if isinstance(item, codec.CorruptFrame):
                self.reply(codec.encode(item.seq, Nak(code=NakCode.BAD_CRC)))
            else:
                self._on_frame(item)

    def _on_frame(self, frame: codec.Frame) -> None:
        if frame.type == FrameType.ACK:
            self._on_host_ack(frame.seq)
            return
        if frame.type == FrameType.NAK:  # the host could not read our event: send it again now
            if self._inflight and self._inflight[0] == frame.seq:
                self._send_inflight()
            return
        fault = self.device_error()
        if fault is not None:
            self.reply(codec.encode(frame.seq, Nak(code=parse_nak_code(fault.arg))))
            return
        key = bytes((frame.seq, frame.type)) + frame.payload
        if self._last_command and self._last_command[0] == key and frame.type != FrameType.HELLO:
            self.reply(self._last_command[1])  # a retry: answer again, do not act twice
            return
        try:
            msg = codec.decode_message(frame)
        except UnknownType:
            answer: Message = Nak(code=NakCode.UNKNOWN_COMMAND)
        except BadPayloadLength:
            answer = Nak(code=NakCode.BAD_LENGTH)
        except BadValue:
            answer = Nak(code=NakCode.BAD_PARAMETER)
        else:
            answer = self._execute(msg)
        reply = codec.encode(frame.seq, answer)
        self._last_command = (key, reply) if not isinstance(answer, Nak) else None
        self.reply(reply)

    def _execute(self, msg: Message) -> Message:
        if isinstance(msg, Hello):
            self._reset_transient()
            return self.identity
        if isinstance(msg, Show):
            return self._show(msg.optotype)
        if isinstance(msg, Blank):
            self._cancel_citizen()
            self.shown = self.shown_size_px = None
            self.shown_ms = None
            return Ack()
        if isinstance(msg, SelfTest):
            return SelfTestReport(**self.parts)
        return Nak(code=NakCode.UNKNOWN_COMMAND)  # a tester->host type sent to the tester

    def _show(self, o: Optotype) -> Message:
        if not self.parts["lamp"]:
            return Nak(code=NakCode.LAMP_FAILURE)
        if not self.parts["display"]:
            return Nak(code=NakCode.DISPLAY_FAILURE)
        if o.eye is not Eye.BOTH and not self.parts["occluder"]:
            return Nak(code=NakCode.OCCLUDER_JAMMED)
        self._cancel_citizen()
        self.shown, self.shown_ms = o, self.now_ms()
        self.shown_size_px = optics.e_size_px(
            o.level, self.identity.distance_mm, self.identity.pixel_pitch_um / 1000
        )
        self.history.append(o)
        if self.citizen and self.host is not None:
            self._citizen_timer = self._later(self.answer_delay, self._citizen_answers)
        return Ack(shown_ms=self.shown_ms)

    # -- the citizen --------------------------------------------------------------------
    def _cancel_citizen(self) -> None:
        if self._citizen_timer is not None and self.host is not None:
            self.host.cancel(self._citizen_timer)
        self._citizen_timer = None

    def _citizen_answers(self) -> None:
        self._citizen_timer = None
        o = self.shown
        if o is None:
            return
        acuity = max(self.acuity.values()) if o.eye is Eye.BOTH else self.acuity[o.eye]
        if round(o.level * 10) <= round(acuity * 10):
            key: Orientation | None = o.orientation
        else:
            key = self.rng.choice([None, *Orientation])
        self._press(key)

    def press(self, key: Orientation | str | None) -> None:
        """A key on the pad (None: "cannot see"). Safe from any thread: runs on the host's."""
        assert self.host is not None, "simulator is not attached to a host"
        k = None if key is None else Orientation(key)
        self.host.call_later(0, lambda: self._press(k))

    def _press(self, key: Orientation | None) -> None:
        if not self.parts["pad"]:
            return
        self._outbox.append(PadEvent(key=key, device_time_ms=self.now_ms()))
        self._pump()

    # -- tester -> host events: stop-and-wait with resend -------------------------------
    def _pump(self) -> None:
        if self._inflight is not None or not self._outbox:
            return
        self._event_seq = (self._event_seq + 1) & 0xFF
        frame = codec.encode(self._event_seq, self._outbox.popleft())
        self._inflight = (self._event_seq, frame, 0)
        self._send_inflight()

    def _send_inflight(self) -> None:
        if self._inflight is None or self.host is None:
            return
        seq, frame, sent = self._inflight
        if sent > self.resend_limit:  # the host is gone; give the event up
            self._inflight = None
            self._pump()
            return
        self._inflight = (seq, frame, sent + 1)
        if self._resend_timer is not None:
            self.host.cancel(self._resend_timer)
        self.pad_frames_sent += 1
        self.reply(frame)
        self._resend_timer = self._later(self.resend_after, self._resend_due)

    def _resend_due(self) -> None:
        self._resend_timer = None
        self._send_inflight()

    def _on_host_ack(self, seq: int) -> None:
        self.acks_received += 1
        if self.drop_acks > 0:
            self.drop_acks -= 1
            return
        if self._inflight is None or self._inflight[0] != seq:
            return  # the ACK of a duplicate we already retired
        self._inflight = None
        if self._resend_timer is not None and self.host is not None:
            self.host.cancel(self._resend_timer)
        self._resend_timer = None
        self._pump()
