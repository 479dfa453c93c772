"""Idempotency-Key semantics: one submission per key, the same answer for every repeat."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from backoffice.testing import CITIZEN_ID, address, medical, submissions
from flows.services import ServiceRejected
from flows.services.models import LicenceQuery, LicenceRenewalRequest, PaymentOrderRequest, WaybillRequest


async def _renewal(client, **medical_changes) -> LicenceRenewalRequest:
    record = await client.lookup_licence(LicenceQuery(id_number=CITIZEN_ID))
    return LicenceRenewalRequest(id_number=CITIZEN_ID, licence_class=record.licence_class, medical=medical(**medical_changes))


async def test_same_key_twice_gives_one_submission_and_the_same_answer(client, server, keys):
    request = await _renewal(client)
    first = await client.renew_licence(request, idempotency_key=keys("renewal"))
    second = await client.renew_licence(request, idempotency_key=keys("renewal"))
    assert first == second
    assert [s["id"] for s in keys.submissions(server.url)] == [first.application_id]


async def test_replayed_answer_is_byte_identical_and_marked(server, keys):
    body = {"amount_fen": 1_000, "description": "驾驶证工本费"}
    headers = {"Idempotency-Key": keys("order")}
    async with httpx.AsyncClient(base_url=server.url) as raw:
        first = await raw.post("/v1/payments/orders", json=body, headers=headers)
        second = await raw.post("/v1/payments/orders", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.content == second.content
    assert (first.headers["Idempotent-Replayed"], second.headers["Idempotent-Replayed"]) == ("false", "true")


async def test_same_key_with_a_different_body_is_refused(client, server, keys):
    await client.create_order(PaymentOrderRequest(amount_fen=1_000, description="工本费"), idempotency_key=keys("order"))
    with pytest.raises(ServiceRejected) as info:
        await client.create_order(PaymentOrderRequest(amount_fen=2_000, description="工本费"), idempotency_key=keys("order"))
    assert (info.value.code, info.value.status_code) == ("idempotency_key_mismatch", 422)
    with pytest.raises(ServiceRejected) as info:  # same key on another endpoint is another request too
        await client.create_waybill(WaybillRequest(address=address(), contents="证件"), idempotency_key=keys("order"))
    assert info.value.code == "idempotency_key_mismatch"
    assert len(keys.submissions(server.url)) == 1


async def test_refused_request_leaves_the_key_free(client, server, keys):
    with pytest.raises(ServiceRejected, match="vision"):
        await client.renew_licence(await _renewal(client, vision_left=4.6), idempotency_key=keys("renewal"))
    accepted = await client.renew_licence(await _renewal(client), idempotency_key=keys("renewal"))
    assert [s["id"] for s in keys.submissions(server.url)] == [accepted.application_id]


@pytest.mark.parametrize("key, code", [(None, "missing_idempotency_key"), ("short", "invalid_idempotency_key"), ("has space in it", "invalid_idempotency_key")])
async def test_submissions_need_a_well_formed_key(server, key, code):
    headers = {"Idempotency-Key": key} if key else {}
    async with httpx.AsyncClient(base_url=server.url) as raw:
        response = await raw.post("/v1/payments/orders", json={"amount_fen": 100, "description": "x"}, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)


async def test_concurrent_repeats_submit_once(client, server, keys):
    request = WaybillRequest(address=address(), contents="机动车驾驶证")
    answers = await asyncio.gather(*(client.create_waybill(request, idempotency_key=keys("waybill")) for _ in range(8)))
    assert len({a.tracking_number for a in answers}) == 1
    assert len(keys.submissions(server.url)) == 1


async def test_replay_survives_a_server_restart(start_backoffice, make_client, tmp_path, keys):
    db = tmp_path / "restart.sqlite"
    server = start_backoffice(db=db)
    request = PaymentOrderRequest(amount_fen=1_500, description="邮费")
    before = await make_client(server.url).create_order(request, idempotency_key=keys("order"))
    server.stop()
    again = start_backoffice(db=db)
    after = await make_client(again.url).create_order(request, idempotency_key=keys("order"))
    assert before == after and len(submissions(again.url)) == 1
