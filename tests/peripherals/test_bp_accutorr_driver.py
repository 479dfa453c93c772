"""AccutorrMonitor against AccutorrSimulator: over a real pty and over sim://, with faults."""

from __future__ import annotations

import threading
import time
import urllib.parse

import pytest

from peripherals.bp.driver import AccutorrMonitor
from peripherals.bp.errors import CuffError, MeasurementCancelled, MeasurementFailed
from peripherals.bp.models import BpPhase, BpProgress
from peripherals.errors import DeviceBusy, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.sim import registry
from peripherals.sim.testing import replug_when_gone

FAST = dict(timeout=0.3, poll_interval=0.05)


@pytest.fixture
def monitors(pty_sim):
    """Factory: an open AccutorrMonitor on a fresh simulator over a real pty, and the simulator.

    (Most driver tests run on a pty: pyserial's socket handler behind sim:// sleeps 0.3 s on
    every close; sim:// has its own tests below.)
    """
    opened: list[AccutorrMonitor] = []

    def make(*, driver: dict | None = None, faults: str | None = None, **options: str):
        host = pty_sim("bp", faults, **{"duration": "0.1", **options})
        m = AccutorrMonitor(host.port, **{**FAST, **(driver or {})})
        opened.append(m)
        if faults is None:
            m.open()
        return m, host.sim

    yield make
    for m in opened:
        m.close()


def recorder():
    seen: list[BpProgress] = []
    return seen, seen.append


def on_starting(action):
    def callback(p: BpProgress) -> None:
        if p.phase is BpPhase.STARTING:
            action()

    return callback


# -- over a real pseudo-terminal ------------------------------------------------------------
def test_measure_over_pty_at_9600_baud(pty_sim):
    host = pty_sim("bp", baudrate=9600, duration="0.1")
    with AccutorrMonitor(host.port, timeout=0.5, poll_interval=0.05) as m:
        seen, cb = recorder()
        reading = m.measure(cb, timeout=5)
        assert (reading.systolic, reading.diastolic, reading.pulse) == (128, 82, 72)
        assert reading.mean == 97 and reading.measured_at is not None
        assert seen[0].phase is BpPhase.STARTING and seen[0].message == "press start on the monitor"
        assert seen[-1].phase is BpPhase.DONE and seen[-1].fraction == 1.0
        second = m.measure(timeout=5)  # the simulator's next reading differs a little
        assert (second.systolic, second.diastolic) != (reading.systolic, reading.diastolic)
        assert host.sim.measurements == 2


def test_unplug_over_pty_then_replug(pty_sim):
    host = pty_sim("bp", baudrate=9600, link=True, duration="0.1")
    m = AccutorrMonitor(host.port, timeout=0.5, poll_interval=0.05)
    m.open()
    try:
        host.sim.faults.inject("unplug")
        with pytest.raises(DeviceNotPresent):
            m.read_patient_data()
        with pytest.raises(DeviceNotPresent):
            m.open()  # the device node is gone
        replug_when_gone(host)
        m.open()
        assert m.measure(timeout=5).systolic == 128
    finally:
        m.close()


def test_unplug_while_idle_over_pty_then_replug(pty_sim):
    """Pulled between operations: the flush before the next command must not leak termios.error."""
    host = pty_sim("bp", baudrate=9600, link=True, duration="0.1")
    m = AccutorrMonitor(host.port, timeout=0.5, poll_interval=0.05)
    m.open()
    try:
        host.call_soon(host.unplug)
        time.sleep(0.2)  # the port vanishes while the driver is idle
        with pytest.raises(DeviceNotPresent):
            m.read_patient_data()
        replug_when_gone(host)
        m.open()
        assert m.measure(timeout=5).systolic == 128
    finally:
        m.close()


@pytest.mark.parametrize("fault, error", [("garbage", ProtocolError), ("truncate", DeviceTimeout)])
def test_faults_over_pty(pty_sim, fault, error):
    host = pty_sim("bp", baudrate=9600)
    with AccutorrMonitor(host.port, timeout=0.3) as m:
        host.sim.faults.inject(fault)
        with pytest.raises(error):
            m.read_patient_data()
        assert m.read_patient_data().minutes_since_nibp is None  # resynchronised


# -- over sim:// -------------------------------------------------------------------------------
def test_measure_over_sim_url():
    with AccutorrMonitor("sim://bp?name=bp&duration=0.1", **FAST) as m:
        seen, cb = recorder()
        assert m.measure(cb, timeout=5).systolic == 128
        assert [p.phase for p in seen][0] is BpPhase.STARTING and seen[-1].phase is BpPhase.DONE
        assert m.info().port.startswith("sim://bp")


def test_unplug_over_sim_url_then_replug():
    m = AccutorrMonitor("sim://bp?name=u&duration=0.1", **FAST)
    m.open()
    sim = registry.named("u")
    try:
        sim.faults.inject("unplug")
        with pytest.raises(DeviceNotPresent):
            m.read_patient_data()
        with pytest.raises(DeviceNotPresent):
            m.measure(timeout=1)  # still closed
        with pytest.raises(DeviceNotPresent):
            m.open()  # a named simulator that is unplugged refuses to open
        sim.plugged = True
        m.open()
        assert m.measure(timeout=5).systolic == 128
    finally:
        m.close()


