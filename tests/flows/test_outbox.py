"""The outbox store, provisional references and the forwarder against the real back office app.

Faults are the back office's own (backoffice/faults.py): 5xx answers, connections dropped
after the server committed (the client sees a failure, the write happened), and a server
that is not there at all. Every case must leave each write in the back office exactly once.
"""

from __future__ import annotations

import asyncio

import pytest

from backoffice.testing import address, set_faults, submissions
from flows.outbox import CircuitBreaker, Forwarder, OutboxStore, Queued, make_reference
from flows.outbox.reference import InvalidReference, check_char, is_valid, parse
from flows.services import HttpBackOffice
from flows.services.models import PaymentOrderRequest, WaybillRequest


def _waybill(n: int) -> WaybillRequest:
    return WaybillRequest(address=address(), contents="机动车驾驶证", reference=f"REF-{n:06d}")


def _store(tmp_path, **kw) -> OutboxStore:
    return OutboxStore(tmp_path / "state", kiosk_id="cq-yz-0042", **kw)


# -- references -------------------------------------------------------------------------------


def test_references_carry_the_kiosk_and_a_check_character():
    ref = make_reference("cq-yz-0042", 123)
    assert ref.startswith("CQ-YZ-0042-000123-") and is_valid(ref) and parse(ref) == ("CQ-YZ-0042", 123)
    body = ref[:-2]
    for i, c in enumerate(body):  # every single-character substitution of a digit is caught
        if c.isdigit():
            wrong = body[:i] + str((int(c) + 1) % 10) + body[i + 1:]
            assert not is_valid(f"{wrong}-{ref[-1]}")
    assert check_char(body) == ref[-1]
    assert make_reference("cq-yz-0042", 1) != make_reference("cq-yz-0043", 1)  # no coordination needed
    with pytest.raises(InvalidReference):
        parse("CQ-YZ-0042-000123-0" if ref[-1] != "0" else "CQ-YZ-0042-000123-1")


def test_a_reference_is_issued_once_per_key_and_survives_reopening(tmp_path):
    with _store(tmp_path) as store:
        first = store.issue_reference("key-aaaaaaaa")
        assert store.issue_reference("key-aaaaaaaa") == first
        second = store.issue_reference("key-bbbbbbbb")
    with _store(tmp_path) as store:
        assert store.issue_reference("key-aaaaaaaa") == first
        assert parse(store.issue_reference("key-cccccccc"))[1] == parse(second)[1] + 1


# -- the store --------------------------------------------------------------------------------


def test_enqueue_is_durable_encrypted_and_idempotent(tmp_path):
    with _store(tmp_path) as store:
        a = store.enqueue("create_waybill", _waybill(1), "key-00000001", lane="s1", reference="REF-000001")
        again = store.enqueue("create_waybill", _waybill(1), "key-00000001", lane="s1")
        assert again.seq == a.seq and len(store.items()) == 1
        store.enqueue("create_order", PaymentOrderRequest(amount_fen=100, description="x"), "key-00000002", lane="s1")
        assert store.body(a)["address"]["street"] == address().street
        stats = store.stats()
        assert stats.depth == 2 and stats.parked == 0
    raw = b"".join(p.read_bytes() for p in (tmp_path / "state").glob("journal.sqlite3*"))
    assert address().street.encode() not in raw and address().phone.encode() not in raw


def test_parking_wipes_the_body_and_delivery_deletes_the_row(tmp_path):
    with _store(tmp_path) as store:
        a = store.enqueue("create_waybill", _waybill(1), "key-00000001", lane="s1")
        b = store.enqueue("create_waybill", _waybill(2), "key-00000002", lane="s1")
        store.park(a.seq, "invalid_field")
        store.delivered(b.seq)
        items = store.items()
        assert [(i.seq, i.status, i.last_error) for i in items] == [(a.seq, "parked", "invalid_field")]
        assert store.stats().depth == 0 and store.stats().parked == 1
        assert store.discard(a.seq) and store.items() == []
    raw = b"".join(p.read_bytes() for p in (tmp_path / "state").glob("journal.sqlite3*"))
    assert address().street.encode() not in raw


# -- the forwarder against the real back office ------------------------------------------------


async def _drain(store: OutboxStore, url: str, **kw) -> object:
    async with HttpBackOffice(url, retries=0, timeout=2, connect_timeout=1) as bo:
        forwarder = Forwarder(store, bo, breaker=CircuitBreaker(base_s=0.01, max_s=0.02))
        return await forwarder.drain(**kw)


@pytest.mark.timeout(60)
def test_5xx_and_commit_then_drop_leave_each_write_once(backoffice, tmp_path):
    with _store(tmp_path) as store:
        for n in range(6):
            store.enqueue("create_waybill", _waybill(n), f"key-{n:08d}", lane=f"s{n % 2}")
        set_faults(backoffice.url, {"prefix": "/v1/post", "error_next": 2, "drop_next": 3, "drop_phase": "after"})
        report = asyncio.run(_drain(store, backoffice.url, max_failures=10))
        assert report.drained and report.delivered == 6 and report.failures >= 3
        held = submissions(backoffice.url, "waybill")
        assert sorted(s["idempotency_key"] for s in held) == [f"key-{n:08d}" for n in range(6)]
        assert store.items() == []


