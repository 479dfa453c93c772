"""Height-weight station: the Tanita data-output codec, the driver over a real pty and sim://,
the simulator's faults, and `kiosk-devices read height`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peripherals.errors import CodecError, DeviceNotPresent, ProtocolError
from peripherals.height import codec
from peripherals.height.driver import TanitaHeightStation
from peripherals.height.errors import ChecksumMismatch, HeightCodecError, NoHeight, NoMeasurement
from peripherals.height.models import StationRecord
from peripherals.sim import registry

WB3000 = b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",Hm,170.5,Wk,65.3,MI,22.5,CS,3C\r\n'


# -- codec ----------------------------------------------------------------------------------
def test_decode_the_documented_record_and_round_trip():
    rec = codec.decode(WB3000)
    assert rec == StationRecord(model="WB-3000", height_cm=170.5, weight_kg=65.3, bmi=22.5)
    assert codec.encode(rec) == WB3000


def test_weight_mode_and_pound_records():
    body = b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",Wp,143.9,'
    rec = codec.decode(body + b"CS," + codec.checksum(body).encode() + b"\r\n")
    assert rec.height_cm is None and rec.weight_kg == pytest.approx(65.3, abs=0.05)
    body = b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",Hf,5-7,Wp,143.9,'
    with pytest.raises(HeightCodecError, match="kg / cm"):
        codec.decode(body + b"CS," + codec.checksum(body).encode())


@pytest.mark.parametrize("bad", [
    WB3000.replace(b"CS,3C", b"CS,3D"),
    WB3000.replace(b"{0,16", b"{0,17"),
    WB3000.replace(b"170.5", b"17x.5"),
    WB3000.replace(b",CS,3C", b""),
    b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",CS,' + codec.checksum(b'{0,16,~0,1,~1,1,~2,1,MO,"WB-3000",').encode(),
])
def test_bad_records_are_typed_codec_errors(bad):
    with pytest.raises(HeightCodecError):
        codec.decode(bad)


def test_checksum_can_be_ignored_for_a_station_that_computes_it_otherwise():
    bad = WB3000.replace(b"CS,3C", b"CS,00")
    with pytest.raises(ChecksumMismatch):
        codec.decode(bad)
    assert codec.decode(bad, verify_checksum=False).height_cm == 170.5


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_ever_raise_the_codec_error(data):
    for candidate in (data, codec.CONTROL + data):
        try:
            codec.decode(candidate)
        except CodecError:
            pass


def test_splitter_drops_the_stray_byte_and_reassembles_records():
    s = codec.LineSplitter()
    assert s.feed(b"\x00garbage" + WB3000[:10]) == []
    assert s.feed(WB3000[10:] + b"\x00") == [WB3000]
    assert s.feed(WB3000 + WB3000) == [WB3000, WB3000]


# -- driver against the simulator ------------------------------------------------------------
@pytest.fixture
def station(pty_sim):
    opened: list[TanitaHeightStation] = []

    def make(faults: str | None = None, driver: dict | None = None, **options: str):
        host = pty_sim("height", faults, baudrate=9600, **{"period": "0.1", "first": "0.05", **options})
        s = TanitaHeightStation(host.port, **(driver or {}))
        s.open()
        opened.append(s)
        return s, host

    yield make
    for s in opened:
        s.close()


def test_measures_height_and_weight_over_a_pty_at_9600_baud(station):
    s, host = station(height="163.4", weight="58.2")
    reading = s.measure(timeout=3)
    assert (reading.height_cm, reading.weight_kg, reading.model) == (163.4, 58.2, "WB-3000")
    assert reading.bmi == pytest.approx(58.2 / 1.634**2, abs=0.05)
    assert s.info().model == "WB-3000"


def test_a_record_of_the_previous_citizen_is_not_taken(station):
    s, host = station(height="181.0", period="0.2")
    s.measure(timeout=3)
    host.sim.step_on(height=152.0)
    assert s.measure(timeout=3).height_cm == 152.0  # whatever was buffered for 181 was dropped


def test_a_bad_checksum_is_skipped_and_the_next_record_taken(station):
    s, host = station(faults="bad_checksum:2,garbage")
    assert s.measure(timeout=3).height_cm == 170.0
    assert s.bad_records >= 2


def test_nobody_on_the_station_is_no_measurement(station):
    s, host = station(person="0")
    with pytest.raises(NoMeasurement):
        s.measure(timeout=0.5)


def test_only_unreadable_records_is_a_protocol_error(station):
    s, host = station(faults="bad_checksum:50", period="0.05")
    with pytest.raises(ProtocolError):
        s.measure(timeout=0.6)


def test_weight_only_records_mean_the_height_sensor_saw_nothing(station):
    s, host = station(faults="device_error:5")
    with pytest.raises(NoHeight):
        s.measure(timeout=3)


def test_a_station_without_a_scale_gives_height_only(station):
    s, host = station(weight="none")
    r = s.measure(timeout=3)
    assert r.height_cm == 170.0 and r.weight_kg is None


def test_unplugged_is_not_present(station):
    s, host = station(faults="unplug")
    with pytest.raises(DeviceNotPresent):
        s.measure(timeout=1.5)


def test_self_test_and_sim_url():
    registry.forget("h-self")
    with TanitaHeightStation("sim://height?name=h-self&period=0.1&first=0.05") as s:
        result = s.self_test(listen_s=1.0)
        assert result.passed and result.checks == {"port": True, "record_heard": True}
        assert s.measure(timeout=2).height_cm == 170.0
    registry.forget("h-self")


# -- the command line ------------------------------------------------------------------------
def test_kiosk_devices_read_height_prints_json(pty_sim):
    host = pty_sim("height", baudrate=9600, height="158.0", weight="49.5", period="0.2")
    out = subprocess.run([sys.executable, "-m", "peripherals.cli", "read", "height", "--port", host.port,
                          "--timeout", "5"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"height_cm": 158.0, "weight_kg": 49.5, "bmi": 19.8, "model": "WB-3000"}
