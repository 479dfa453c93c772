"""KvtEyeTester against EyeTesterSimulator, over a real pty and over sim://.

Covers a session, a per-eye acuity run, PAD dedupe/resend, retries with the same
sequence number, every generic fault and every NAK code, each followed by an operation
that must succeed.
"""

from __future__ import annotations

import random
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

import pytest

from peripherals.base import DeviceKind
from peripherals.errors import DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.eye import codec
from peripherals.eye.driver import KvtEyeTester
from peripherals.eye.errors import DisplayFailure, EyeTesterFault, EyeTesterNak, LampFailure, OccluderJammed
from peripherals.eye.models import LEVELS, Eye, FrameType, Optotype, Orientation
from peripherals.eye.sim import EyeTesterSimulator
from peripherals.sim import registry
from peripherals.sim.testing import replug_when_gone
from peripherals.transport.serial_port import open_serial

TIMEOUT = 0.3  # driver timeout per try, short for tests


@dataclass
class Rig:
    tester: KvtEyeTester
    sim: EyeTesterSimulator
    replug: Callable[[], None]


def _rig_factory(transport: str, pty_sim):
    made: list[KvtEyeTester] = []

    def make(retries: int = 2, **options) -> Rig:
        if transport == "pty":
            host = pty_sim("eye", link=True, **options)
            tester = KvtEyeTester(host.port, timeout=TIMEOUT, retries=retries)
            made.append(tester)
            tester.open()

            return Rig(tester, host.sim, lambda: replug_when_gone(host))
        name = f"eye{len(made)}"
        tester = KvtEyeTester(f"sim://eye?{urllib.parse.urlencode({'name': name, **options})}", timeout=TIMEOUT, retries=retries)
        made.append(tester)
        tester.open()
        sim = registry.named(name)

        def replug() -> None:
            sim.plugged = True

        return Rig(tester, sim, replug)

    return make, made


@pytest.fixture(params=["pty", "sim"])
def any_rig(request, pty_sim):
    """Factory: an opened tester on a simulator with `options`, over a pty and over sim://."""
    make, made = _rig_factory(request.param, pty_sim)
    yield make
    for t in made:
        t.close()


@pytest.fixture
def rig(pty_sim):
    """The same over a pty only (pyserial's socket handler sleeps 0.3 s on every close)."""
    make, made = _rig_factory("pty", pty_sim)
    yield make
    for t in made:
        t.close()


def show(tester: KvtEyeTester, level=5.0, orientation="up", eye="right") -> Optotype:
    o = Optotype(level=level, orientation=orientation, eye=eye)
    tester.show(o)
    return o


def sent_frames(sim: EyeTesterSimulator, type_: FrameType) -> list[codec.Frame]:
    items = codec.FrameParser().feed(bytes(sim.received))
    return [f for f in items if isinstance(f, codec.Frame) and f.type == type_]


# --- a session ---------------------------------------------------------------------------
def test_session(any_rig):
    r = any_rig(seed=1, answer_delay=0.02, acuity_right=4.8, serial="SN42")
    info = r.tester.info()
    assert info.kind is DeviceKind.EYE
    assert (info.model, info.serial, info.firmware) == ("KVT-SIM", "SN42", "1.0.0")
    assert info.optical_distance_mm == 5000 and info.pixel_pitch_mm == pytest.approx(0.1)

    result = r.tester.self_test()
    assert result.passed and result.checks == {"lamp": True, "display": True, "occluder": True, "pad": True}

    o = show(r.tester, 4.8, "left", "right")
    answer = r.tester.wait_answer(2.0)
    assert answer.orientation is Orientation.LEFT
    assert 15 <= answer.latency_ms <= 500  # measured on the tester's clock from the SHOW ACK
    assert r.sim.shown == o
    assert r.sim.shown_size_px == pytest.approx(115.3, abs=0.1)  # 4.8 at 5 m, 0.1 mm pixels

    r.tester.blank()
    assert r.sim.shown is None
    r.tester.close()
    r.tester.close()  # twice is fine
    with pytest.raises(DeviceNotPresent):
        r.tester.blank()


def test_self_test_reports_broken_parts(rig):
    r = rig(broken="lamp,pad", citizen="off")
    result = r.tester.self_test()
    assert not result.passed
    assert result.checks == {"lamp": False, "display": True, "occluder": True, "pad": False}
    assert "lamp" in result.detail and "pad" in result.detail
    with pytest.raises(LampFailure):  # a tester with a dead lamp also refuses to show
        show(r.tester)


