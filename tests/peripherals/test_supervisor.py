"""The supervisor: states, reconnect with backoff after unplug, events, per-device worker."""

from __future__ import annotations

import time

import pytest

from peripherals.base import DeviceKind, DeviceState
from peripherals.config import DeviceConfig
from peripherals.errors import DeviceNotPresent
from peripherals.idcard.errors import NoCard
from peripherals.sim import registry
from peripherals.supervisor import Backoff, Supervisor


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def idcard_map(name: str) -> dict[DeviceKind, DeviceConfig]:
    return {
        DeviceKind.IDCARD: DeviceConfig(
            driver="idcard.sam", port=f"sim://idcard?name={name}", options={"timeout": 0.3}
        )
    }


@pytest.fixture
def supervisor():
    made = []

    def make(devices):
        sup = Supervisor(devices, backoff_initial=0.05)
        made.append(sup)
        return sup

    yield make
    for sup in made:
        sup.stop()


def test_backoff_grows_and_resets():
    b = Backoff(initial=1, maximum=8)
    delays = [b.next_delay() for _ in range(6)]
    assert 0.8 <= delays[0] <= 1.2 and 6.4 <= delays[-1] <= 9.6
    assert delays[1] > delays[0]
    b.reset()
    assert b.next_delay() <= 1.2


async def test_ready_then_operation_through_the_worker(supervisor):
    sup = supervisor(idcard_map("s1"))
    events = []
    sup.subscribe(events.append)
    sup.start(wait=5)
    dev = sup[DeviceKind.IDCARD]
    assert dev.state is DeviceState.READY
    assert dev.status.info is not None and dev.status.info.serial
    card = await dev.run(lambda d: d.read_card())
    assert len(card.id_number) == 18
    assert dev.state is DeviceState.READY
    assert [e.state for e in events][:1] == [DeviceState.READY]


async def test_no_card_is_an_outcome_not_a_device_fault(supervisor):
    sup = supervisor(idcard_map("s2"))
    sup.start(wait=5)
    registry.named("s2").remove_card()
    with pytest.raises(NoCard):
        await sup[DeviceKind.IDCARD].run(lambda d: d.read_card())
    assert sup[DeviceKind.IDCARD].state is DeviceState.READY
    assert "no_card" in sup[DeviceKind.IDCARD].status.last_errors[-1]


async def test_unplug_goes_absent_and_reconnects_by_itself(supervisor):
    sup = supervisor(idcard_map("s3"))
    events = []
    sup.subscribe(events.append)
    sup.start(wait=5)
    dev = sup[DeviceKind.IDCARD]
    sim = registry.named("s3")
    sim.faults.inject("unplug")
    with pytest.raises(DeviceNotPresent):
        await dev.run(lambda d: d.read_card())
    assert dev.state is DeviceState.ABSENT
    time.sleep(0.3)  # several backoff attempts while unplugged
    assert dev.state is DeviceState.ABSENT
    sim.plugged = True
    assert wait_for(lambda: dev.state is DeviceState.READY)
    card = await dev.run(lambda d: d.read_card())
    assert card.id_number
    states = [e.state for e in events]
    assert DeviceState.ABSENT in states and states[-1] is DeviceState.READY


def test_absent_at_start_then_plugged(supervisor):
    registry.named("s4", "idcard").plugged = False
    sup = supervisor(idcard_map("s4"))
    sup.start(wait=5)
    dev = sup[DeviceKind.IDCARD]
    assert dev.state is DeviceState.ABSENT and dev.status.reason == "not_present"
    registry.named("s4").plugged = True
    assert wait_for(lambda: dev.state is DeviceState.READY)


def test_self_test_through_the_supervisor(supervisor):
    sup = supervisor(idcard_map("s5"))
    sup.start(wait=5)
    result = sup[DeviceKind.IDCARD].self_test()
    assert result.passed, result.detail


def test_printer_fault_state_clears_when_the_paper_is_back(supervisor):
    from peripherals.printer.errors import PaperOut
    from peripherals.printer.models import Receipt

    sup = supervisor(
        {DeviceKind.PRINTER: DeviceConfig(driver="printer.escpos_usb", port="simusb://printer?name=p1", options={"timeout": 0.5})}
    )
    sup.start(wait=5)
    dev = sup[DeviceKind.PRINTER]
    assert dev.state is DeviceState.READY and dev.status.consumables == {"paper": "ok"}
    sim = registry.named("p1")
    sim.set_paper("out")
    with pytest.raises(PaperOut):
        dev.submit(lambda d: d.print_receipt(Receipt(title="回执"))).result()
    assert dev.state is DeviceState.FAULT and dev.status.reason == "paper_out"
    sim.set_paper("near_end")
    assert wait_for(lambda: dev.state is DeviceState.READY)
    assert dev.status.consumables == {"paper": "near_end"}
    dev.submit(lambda d: d.print_receipt(Receipt(title="回执"))).result()
    assert sim.printed and sim.printed[-1].cut
