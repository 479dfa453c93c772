"""SamIdCardReader against its simulator over a real pty and over sim://, with faults."""

from __future__ import annotations

import logging
import time

import pytest

from peripherals.errors import DeviceFault, DeviceNotPresent, DeviceTimeout, ProtocolError
from peripherals.idcard import errors
from peripherals.idcard.driver import SamIdCardReader
from peripherals.idcard.models import LONG_TERM, CardType
from peripherals.idcard.sim import SamReaderSimulator, scripted_card
from peripherals.sim import registry

FAST = dict(timeout=0.3)
KINDS = ["resident", "hmt", "foreign_i", "foreign_y"]
EXPECTED_TYPE = {
    "resident": CardType.RESIDENT,
    "hmt": CardType.HMT_PERMIT,
    "foreign_i": CardType.FOREIGN_PR,
    "foreign_y": CardType.FOREIGN_PR,
}


def _expected(kind: str, long_term: bool = False, fingerprint: bool = False):
    card = scripted_card(kind, long_term)
    return card if fingerprint else card.model_copy(update={"fingerprint": None})


@pytest.fixture
def sim_reader():
    """Factory: an open reader on a named sim:// simulator; returns (reader, simulator)."""
    readers: list[SamIdCardReader] = []

    def make(query: str = "", name: str = "idc", **kw):
        url = f"sim://idcard?name={name}" + (f"&{query}" if query else "")
        reader = SamIdCardReader(url, **{**FAST, **kw})
        reader.open()
        readers.append(reader)
        return reader, registry.named(name)

    yield make
    for r in readers:
        r.close()


@pytest.fixture
def pty_reader(pty_sim):
    readers: list[SamIdCardReader] = []

    def make(link: bool = False, faults: str | None = None, reader_kw: dict | None = None, **options):
        host = pty_sim("idcard", faults=faults, link=link, **options)
        reader = SamIdCardReader(host.port, **{**FAST, **(reader_kw or {})})
        readers.append(reader)
        return reader, host

    yield make
    for r in readers:
        r.close()


# -- normal operation ---------------------------------------------------------------------------
def test_simulator_class_is_registered():
    assert registry.simulator_class("idcard") is SamReaderSimulator


@pytest.mark.parametrize("kind", KINDS)
def test_read_each_card_over_pty(pty_reader, kind):
    reader, host = pty_reader(card=kind)
    reader.open()
    card = reader.read_card()
    assert card == _expected(kind)
    assert card.card_type is EXPECTED_TYPE[kind] and len(card.photo_wlt) == 1024


@pytest.mark.parametrize("kind", KINDS)
def test_read_each_card_over_sim_url(sim_reader, kind):
    reader, _ = sim_reader(f"card={kind}&long_term=1")
    card = reader.read_card()
    assert card == _expected(kind, long_term=True) and card.valid_to == LONG_TERM


def test_read_with_fingerprint_over_pty(pty_reader):
    reader, _ = pty_reader(reader_kw={"with_fingerprint": True})
    reader.open()
    card = reader.read_card()
    assert card == _expected("resident", fingerprint=True) and len(card.fingerprint) == 1024


def test_info_and_self_test(pty_reader):
    reader, host = pty_reader()
    reader.open()
    info = reader.info()
    assert (info.model, info.serial, info.port) == ("GA 467 SAM", "05.01-20190322-0001234567-3000123456", host.port)
    result = reader.self_test()
    assert result.passed and result.checks == {"reset": True, "sam_status": True, "sam_id": True}


def test_self_test_reports_sam_fault(sim_reader):
    reader, sim = sim_reader()
    sim.faults.inject("device_error", arg="0x60")
    result = reader.self_test()
    assert not result.passed and result.checks["reset"] is False and "0x60" in result.detail
    assert reader.self_test().passed


def test_no_card_waits_then_raises(sim_reader):
    reader, _ = sim_reader("card=none")
    started = time.monotonic()
    with pytest.raises(errors.NoCard):
        reader.read_card(wait=0.45)
    assert 0.4 <= time.monotonic() - started < 1.5


def test_card_placed_while_waiting(pty_reader):
    reader, host = pty_reader(card="none")
    reader.open()
    host.call_soon(lambda: host.call_later(0.3, lambda: host.sim.place_card("hmt")))
    assert reader.read_card(wait=2.0) == _expected("hmt")
    host.call_soon(host.sim.remove_card)
    time.sleep(0.05)
    with pytest.raises(errors.NoCard):
        reader.read_card()


def test_card_with_bad_id_checksum_is_card_read_failed(sim_reader):
    reader, sim = sim_reader()
    good = scripted_card("resident")
    wrong = "0" if good.id_number[-1] != "0" else "1"
    sim.place_card(good.model_copy(update={"id_number": good.id_number[:17] + wrong}))
    with pytest.raises(errors.CardReadFailed):
        reader.read_card()
    sim.place_card("resident")
    assert reader.read_card() == _expected("resident")


def test_no_personal_data_in_logs(sim_reader, caplog):
    caplog.set_level(logging.DEBUG)
    reader, sim = sim_reader()
    sim.faults.inject("device_error", arg="0x41")
    with pytest.raises(errors.CardReadFailed):
        reader.read_card()
    card = reader.read_card()
    for secret in (card.name, card.id_number, card.address, card.id_number[-6:]):
        assert secret not in caplog.text