def test_per_eye_acuity_run(pty_sim):
    """A GB 11533 run per eye: a row passes when more than half its optotypes are read."""
    host = pty_sim("eye", acuity_right=4.8, acuity_left=5.1, answer_delay=0.003, seed=11)
    rng = random.Random(5)
    result: dict[Eye, float | None] = {}
    with KvtEyeTester(host.port, timeout=TIMEOUT) as tester:
        for eye in (Eye.RIGHT, Eye.LEFT, Eye.BOTH):
            best = None
            for level in LEVELS:
                correct = 0
                for _ in range(3):
                    o = show(tester, level, rng.choice(list(Orientation)), eye)
                    answer = tester.wait_answer(1.0)
                    assert answer.latency_ms is not None and answer.latency_ms >= 2
                    correct += answer.orientation == o.orientation
                if correct * 2 <= 3:
                    break
                best = level
            result[eye] = best
            tester.blank()
    assert result == {Eye.RIGHT: 4.8, Eye.LEFT: 5.1, Eye.BOTH: 5.1}
    assert {o.eye for o in host.sim.history} == {Eye.RIGHT, Eye.LEFT, Eye.BOTH}


def test_citizen_above_acuity_guesses_or_cannot_see(rig):
    r = rig(acuity_right=4.0, answer_delay=0.002, seed=3)
    answers = []
    for _ in range(12):
        show(r.tester, 5.3, "up", "right")
        answers.append(r.tester.wait_answer(1.0).orientation)
    assert None in answers  # "cannot see"
    assert len(set(answers)) > 2  # and random guesses


# --- the response pad --------------------------------------------------------------------
def test_manual_press_and_cannot_see(rig):
    r = rig(citizen="off")
    show(r.tester)
    with pytest.raises(DeviceTimeout):
        r.tester.wait_answer(0.1)
    r.sim.press(None)
    answer = r.tester.wait_answer(1.0)
    assert answer.orientation is None and answer.latency_ms >= 100
    r.sim.press("down")
    assert r.tester.wait_answer(1.0).orientation is Orientation.DOWN


def test_duplicate_pad_event_is_acked_and_ignored(any_rig):
    r = any_rig(citizen="off", drop_acks=1, resend_after=0.1)
    show(r.tester)
    r.sim.press("right")
    assert r.tester.wait_answer(1.0).orientation is Orientation.RIGHT
    with pytest.raises(DeviceTimeout):  # the resend (same SEQ) arrives in here and is dropped
        r.tester.wait_answer(0.4)
    assert r.sim.pad_frames_sent >= 2  # (a third if our second ACK was slow: also dropped)
    assert r.sim.acks_received >= 2
    r.sim.press("left")  # the next real event still gets through
    assert r.tester.wait_answer(1.0).orientation is Orientation.LEFT


def test_damaged_pad_event_is_resent(rig):
    r = rig(citizen="off", resend_after=0.1)
    show(r.tester)
    r.sim.faults.inject("bad_checksum")
    r.sim.press("up")
    assert r.tester.wait_answer(1.0).orientation is Orientation.UP
    assert r.sim.pad_frames_sent >= 2
    with pytest.raises(DeviceTimeout):  # and only once
        r.tester.wait_answer(0.2)


def test_press_during_a_command_is_kept(rig):
    r = rig(citizen="off", answer_delay=0.0)
    show(r.tester)
    r.sim.press("left")
    time.sleep(0.05)  # the event is waiting in the port when the next command starts
    r.tester.self_test()
    assert r.tester.wait_answer(0.5).orientation is Orientation.LEFT


def test_answer_before_the_new_optotype_is_not_used(rig):
    r = rig(citizen="off")
    show(r.tester)
    r.sim.press("up")
    time.sleep(0.05)
    show(r.tester, orientation="down")  # the earlier press must not answer this E
    with pytest.raises(DeviceTimeout):
        r.tester.wait_answer(0.1)


# --- retries and faults ------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["garbage", "bad_checksum", "truncate", "silence", "device_error=0x01"])
def test_a_single_fault_is_retried_with_the_same_sequence_number(any_rig, fault):
    r = any_rig(citizen="off")
    kind, _, arg = fault.partition("=")
    r.sim.faults.inject(kind, arg=arg or None)
    show(r.tester, 4.5)
    shows = sent_frames(r.sim, FrameType.SHOW)
    assert len(shows) == 2 and shows[0] == shows[1]  # same SEQ, same bytes
    assert len(r.sim.history) == 1  # the tester did not act twice
    r.tester.blank()


@pytest.mark.parametrize(
    "fault,error",
    [
        ("garbage", ProtocolError),
        ("bad_checksum", ProtocolError),
        ("truncate", DeviceTimeout),
        ("silence", DeviceTimeout),
    ],
)
def test_fault_gives_typed_error_then_next_operation_succeeds(any_rig, fault, error):
    r = any_rig(retries=0, citizen="off")
    r.sim.faults.inject(fault)
    with pytest.raises(error) as exc:
        show(r.tester)
    assert not isinstance(exc.value, EyeTesterFault)
    show(r.tester, 4.2)
    r.tester.self_test()


