"""The invoice terminal's services in the reference back office: allocation, roll checks,
numbers in sequence, voids, and wrong numbers that are wrong only on the wire."""

from __future__ import annotations

import httpx
import pytest

from flows.services.errors import ServiceRejected
from flows.services.terminal_client import HttpTerminalBackOffice
from flows.services.terminal_models import (
    AllocationRequest,
    PaperInvoiceRequest,
    RollActivation,
    VoidRequest,
)

T = "terminal-api-01"


@pytest.fixture
async def bo(start_backoffice):
    server = start_backoffice()
    client = HttpTerminalBackOffice(server.url, retries=0)
    client.url = server.url  # type: ignore[attr-defined]
    yield client
    await client.aclose()


async def activated(bo, count=5):
    alloc = await bo.allocate_stock(AllocationRequest(terminal_id=T, count=count), idempotency_key="alloc-key-1")
    await bo.activate_roll(RollActivation(terminal_id=T, invoice_code=alloc.invoice_code, first_number=alloc.first_number,
                                          last_number=alloc.last_number), idempotency_key="roll-key-1")
    return alloc


def seed(url, n=2):
    return httpx.post(f"{url}/v1/_test/terminal/applications", json={"count": n}, timeout=5).json()


async def test_numbers_are_assigned_in_order_and_replays_give_the_same_invoice(bo):
    alloc = await activated(bo)
    apps = seed(bo.url)
    first = await bo.issue_paper_invoice(PaperInvoiceRequest(terminal_id=T, application_id=apps[0]),
                                         idempotency_key="issue-key-1")
    again = await bo.issue_paper_invoice(PaperInvoiceRequest(terminal_id=T, application_id=apps[0]),
                                         idempotency_key="issue-key-1")
    second = await bo.issue_paper_invoice(PaperInvoiceRequest(terminal_id=T, application_id=apps[1]),
                                          idempotency_key="issue-key-2")
    assert (first.invoice_number, again.invoice_number, second.invoice_number) == ("00000001", "00000001", "00000002")
    assert first.invoice_code == alloc.invoice_code and "发票号码：00000001" in first.printable_lines
    system = await bo.invoice_system_number(T)
    assert (system.last_number, system.next_number) == ("00000002", "00000003")
    queue = await bo.pending_applications()
    assert queue.pending_total == 2 and all("*" in a.buyer for a in queue.applications)  # masked


async def test_rolls_must_be_allocated_and_unused(bo):
    alloc = await activated(bo)
    with pytest.raises(ServiceRejected) as refused:
        await bo.activate_roll(RollActivation(terminal_id="other-terminal", invoice_code=alloc.invoice_code,
                                              first_number="00000001", last_number="00000005"),
                               idempotency_key="roll-key-2")
    assert refused.value.code == "roll_not_allocated"
    await bo.void_numbers(VoidRequest(terminal_id=T, invoice_code=alloc.invoice_code, numbers=["00000001"],
                                      reason="spoiled"), idempotency_key="void-key-1")
    with pytest.raises(ServiceRejected) as refused:
        await bo.activate_roll(RollActivation(terminal_id=T, invoice_code=alloc.invoice_code, first_number="00000001",
                                              last_number="00000005"), idempotency_key="roll-key-3")
    assert refused.value.code == "numbers_already_used"
    numbers = httpx.get(f"{bo.url}/v1/_test/terminal/numbers/{alloc.invoice_code}", timeout=5).json()
    assert numbers == [{"number": "00000001", "status": "voided_blank", "source": "spoiled"}]


async def test_a_wrong_number_is_wrong_only_on_the_wire(bo):
    await activated(bo)
    apps = seed(bo.url, 1)
    httpx.post(f"{bo.url}/v1/_test/terminal/faults", json={"core_wrong_next": 1, "system_wrong_next": 1}, timeout=5)
    request = PaperInvoiceRequest(terminal_id=T, application_id=apps[0])
    wrong = await bo.issue_paper_invoice(request, idempotency_key="issue-key-9")
    wrong_system = await bo.invoice_system_number(T)
    right = await bo.issue_paper_invoice(request, idempotency_key="issue-key-9")
    right_system = await bo.invoice_system_number(T)
    assert wrong.invoice_number != "00000001" and right.invoice_number == "00000001"
    assert wrong_system.last_number != "00000001" and right_system.last_number == "00000001"
    counts = httpx.get(f"{bo.url}/v1/_test/terminal/faults", timeout=5).json()
    assert counts == {"core_wrong_injected": 1, "system_wrong_injected": 1}