def test_closed_reader_is_not_present():
    reader = SamIdCardReader("sim://idcard", **FAST)
    with pytest.raises(DeviceNotPresent):
        reader.read_card()
    reader.close()
    reader.close()


def test_open_missing_port_is_not_present():
    with pytest.raises(DeviceNotPresent):
        SamIdCardReader("/dev/does-not-exist-idcard", **FAST).open()


def test_open_silent_device_is_not_present(pty_reader):
    reader, host = pty_reader(faults="silence:2", reader_kw={"retries": 1})
    with pytest.raises(DeviceNotPresent):
        reader.open()
    reader.open()  # the device answers again
    assert reader.read_card() == _expected("resident")


# -- generic faults -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault, error",
    [
        ("garbage", ProtocolError),
        ("bad_checksum", ProtocolError),
        ("truncate", DeviceTimeout),
        ("silence", DeviceTimeout),
    ],
)
@pytest.mark.parametrize("target", ["find", "read"])
def test_fault_gives_typed_error_then_next_read_succeeds(pty_reader, fault, error, target):
    reader, host = pty_reader(faults_on=target, reader_kw={"retries": 0})
    reader.open()
    host.sim.faults.inject(fault)
    with pytest.raises(error):
        reader.read_card()
    assert reader.read_card() == _expected("resident")


@pytest.mark.parametrize("fault", ["garbage", "bad_checksum", "truncate", "silence"])
def test_single_fault_is_retried_transparently(sim_reader, fault):
    reader, sim = sim_reader("faults_on=read", retries=1)
    sim.faults.inject(fault)
    assert reader.read_card() == _expected("resident")
    assert len(sim.faults) == 0


def test_unplug_mid_read_frame_over_pty_then_replug(pty_reader):
    reader, host = pty_reader(link=True, faults_on="read")
    reader.open()
    host.sim.faults.inject("unplug")
    with pytest.raises(DeviceNotPresent):
        reader.read_card()
    with pytest.raises(DeviceNotPresent):
        reader.read_card()
    with pytest.raises(DeviceNotPresent):
        reader.open()  # the /dev node is gone
    host.replug()
    reader.open()
    assert reader.read_card() == _expected("resident")


def test_unplug_while_idle_over_pty_then_replug(pty_reader):
    """Pulled between operations: the flush before the next command must not leak termios.error."""
    reader, host = pty_reader(link=True)
    reader.open()
    host.call_soon(host.unplug)
    time.sleep(0.1)
    with pytest.raises(DeviceNotPresent):
        reader.read_card()
    host.replug()
    reader.open()
    assert reader.read_card() == _expected("resident")


def test_unplug_mid_frame_over_sim_url_then_replug(sim_reader):
    reader, sim = sim_reader("faults_on=read")
    sim.faults.inject("unplug")
    with pytest.raises(DeviceNotPresent):
        reader.read_card()
    reader.close()
    with pytest.raises(DeviceNotPresent):
        reader.open()
    sim.plugged = True  # plugged back in
    reader.open()
    assert reader.read_card() == _expected("resident")


# -- device-reported errors (SW3) ---------------------------------------------------------------
@pytest.mark.parametrize(
    "code, error",
    [
        ("0x80", errors.NoCard),
        ("0x81", errors.CardSelectFailed),
        ("0x41", errors.CardReadFailed),
        ("0x60", errors.SamFault),
        ("0x66", errors.SamFault),
        ("0x40", errors.CardNotSupported),
        ("0x21", DeviceFault),
    ],
)
def test_device_error_gives_typed_error_then_next_read_succeeds(pty_reader, code, error):
    reader, host = pty_reader()
    reader.open()
    host.sim.faults.inject("device_error", arg=code)
    with pytest.raises(error) as info:
        reader.read_card()
    assert info.value.device_code == int(code, 16)
    assert reader.read_card() == _expected("resident")


def test_sam_checksum_error_is_retried_then_raised(sim_reader):
    reader, sim = sim_reader(retries=1)
    sim.faults.inject("device_error", arg="0x10")
    assert reader.read_card() == _expected("resident")  # one NAK: re-sent and read
    sim.faults.inject("device_error", count=2, arg="0x10")
    with pytest.raises(errors.SamChecksumError):
        reader.read_card()
    assert reader.read_card() == _expected("resident")


def test_device_error_during_open_is_typed(pty_reader):
    reader, host = pty_reader(faults="device_error=0x60")
    with pytest.raises(errors.SamFault):
        reader.open()
    reader.open()
    assert reader.info().serial


def test_damaged_request_gets_sam_checksum_status():
    """The simulator NAKs a request with a bad checksum with SW3 0x10, like a SAM."""
    from peripherals.idcard import codec

    sim = SamReaderSimulator()
    sent: list[bytes] = []

    class Host:
        send = sent.append

        def unplug(self): ...

    sim.attach(Host())  # type: ignore[arg-type]
    sim.feed(bytes.fromhex("AA AA AA 96 69 00 03 10 FF ED"))
    sim.feed(codec.command_frame(codec.Command.RESET))
    assert sent == [bytes.fromhex("AA AA AA 96 69 00 04 00 00 10 14"), bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 94")]