def test_fault_on_every_try(rig):
    r = rig(retries=2, citizen="off")
    r.sim.faults.inject("silence", count=3)
    with pytest.raises(DeviceTimeout):
        r.tester.blank()
    assert len(sent_frames(r.sim, FrameType.BLANK)) == 3
    r.tester.blank()


@pytest.mark.parametrize(
    "code,error",
    [
        (0x01, EyeTesterNak),
        (0x02, EyeTesterNak),
        (0x03, EyeTesterNak),
        (0x04, EyeTesterNak),
        (0x10, OccluderJammed),
        (0x11, LampFailure),
        (0x12, DisplayFailure),
        (0x7E, EyeTesterFault),
    ],
)
def test_nak_codes(rig, code, error):
    r = rig(retries=2, citizen="off")
    r.sim.faults.inject("device_error", count=3, arg=hex(code))  # enough to outlast BAD_CRC retries
    with pytest.raises(error) as exc:
        show(r.tester)
    if error is EyeTesterNak:
        assert isinstance(exc.value, ProtocolError) and exc.value.nak_code == code
    else:
        assert exc.value.device_code == code
    r.sim.faults.clear()
    show(r.tester)  # the next operation succeeds


def test_device_error_accepts_names(rig):
    r = rig(citizen="off")
    r.sim.faults.inject("device_error", arg="occluder_jammed")
    with pytest.raises(OccluderJammed):
        r.tester.blank()
    r.tester.blank()


def test_unplug_mid_frame_then_reopen_after_replug(any_rig):
    r = any_rig(citizen="off")
    r.sim.faults.inject("unplug")
    with pytest.raises(DeviceNotPresent):
        r.tester.self_test()
    with pytest.raises(DeviceNotPresent):
        r.tester.open()  # still unplugged
    r.replug()
    r.tester.open()
    assert r.tester.self_test().passed


def test_open_on_a_missing_port():
    with pytest.raises(DeviceNotPresent):
        KvtEyeTester("/dev/does-not-exist-eye", timeout=TIMEOUT).open()


def test_open_without_an_answer_is_not_present(rig):
    r = rig(citizen="off")
    r.tester.close()
    r.sim.faults.inject("silence", count=3)
    with pytest.raises(DeviceNotPresent):
        r.tester.open()
    r.tester.open()
    assert r.tester.info().model == "KVT-SIM"


def test_open_with_garbage_then_retry(rig):
    r = rig(retries=0, citizen="off")
    r.tester.close()
    r.sim.faults.inject("garbage")
    with pytest.raises(ProtocolError):
        r.tester.open()
    r.tester.open()


# --- the tester side on its own: NAKs it works out itself --------------------------------
def raw_exchange(port, data: bytes, timeout: float = 1.0) -> tuple[int, object]:
    port.write(data)
    parser = codec.FrameParser()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in parser.feed(port.read(port.in_waiting or 1)):
            assert isinstance(item, codec.Frame)
            return item.seq, codec.decode_message(item)
    raise AssertionError("no reply")


def test_simulator_refuses_bad_frames():
    from peripherals.eye.models import Ack, Nak, NakCode

    port = open_serial("sim://eye?name=raw&citizen=off")
    try:
        frame = lambda seq, type_, payload: codec.encode_frame(codec.Frame(seq=seq, type=type_, payload=payload))  # noqa: E731
        assert raw_exchange(port, frame(1, 0x7A, b"")) == (1, Nak(code=NakCode.UNKNOWN_COMMAND))
        assert raw_exchange(port, frame(2, FrameType.SHOW, b"\x32\x52")) == (2, Nak(code=NakCode.BAD_LENGTH))
        assert raw_exchange(port, frame(3, FrameType.SHOW, b"\x3c\x52\x4c")) == (3, Nak(code=NakCode.BAD_PARAMETER))
        damaged = bytearray(frame(4, FrameType.BLANK, b""))
        damaged[-2] ^= 0x01
        assert raw_exchange(port, b"\xff\x00" + bytes(damaged)) == (4, Nak(code=NakCode.BAD_CRC))
        good = frame(5, FrameType.SHOW, b"\x32\x52\x4c")
        seq, first = raw_exchange(port, good)
        assert seq == 5 and isinstance(first, Ack) and first.shown_ms is not None
        time.sleep(0.01)
        assert raw_exchange(port, good) == (5, first)  # a retry: same answer, not shown again
        assert len(registry.named("raw").history) == 1
    finally:
        port.close()