# -- behaviour (on a pty) ------------------------------------------------------------------------
def test_info_and_self_test(monitors):
    m, _ = monitors()
    assert m.info().model == "Datascope Accutorr 3" and m.info().port.startswith("/dev/")
    result = m.self_test()
    assert result.passed and result.checks["prompt"] and result.checks["alarm_limits"]


def test_self_test_reports_nibp_error_status(monitors):
    m, sim = monitors()
    sim.faults.inject("device_error", arg="overpressure")
    result = m.self_test()
    assert not result.passed and result.checks["nibp_status"] is False


def test_alarm_limits_over_the_wire(monitors):
    m, sim = monitors()
    assert m.read_alarm_limits() == sim.limits


def test_measurement_waits_for_start_button(monitors):
    m, sim = monitors(auto_start="0")
    with pytest.raises(DeviceTimeout):
        m.measure(timeout=0.4)
    assert sim.measurements == 0
    reading = m.measure(on_starting(sim.press_start), timeout=5)
    assert reading.systolic == 128 and sim.measurements == 1


def test_new_reading_detected_by_minutes_reset_with_identical_values(monitors):
    m, sim = monitors(previous="128/82/72", jitter="0")
    baseline = m.read_patient_data()
    assert baseline.minutes_since_nibp == 5 and baseline.systolic == 128
    reading = m.measure(timeout=5)
    assert (reading.systolic, reading.diastolic, reading.pulse) == (128, 82, 72)
    assert sim.measurements == 1


def test_old_reading_is_not_returned(monitors):
    m, sim = monitors(previous="150/95/80", auto_start="0")
    with pytest.raises(DeviceTimeout):
        m.measure(timeout=0.3)


@pytest.mark.parametrize(
    "fault, error",
    [
        ("garbage", ProtocolError),
        ("bad_checksum", ProtocolError),  # no checksum on this interface: the corrupted last byte is caught
        ("truncate", DeviceTimeout),
        ("silence", DeviceTimeout),
    ],
)
def test_reply_faults_then_next_operation_succeeds(monitors, fault, error):
    m, sim = monitors()
    sim.faults.inject(fault)
    with pytest.raises(error):
        m.read_patient_data()
    assert m.read_patient_data().status2 == 0
    assert m.measure(timeout=5).systolic == 128


@pytest.mark.parametrize("fault", ["garbage", "truncate", "silence"])
def test_poll_fault_fails_measure_when_no_retries(monitors, fault):
    m, sim = monitors(driver={"max_poll_errors": 0})
    with pytest.raises((ProtocolError, DeviceTimeout)):
        m.measure(on_starting(lambda: sim.faults.inject(fault)), timeout=5)
    done = sim.measurements  # a measurement the cuff finished meanwhile is not "new" any more
    m.measure(timeout=5)
    assert sim.measurements == done + 1


def test_one_bad_poll_is_retried_by_default(monitors):
    m, sim = monitors()
    reading = m.measure(on_starting(lambda: sim.faults.inject("garbage")), timeout=5)
    assert reading.systolic == 128


@pytest.mark.parametrize(
    "arg, error, code",
    [
        ("motion", MeasurementFailed, "status2=0x02"),
        ("overpressure", CuffError, "status2=0x01"),
        ("0x03", CuffError, "status2=0x03"),
    ],
)
def test_nibp_error_status_then_next_measure_succeeds(monitors, arg, error, code):
    m, sim = monitors()
    with pytest.raises(error) as info:
        m.measure(on_starting(lambda: sim.faults.inject("device_error", arg=arg)), timeout=5)
    assert info.value.device_code == code
    assert not MeasurementFailed.degrades_device
    assert m.measure(timeout=5).systolic == 128


def test_error_left_from_an_earlier_attempt_does_not_fail_a_new_one(monitors):
    m, sim = monitors()
    sim.faults.inject("device_error", arg="motion")  # consumed by the baseline P
    assert m.measure(timeout=5).systolic == 128


def test_check_raises_while_overpressure_is_reported(monitors):
    m, sim = monitors()
    sim.faults.inject("device_error", arg="overpressure")
    with pytest.raises(CuffError):
        m.check()
    m.check()


def test_silent_device_is_not_present_then_opens(monitors):
    m, _ = monitors(faults="silence")
    with pytest.raises(DeviceNotPresent):
        m.open()
    m.open()
    assert m.read_patient_data() is not None


def test_cancel_returns_promptly(monitors):
    m, sim = monitors(auto_start="0")
    timer = threading.Timer(0.2, m.cancel)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(MeasurementCancelled):
        m.measure(timeout=10)
    assert time.monotonic() - t0 < 0.6
    assert m.measure(on_starting(sim.press_start), timeout=5).systolic == 128


def test_cancel_during_a_slow_reply(monitors):
    m, sim = monitors(driver={"timeout": 2.0, "max_poll_errors": 0})

    def cancel_soon():
        sim.faults.inject("silence")
        threading.Timer(0.15, m.cancel).start()

    t0 = time.monotonic()
    with pytest.raises(MeasurementCancelled):
        m.measure(on_starting(cancel_soon), timeout=10)
    assert time.monotonic() - t0 < 1.0


def test_second_concurrent_measure_is_busy(monitors):
    m, _ = monitors(auto_start="0")
    errors: list[Exception] = []

    def run():
        try:
            m.measure(timeout=5)
        except Exception as exc:  # the cancel below ends it
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.1)
    with pytest.raises(DeviceBusy):
        m.measure(timeout=1)
    m.cancel()
    worker.join(2)
    assert isinstance(errors[0], MeasurementCancelled)