@pytest.mark.timeout(60)
def test_a_refusal_is_parked_and_does_not_block_the_rest(backoffice, tmp_path):
    with _store(tmp_path) as store:
        store.enqueue("create_waybill", {"address": {"bogus": 1}, "contents": "x"}, "key-bad00001", lane="s1")
        store.enqueue("create_order", PaymentOrderRequest(amount_fen=100, description="x"), "key-00000002", lane="s1")
        report = asyncio.run(_drain(store, backoffice.url))
        assert report.drained and report.delivered == 1 and report.parked == 1
        parked = store.items()
        assert [(i.kind, i.status, i.last_error) for i in parked] == [("create_waybill", "parked", "unreadable")]
        assert [s["kind"] for s in submissions(backoffice.url)] == ["payment_order"]


@pytest.mark.timeout(60)
def test_unreachable_opens_the_breaker_and_waiters_get_queued(tmp_path):
    async def scenario() -> None:
        with _store(tmp_path) as store:
            async with HttpBackOffice("http://127.0.0.1:9", retries=0, connect_timeout=0.5) as bo:
                forwarder = Forwarder(store, bo, breaker=CircuitBreaker(base_s=30, max_s=60), probe_interval_s=None)
                task = asyncio.create_task(forwarder.run())
                item = store.enqueue("create_waybill", _waybill(1), "key-00000001", lane="s1")
                first = await forwarder.await_item(item, timeout=10)
                assert isinstance(first, Queued) and forwarder.online is False
                later = store.enqueue("create_waybill", _waybill(2), "key-00000002", lane="s1")
                assert await forwarder.await_item(later, timeout=10) == Queued("backoffice_unreachable")  # at once
                assert store.stats().depth == 2 and store.items()[0].attempts == 1
                task.cancel()

    asyncio.run(scenario())


def test_breaker_backs_off_with_jitter_and_closes_on_success():
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, base_s=1, max_s=8, clock=lambda: now[0])
    assert breaker.failure() == 0 and breaker.allows()
    delays = [breaker.failure() for _ in range(5)]
    assert all(0.5 <= d <= 1 for d in delays[:1]) and all(4 <= d <= 8 for d in delays[3:])
    assert not breaker.allows()
    now[0] += 9
    assert breaker.state.value == "half_open" and breaker.allows()
    breaker.success()
    assert breaker.state.value == "closed" and breaker.wait_s() == 0


@pytest.mark.timeout(60)
def test_an_idle_forwarder_probes_so_the_kiosk_knows_before_a_citizen_starts(backoffice, tmp_path):
    async def link_after_probe(url: str) -> bool | None:
        with _store(tmp_path) as store:
            async with HttpBackOffice(url, retries=0, connect_timeout=0.5) as bo:
                forwarder = Forwarder(store, bo, breaker=CircuitBreaker(base_s=30, max_s=60))
                task = asyncio.create_task(forwarder.run())
                for _ in range(200):
                    if forwarder.online is not None:
                        break
                    await asyncio.sleep(0.02)
                task.cancel()
                return forwarder.online

    assert asyncio.run(link_after_probe("http://127.0.0.1:9")) is False
    assert asyncio.run(link_after_probe(backoffice.url)) is True


@pytest.mark.timeout(60)
def test_a_refused_provisional_application_is_parked_and_notified_once(backoffice, tmp_path):
    import datetime as dt

    import httpx

    from backoffice import seed
    from backoffice.testing import CITIZEN_ID, medical
    from flows.services.models import LicenceRenewalRequest

    held = seed.licence_for(CITIZEN_ID, dt.date.today())
    wrong = "A1" if held.licence_class != "A1" else "C1"  # the citizen picked the wrong class offline
    with _store(tmp_path) as store:
        ref = store.issue_reference("key-ref00001")
        request = LicenceRenewalRequest(id_number=CITIZEN_ID, licence_class=wrong, medical=medical(),
                                        provisional_reference=ref)
        store.enqueue("renew_licence", request, "key-00000001", lane="s1", reference=ref)
        report = asyncio.run(_drain(store, backoffice.url))
        assert report.drained and report.parked == 1
        [item] = store.items()
        assert (item.status, item.last_error, item.reference) == ("parked", "licence_class_mismatch", ref)
        # the kiosk never heard the answer and sends again: the same refusal, no second notice
        store.discard(item.seq)
        store.enqueue("renew_licence", request, "key-00000001", lane="s1", reference=ref)
        assert asyncio.run(_drain(store, backoffice.url)).parked == 1
    notices = httpx.get(f"{backoffice.url}/v1/notices", params={"reference": ref}, timeout=5).json()
    assert [(n["decision"], n["reason"]) for n in notices] == [("refused", "licence_class_mismatch")]
    assert [s["kind"] for s in submissions(backoffice.url)] == ["refused:licence_renewal"]
