"""The client against a misbehaving back office: latency, 5xx, dropped connections, no server."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backoffice.testing import CITIZEN_ID, CITIZEN_NAME, CITIZEN_PHONE, CITIZEN_STREET, CountingTransport, address, set_faults, submissions
from flows.services import HttpBackOffice, ServiceRejected, ServiceTimeout, ServiceUnavailable
from flows.services.models import (
    FineQuery,
    InvoiceRequest,
    LicenceQuery,
    PaymentOrderRequest,
    RealNameCheck,
    WaybillRequest,
)

REPO = Path(__file__).resolve().parents[2]


def _order() -> PaymentOrderRequest:
    return PaymentOrderRequest(amount_fen=1_000, description="驾驶证工本费")


async def test_latency_beyond_timeout_is_a_service_timeout(server, make_client):
    set_faults(server.url, {"prefix": "/v1/health", "latency_ms": 400, "latency_count": 1})
    client = make_client(server.url, timeout=0.15, retries=0)
    started = time.monotonic()
    with pytest.raises(ServiceTimeout) as info:
        await client.health()
    assert time.monotonic() - started < 0.35
    assert isinstance(info.value, ServiceUnavailable) and info.value.code == "service_timeout"
    assert (await client.health()).status == "ok"  # the latency was for one request only


async def test_timeout_then_retry_submits_once(server, make_client, keys):
    set_faults(server.url, {"prefix": "/v1/payments", "latency_ms": 400, "latency_count": 1})
    transport = CountingTransport()
    client = make_client(server.url, timeout=0.15, retries=2, transport=transport)
    order = await client.create_order(_order(), idempotency_key=keys("order"))
    assert [key for _, _, key in transport.sent] == [keys("order")] * 2
    await asyncio.sleep(0.4)  # the abandoned first attempt finishes on the server meanwhile
    assert [s["id"] for s in keys.submissions(server.url)] == [order.order_id]


async def test_5xx_is_retried_until_faults_clear(server, make_client, keys):
    set_faults(server.url, {"prefix": "/v1/post", "error_next": 2, "error_status": 502})
    transport = CountingTransport()
    client = make_client(server.url, retries=3, transport=transport)
    waybill = await client.create_waybill(WaybillRequest(address=address(), contents="证件"), idempotency_key=keys("waybill"))
    assert len(transport.sent) == 3 and {k for _, _, k in transport.sent} == {keys("waybill")}
    assert [s["id"] for s in keys.submissions(server.url)] == [waybill.waybill_id]


async def test_exhausted_retries_are_service_unavailable(server, make_client, keys):
    set_faults(server.url, {"prefix": "/v1/payments", "error_rate": 1.0})
    transport = CountingTransport()
    client = make_client(server.url, retries=2, transport=transport)
    with pytest.raises(ServiceUnavailable) as info:
        await client.create_order(_order(), idempotency_key=keys("order"))
    assert info.value.status_code == 503 and not isinstance(info.value, ServiceTimeout)
    assert len(transport.sent) == 3 and keys.submissions(server.url) == []
    set_faults(server.url)
    order = await client.create_order(_order(), idempotency_key=keys("order"))
    assert [s["id"] for s in keys.submissions(server.url)] == [order.order_id]


async def test_4xx_is_never_retried(server, make_client, keys):
    transport = CountingTransport()
    client = make_client(server.url, retries=3, transport=transport)
    with pytest.raises(ServiceRejected):
        await client.lookup_licence(LicenceQuery.model_construct(id_number="110105194912310021"))
    assert len(transport.sent) == 1


@pytest.mark.parametrize("phase", ["after", "before"])
async def test_dropped_connection_is_retried_with_the_same_key(server, make_client, keys, phase):
    set_faults(server.url, {"prefix": "/v1/payments/orders", "drop_next": 1, "drop_phase": phase})
    transport = CountingTransport()
    client = make_client(server.url, retries=2, transport=transport)
    order = await client.create_order(_order(), idempotency_key=keys("order"))
    assert [key for _, _, key in transport.sent] == [keys("order")] * 2
    assert [s["id"] for s in keys.submissions(server.url)] == [order.order_id]


async def test_dropped_connection_really_sends_nothing(server):
    set_faults(server.url, {"prefix": "/v1/health", "drop_next": 1, "drop_phase": "before"})
    with socket.create_connection((server.host, server.port), timeout=2) as raw:
        raw.sendall(b"GET /v1/health HTTP/1.1\r\nHost: backoffice\r\n\r\n")
        try:
            received = raw.recv(1024)
        except ConnectionResetError:
            received = b""
    assert received == b""


async def test_faults_are_scoped_by_prefix_and_never_hit_controls(server, make_client, keys):
    set_faults(server.url, {"prefix": "/v1/", "error_rate": 1.0}, {"prefix": "/v1/traffic", "latency_ms": 1})
    client = make_client(server.url, retries=0)
    assert (await client.list_fines(FineQuery(id_number=CITIZEN_ID))).unpaid_total_fen >= 0  # longest prefix wins
    with pytest.raises(ServiceUnavailable):
        await client.health()
    assert isinstance(submissions(server.url), list)  # inspection and control paths are exempt
    assert httpx.get(f"{server.url}/v1/_faults", timeout=2).json()["rules"][0]["error_rate"] == 1.0


async def test_server_down_is_service_unavailable_quickly(make_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    client = make_client(f"http://127.0.0.1:{port}", retries=2)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as info:
        await client.create_order(_order(), idempotency_key="offline-session:order")
    assert time.monotonic() - started < 1.0 and info.value.code == "service_unavailable"


async def test_no_personal_data_in_logs_even_when_things_fail(server, make_client, keys, caplog):
    caplog.set_level(logging.DEBUG)
    set_faults(server.url, {"prefix": "/v1/", "error_next": 1, "drop_next": 1})
    client = make_client(server.url, retries=3)
    await client.create_waybill(WaybillRequest(address=address(), contents="证件"), idempotency_key=keys("waybill"))
    check = RealNameCheck(method="face", passed=True, reference="face-check-000009")
    invoice = InvoiceRequest(buyer_name=CITIZEN_NAME, buyer_id_number=CITIZEN_ID, amount_fen=500, item="咨询", real_name_check=check)
    await client.issue_invoice(invoice, idempotency_key=keys("invoice"))
    with pytest.raises(ServiceRejected) as info:
        await client.issue_invoice(invoice.model_copy(update={"real_name_check": check.model_copy(update={"passed": False})}),
                                   idempotency_key=keys("invoice-2"))
    logging.getLogger("test").info("rejected: %s", info.value)
    assert "attempt" in caplog.text  # the failures were logged ...
    for secret in (CITIZEN_ID, CITIZEN_NAME, CITIZEN_PHONE, CITIZEN_STREET, "民族路"):
        assert secret not in caplog.text  # ... without the personal data


async def test_database_holds_no_personal_data(server, make_client, keys):
    client = make_client(server.url)
    await client.create_waybill(WaybillRequest(address=address(), contents="证件"), idempotency_key=keys("waybill"))
    check = RealNameCheck(method="staff", passed=True, reference="staff-check-000010")
    await client.issue_invoice(
        InvoiceRequest(buyer_name=CITIZEN_NAME, buyer_id_number=CITIZEN_ID, amount_fen=500, item="咨询", real_name_check=check),
        idempotency_key=keys("invoice"),
    )
    await client.list_fines(FineQuery(id_number=CITIZEN_ID))
    stored = b"".join(p.read_bytes() for p in Path(server.app.settings.db_path).parent.glob("*.sqlite*"))
    for secret in (CITIZEN_ID, CITIZEN_NAME, CITIZEN_PHONE, CITIZEN_STREET):
        assert secret.encode() not in stored


def test_backoff_grows_with_jitter_and_is_capped():
    client = HttpBackOffice("http://127.0.0.1:9", backoff_initial=0.1, backoff_max=0.5)
    delays = [[client._backoff(attempt) for _ in range(50)] for attempt in (1, 2, 3, 4, 5)]
    for attempt, values in enumerate(delays, start=1):
        cap = min(0.5, 0.1 * 2 ** (attempt - 1))
        assert all(cap / 2 <= d <= cap for d in values) and len(set(values)) > 1


async def test_cli_serves_and_starts_with_faults(tmp_path, make_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "backoffice.cli", "--port", str(port), "--db", str(tmp_path / "cli.sqlite"),
         "--fail-next", "1", "--fault-prefix", "/v1/payments", "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "server did not start"
            await asyncio.sleep(0.05)
        client = make_client(url, retries=2)
        order = await client.create_order(_order(), idempotency_key="cli-session:order")
        assert [s["id"] for s in submissions(url)] == [order.order_id]
    finally:
        process.terminate()
        process.wait(timeout=5)
