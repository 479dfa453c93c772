"""KVT/1 vision tester driver (docs/protocols/eye-tester.md).

One command at a time, stop-and-wait: send a frame with a new sequence number, read
until the reply with that number comes, resend the very same frame (same number, so the
tester answers again instead of acting twice) after a NAK(bad CRC), a reply we could not
read, or `timeout` s of silence — up to `retries` times. PAD events may arrive at any
moment, also in the middle of a command: each is ACKed, duplicates (same sequence number
as the last one, resent because our ACK was lost) are dropped, and the rest are queued
for `wait_answer()`.

Answers are health data: neither keys nor levels are logged.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from peripherals.base import EyeTester, SelfTestResult
from peripherals.errors import DeviceError, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.transport.serial_link import SerialLink

from . import codec
from .errors import DisplayFailure, EyeTesterFault, EyeTesterNak, KvtCodecError, LampFailure, OccluderJammed
from .models import (
    U32_MAX,
    Ack,
    Blank,
    EyeTesterInfo,
    FrameType,
    Hello,
    Info,
    Message,
    Nak,
    NakCode,
    Optotype,
    PadAnswer,
    PadEvent,
    SelfTest,
    SelfTestReport,
    Show,
)

log = logging.getLogger(__name__)

_READ_SLICE = 0.02  # s; the port's own read timeout, well under any deadline
_REPLY_TYPES = {FrameType.ACK, FrameType.NAK, FrameType.INFO, FrameType.SELF_TEST_REPORT}
_FAULTS: dict[int, type[EyeTesterFault]] = {
    NakCode.OCCLUDER_JAMMED: OccluderJammed,
    NakCode.LAMP_FAILURE: LampFailure,
    NakCode.DISPLAY_FAILURE: DisplayFailure,
}
_REFUSALS = {NakCode.BAD_CRC, NakCode.BAD_LENGTH, NakCode.UNKNOWN_COMMAND, NakCode.BAD_PARAMETER}


def nak_error(code: int) -> DeviceError:
    """The typed error for a NAK code."""
    if code in _REFUSALS:
        return EyeTesterNak(f"tester refused the command: {NakCode(code).name.lower()}", kind="eye", nak_code=code)
    cls = _FAULTS.get(code, EyeTesterFault)
    name = NakCode(code).name.lower() if code in NakCode._value2member_map_ else f"code 0x{code:02X}"
    return cls(f"vision tester fault: {name}", kind="eye", device_code=code)


class KvtEyeTester(EyeTester):
    """A KVT/1 vision tester on a serial port (any pyserial URL, or `sim://eye?...`)."""

    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 0.5, retries: int = 2) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.retries = retries
        self._link = SerialLink(port, kind="eye", what="the vision tester", baudrate=baudrate, timeout=_READ_SLICE)
        self._parser = codec.FrameParser()
        self._seq = 0
        self._last_event_seq: int | None = None
        self._answers: deque[PadAnswer] = deque()
        self._shown_ms: int | None = None
        self._info: EyeTesterInfo | None = None
        self._frames: deque[codec.Frame | codec.CorruptFrame] = deque()  # read, not yet handled

    # -- Device -------------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        self._link.open()
        self._parser = codec.FrameParser()
        self._frames.clear()
        self._last_event_seq = None
        self._answers.clear()
        self._shown_ms = None
        try:
            info = self._command(Hello(), Info)
        except DeviceTimeout as exc:
            self.close()
            raise DeviceNotPresent(f"no KVT/1 tester answers on {self.port}", kind="eye") from exc
        except DeviceError:
            self.close()
            raise
        assert isinstance(info, Info)
        self._info = EyeTesterInfo(
            driver="kvt",
            model=info.model,
            serial=info.serial,
            firmware=info.firmware,
            port=self.port,
            optical_distance_mm=info.distance_mm,
            pixel_pitch_mm=info.pixel_pitch_um / 1000,
        )
        log.info("eye tester open on %s: %s fw %s", self.port, info.model, info.firmware)

    def close(self) -> None:
        self._link.close()

    def info(self) -> EyeTesterInfo:
        self._require_open()
        assert self._info is not None
        return self._info

    def self_test(self) -> SelfTestResult:
        started = time.monotonic()
        report = self._command(SelfTest(), SelfTestReport)
        assert isinstance(report, SelfTestReport)
        checks = {"lamp": report.lamp, "display": report.display, "occluder": report.occluder, "pad": report.pad}
        failed = [name for name, ok in checks.items() if not ok]
        return SelfTestResult(
            kind=self.kind,
            passed=not failed,
            checks=checks,
            detail=("failed: " + ", ".join(failed)) if failed else "all parts OK",
            duration_s=time.monotonic() - started,
        )

    # -- EyeTester ----------------------------------------------------------------------
    def show(self, optotype: Optotype) -> None:
        self._answers.clear()  # a key pressed before this E appeared does not answer it
        ack = self._command(Show(optotype=optotype), Ack)
        assert isinstance(ack, Ack)
        self._shown_ms = ack.shown_ms
        # Presses read during the exchange were timed against the previous E.
        self._answers = deque(a for a in self._answers if self._after_shown(a.device_time_ms) is not None)

    def blank(self) -> None:
        self._command(Blank(), Ack)
        self._shown_ms = None

    def wait_answer(self, timeout: float) -> PadAnswer:
        deadline = time.monotonic() + timeout
        while not self._answers:
            if self._next_frame(deadline) is None:
                raise DeviceTimeout("no answer from the response pad", kind="eye")
        return self._answers.popleft()

    # -- exchange -----------------------------------------------------------------------
    def _command(self, msg: Message, expect: type) -> Message:
        self._require_open()
        self._resync()
        self._seq = (self._seq + 1) & 0xFF
        seq = self._seq
        frame = codec.encode(seq, msg)
        unreadable = False  # a reply came but could not be read (garbage, bad CRC, bad payload)
        nak_bad_crc = False
        for attempt in range(self.retries + 1):
            if attempt:
                log.debug("eye tester: resending %s seq %d (try %d)", msg.frame_type.name, seq, attempt + 1)
                self._resync()  # drop what is left of the last try's reply: the tester repeats it whole
            discarded_before = self._parser.discarded
            self._write(frame)
            deadline = time.monotonic() + self.timeout
            item = self._next_frame(deadline, want_seq=seq)
            if item is None:
                if self._parser.discarded > discarded_before or self._garbage_pending(seq):
                    unreadable = True
                continue  # silence or a truncated reply: try again
            if isinstance(item, codec.CorruptFrame):
                unreadable = True
                continue  # the reply was damaged: ask again, the tester repeats it
            try:
                reply = codec.decode_message(item)
            except KvtCodecError:
                unreadable = True
                continue
            if isinstance(reply, Nak):
                if reply.code == NakCode.BAD_CRC:  # our frame was damaged on the way
                    nak_bad_crc = True
                    continue
                raise nak_error(reply.code)
            if not isinstance(reply, expect):
                raise ProtocolError(f"tester answered {msg.frame_type.name} with {reply.frame_type.name}", kind="eye")
            return reply
        tries = self.retries + 1
        if unreadable:
            raise ProtocolError(f"unreadable reply to {msg.frame_type.name} after {tries} tries", kind="eye")
        if nak_bad_crc:
            raise nak_error(NakCode.BAD_CRC)
        raise DeviceTimeout(f"no reply to {msg.frame_type.name} after {tries} tries", kind="eye")

    def _garbage_pending(self, seq: int) -> bool:
        """Bytes wait in the parser that are not the start of our reply (a truncated reply
        is silence that ended early: a timeout, not a protocol error)."""
        head = self._parser.pending_bytes
        if not head:
            return False
        looks_like_reply = len(head) >= 3 and head[1] == seq and head[2] in _REPLY_TYPES
        return not looks_like_reply

    def _next_frame(self, deadline: float, want_seq: int | None = None) -> codec.Frame | codec.CorruptFrame | None:
        """Read until the reply numbered `want_seq` (or a damaged frame) arrives — or, with no
        `want_seq`, until a new pad answer is queued. PAD events are handled on the way.
        None when the deadline passes."""
        while True:
            while self._frames:
                item = self._frames.popleft()
                if isinstance(item, codec.CorruptFrame):
                    if want_seq is not None:
                        return item
                    continue  # a damaged event: the tester resends it when no ACK comes
                if item.type == FrameType.PAD:
                    self._on_pad(item)
                    if want_seq is None and self._answers:
                        return item
                elif want_seq is not None and item.seq == want_seq and item.type in _REPLY_TYPES:
                    return item
                # anything else is a stale reply (to an earlier try or command): ignore it
            if time.monotonic() >= deadline:
                return None
            self._frames.extend(self._parser.feed(self._read()))

    def _on_pad(self, frame: codec.Frame) -> None:
        self._write(codec.encode(frame.seq, Ack()))  # ACK duplicates too: our last ACK was lost
        if frame.seq == self._last_event_seq:
            log.debug("eye tester: duplicate PAD event seq %d ignored", frame.seq)
            return
        try:
            event = codec.decode_message(frame)
        except KvtCodecError:
            log.warning("eye tester: unreadable PAD event dropped")
            return
        if not isinstance(event, PadEvent):
            return
        self._last_event_seq = frame.seq
        latency = self._after_shown(event.device_time_ms)
        if latency is None and self._shown_ms is not None:
            return  # pressed before the E appeared: not an answer to it
        self._answers.append(PadAnswer(orientation=event.key, device_time_ms=event.device_time_ms, latency_ms=latency))

    def _after_shown(self, device_time_ms: int) -> int | None:
        """ms from the current E appearing to `device_time_ms` (tester clock, mod 2³²);
        None when nothing is shown or the time is before it appeared."""
        if self._shown_ms is None:
            return None
        diff = (device_time_ms - self._shown_ms) & U32_MAX
        return diff if diff < 1 << 31 else None

    def _resync(self) -> None:
        """Before a command: handle PAD events already received, drop everything else
        (stale replies, half frames, garbage) so the next reply starts clean."""
        items = [*self._frames, *self._parser.feed(self._read(block=False))]
        self._frames.clear()
        self._parser.reset()
        for item in items:
            if isinstance(item, codec.Frame) and item.type == FrameType.PAD:
                self._on_pad(item)

    # -- transport ----------------------------------------------------------------------
    def _require_open(self) -> None:
        self._link.port()

    def _read(self, block: bool = True) -> bytes:
        return self._link.read(block=block)

    def _write(self, data: bytes) -> None:
        self._link.write(data, drain=True)
