"""Ieee11073BridgeMonitor against Ieee11073BridgeSimulator: pty and sim://, faults, errors."""

from __future__ import annotations

import os
import select
import threading
import time

import pytest

from peripherals.bp.bridge_framing import BridgeErrorCode, FrameDecoder, FrameType, error_code, frame
from peripherals.bp.driver import Ieee11073BridgeMonitor
from peripherals.bp.errors import CuffError, MeasurementCancelled, MeasurementFailed
from peripherals.bp.models import BpFlag, BpPhase, BpProgress, BpUnit
from peripherals.errors import DeviceBusy, DeviceFault, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.sim import registry
from peripherals.sim.testing import replug_when_gone

FAST = dict(timeout=0.3, frame_timeout=0.3)


@pytest.fixture
def bridges(pty_sim):
    """Factory: an open bridge monitor on a fresh simulator over a real pty, and the simulator."""
    opened: list[Ieee11073BridgeMonitor] = []

    def make(*, faults: str | None = None, link: bool = False, **options: str):
        host = pty_sim("bp11073", faults, link=link, **{"duration": "0.1", **options})
        m = Ieee11073BridgeMonitor(host.port, **FAST)
        opened.append(m)
        if faults is None:
            m.open()
        return m, host

    yield make
    for m in opened:
        m.close()


def on_phase(phase: BpPhase, action):
    fired = []

    def callback(p: BpProgress) -> None:
        if p.phase is phase and not fired:
            fired.append(p)
            action()

    return callback


def test_measure_over_pty_with_progress(bridges):
    m, host = bridges()
    assert m.info().model == "SIM-BLE-BPM" and m.info().serial == "SIM0001" and m.info().firmware == "1.0"
    seen: list[BpProgress] = []
    reading = m.measure(seen.append, timeout=5)
    assert (reading.systolic, reading.diastolic, reading.mean, reading.pulse) == (128, 82, 97, 72)
    assert reading.unit is BpUnit.MMHG and reading.measured_at is not None and reading.flags == frozenset()
    phases = [p.phase for p in seen]
    assert phases[0] is BpPhase.STARTING and phases[-1] is BpPhase.DONE
    assert BpPhase.INFLATING in phases and BpPhase.MEASURING in phases
    pressures = [p.cuff_pressure for p in seen if p.cuff_pressure is not None]
    assert max(pressures) == 158 and pressures.index(158) < len(pressures) - 1  # up, then down
    assert m.measure(timeout=5).systolic == 128 and host.sim.measurements == 2


def test_measure_over_sim_url_in_kpa():
    with Ieee11073BridgeMonitor("sim://bp11073?name=k&duration=0.2&unit=kPa&status=0x0A", **FAST) as m:
        reading = m.measure(timeout=5)
    assert reading.unit is BpUnit.MMHG
    assert reading.systolic == pytest.approx(128, abs=0.1) and reading.diastolic == pytest.approx(82, abs=0.1)
    assert reading.flags == {BpFlag.CUFF_LOOSE, BpFlag.PULSE_ABOVE_RANGE}


def test_self_test(bridges):
    m, _ = bridges()
    result = m.self_test()
    assert result.passed and result.checks == {"identify": True, "stop_ack": True}


@pytest.mark.parametrize(
    "fault, error",
    [
        ("garbage", ProtocolError),
        ("bad_checksum", ProtocolError),
        ("truncate", DeviceTimeout),  # half an ACK, then nothing for longer than the reply timeout
        ("silence", DeviceTimeout),
    ],
)
def test_faults_on_the_acknowledgement_then_next_measure_succeeds(bridges, fault, error):
    m, host = bridges(duration="5")  # the stream would start only after the reply timeout
    host.sim.faults.inject(fault)
    with pytest.raises(error):
        m.measure(timeout=5)
    assert host.sim.stops >= 1 and not host.sim.measuring  # the driver told the cuff to stop
    host.sim.duration = 0.1
    assert m.measure(timeout=5).systolic == 128


@pytest.mark.parametrize("fault", ["garbage", "bad_checksum"])
def test_fault_in_the_middle_of_the_stream(bridges, fault):
    m, host = bridges()
    with pytest.raises(ProtocolError):
        m.measure(on_phase(BpPhase.STARTING, lambda: host.sim.faults.inject(fault)), timeout=5)
    assert m.measure(timeout=5).systolic == 128


