"""The bridge's STATIC_PRESSURE query (calibration check): Ieee11073BridgeMonitor against
Ieee11073BridgeSimulator over a real pty and over sim://, with faults and errors."""

from __future__ import annotations

import threading

import pytest

from peripherals.bp.bridge_framing import BridgeErrorCode, FrameType, frame
from peripherals.bp.driver import Ieee11073BridgeMonitor
from peripherals.bp.errors import CuffError
from peripherals.errors import DeviceBusy, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.sim.testing import replug_when_gone

FAST = dict(timeout=0.3, frame_timeout=0.3)


@pytest.fixture
def bridge(pty_sim):
    host = pty_sim("bp11073", None, link=True, duration="0.4")
    m = Ieee11073BridgeMonitor(host.port, **FAST)
    m.open()
    yield m, host
    m.close()


def test_static_pressure_over_pty_follows_the_cuff(bridge):
    m, host = bridge
    assert m.read_static_pressure() == 0.0
    host.sim.static_pressure = 150
    assert m.read_static_pressure() == 150.0
    host.sim.static_error = 4.5  # a sensor that reads high
    assert m.read_static_pressure() == 154.5
    # the wire: host sent exactly the 5-byte STATIC_PRESSURE frame
    assert frame(FrameType.STATIC_PRESSURE) in bytes(host.sim.received)
    assert frame(FrameType.STATIC_PRESSURE)[:3] == bytes([0x01, 0x50, 0x00])


def test_static_pressure_over_sim_url_in_kpa():
    with Ieee11073BridgeMonitor("sim://bp11073?name=static-kpa&unit=kPa&static=250", **FAST) as m:
        assert m.read_static_pressure() == pytest.approx(250.0, abs=0.2)  # SFLOAT kPa to 0.01


def test_static_pressure_refused_while_measuring(bridge):
    m, host = bridge
    result: list = []
    t = threading.Thread(target=lambda: result.append(m.measure(timeout=5)))
    t.start()
    try:
        with pytest.raises(DeviceBusy):
            for _ in range(100):  # until the measurement holds the driver
                m.read_static_pressure()
    finally:
        t.join(5)
    assert result and result[0].systolic == 128
    assert m.read_static_pressure() == 0.0


@pytest.mark.parametrize(
    "fault, error",
    [("garbage", ProtocolError), ("bad_checksum", ProtocolError), ("truncate", DeviceTimeout),
     ("silence", DeviceTimeout), ("device_error", CuffError), ("device_error=0x04", CuffError)],
)
def test_faults_give_typed_errors_then_the_next_read_succeeds(bridge, fault, error):
    m, host = bridge
    host.sim.static_pressure = 150
    kind, _, arg = fault.partition("=")
    host.sim.faults.inject(kind, arg=arg or None)
    with pytest.raises(error):
        m.read_static_pressure()
    assert m.read_static_pressure() == 150.0


def test_bridge_busy_error_code_maps_to_device_busy(bridge):
    m, host = bridge
    host.sim.faults.inject("device_error", arg=str(int(BridgeErrorCode.BUSY)))
    with pytest.raises(DeviceBusy):
        m.read_static_pressure()


def test_unplug_mid_reply_then_replug(bridge):
    m, host = bridge
    host.sim.faults.inject("unplug")
    with pytest.raises(DeviceNotPresent):
        m.read_static_pressure()
    replug_when_gone(host)
    m.close()
    m.open()
    host.sim.static_pressure = 42
    assert m.read_static_pressure() == 42.0