def test_cuff_goes_silent_mid_measurement(bridges):
    m, host = bridges(duration="0.3", steps="2")
    with pytest.raises(DeviceTimeout):
        m.measure(on_phase(BpPhase.STARTING, lambda: host.sim.faults.inject("silence", count=3)), timeout=5)
    host.sim.faults.clear()
    assert m.measure(timeout=5).systolic == 128


@pytest.mark.parametrize(
    "code, error",
    [
        (BridgeErrorCode.CUFF_LOOSE, CuffError),
        (BridgeErrorCode.MOTION, MeasurementFailed),
        (BridgeErrorCode.NO_PULSE, MeasurementFailed),
        (BridgeErrorCode.OVERPRESSURE, CuffError),
        (BridgeErrorCode.BUSY, DeviceBusy),
        (BridgeErrorCode.ABORTED, MeasurementCancelled),
        (BridgeErrorCode.LOW_BATTERY, DeviceFault),
        (BridgeErrorCode.BAD_FRAME, ProtocolError),
        (0x42, DeviceFault),  # a code this driver does not know
    ],
)
def test_device_error_codes_then_next_measure_succeeds(bridges, code, error):
    m, host = bridges()
    host.sim.faults.inject("device_error", arg=hex(code))
    with pytest.raises(error) as info:
        m.measure(timeout=5)
    if isinstance(info.value, DeviceFault):
        assert info.value.device_code == f"{code:#04x}"
    assert m.measure(timeout=5).systolic == 128


def test_start_while_measuring_is_busy_on_the_wire(bridges):
    m, host = bridges(duration="5")
    host.sim.measuring = True  # as if a START from elsewhere were running
    with pytest.raises(DeviceBusy):
        m.measure(timeout=1)
    assert host.sim.stops == 0  # not ours to stop
    host.sim.measuring = False
    host.sim.duration = 0.1
    assert m.measure(timeout=5).systolic == 128


def test_cancel_stops_the_cuff(bridges):
    m, host = bridges(duration="5", steps="20")
    t0 = time.monotonic()
    with pytest.raises(MeasurementCancelled):
        m.measure(on_phase(BpPhase.INFLATING, m.cancel), timeout=10)
    assert time.monotonic() - t0 < 1.0
    assert host.sim.stops == 1 and not host.sim.measuring
    host.sim.duration = 0.1
    assert m.measure(timeout=5).systolic == 128


def test_cancel_from_another_thread(bridges):
    m, host = bridges(duration="5")
    threading.Timer(0.2, m.cancel).start()
    with pytest.raises(MeasurementCancelled):
        m.measure(timeout=10)
    assert host.sim.stops == 1


def test_overall_timeout_stops_the_cuff(bridges):
    m, host = bridges(duration="5", steps="40")
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout):
        m.measure(timeout=0.4)
    assert time.monotonic() - t0 < 1.2
    assert host.sim.stops == 1 and not host.sim.measuring


def test_unplug_mid_frame_then_replug(bridges):
    m, host = bridges(link=True)
    host.sim.faults.inject("unplug")
    with pytest.raises(DeviceNotPresent):
        m.measure(timeout=5)
    with pytest.raises(DeviceNotPresent):
        m.open()
    replug_when_gone(host)
    m.open()
    assert m.measure(timeout=5).systolic == 128


def test_unplug_over_sim_url_then_replug():
    m = Ieee11073BridgeMonitor("sim://bp11073?name=u&duration=0.2", **FAST)
    m.open()
    sim = registry.named("u")
    try:
        sim.faults.inject("unplug")
        with pytest.raises(DeviceNotPresent):
            m.identify()
        with pytest.raises(DeviceNotPresent):
            m.open()
        sim.plugged = True
        m.open()
        assert m.measure(timeout=5).diastolic == 82
    finally:
        m.close()


def test_silent_bridge_is_not_present_then_opens(bridges):
    m, _ = bridges(faults="silence")
    with pytest.raises(DeviceNotPresent):
        m.open()
    m.open()
    assert m.info().model == "SIM-BLE-BPM"


def test_simulator_answers_a_corrupt_host_frame_with_bad_frame_error(pty_sim):
    """The bridge side of the framing: a host frame with a wrong CRC gets ERROR 0x10."""
    host = pty_sim("bp11073", baudrate=None)
    fd = os.open(host.port, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, frame(FrameType.IDENTIFY)[:-1] + b"\x00")
        decoder, frames = FrameDecoder(), []
        deadline = time.monotonic() + 2
        while not frames and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                frames += decoder.feed(os.read(fd, 64))
        assert frames[0].type is FrameType.ERROR and error_code(frames[0]) == BridgeErrorCode.BAD_FRAME
    finally:
        os.close(fd)
