"""The outbox reaches the fleet: queue depth, oldest age and parked count in the kiosk's health,
and the server's alerts past the configured age (docs/offline.md). Counts only, no bodies."""

from __future__ import annotations

import asyncio

from backoffice.testing import address
from fleet.protocol import Health
from fleet.server.alerts import health_conditions
from flows.outbox import OutboxStore
from flows.services.models import WaybillRequest
from kiosk.control import BasicControlHandler


def test_outbox_stats_reach_the_health_and_raise_the_alerts(tmp_path):
    now = [1_000_000.0]
    with OutboxStore(tmp_path / "state", kiosk_id="cq-1", wall=lambda: now[0]) as store:
        request = WaybillRequest(address=address(), contents="机动车驾驶证")
        store.enqueue("create_waybill", request, "key-00000001", lane="s1")
        parked = store.enqueue("create_waybill", request, "key-00000002", lane="s2")
        store.park(parked.seq, "invalid_field")
        now[0] += 2 * 3600
        handler = BasicControlHandler()
        handler.outbox_stats = store.stats
        status = asyncio.run(handler.status())
    assert (status.submission_queue_depth, status.submission_queue_oldest_s, status.submission_parked) == (1, 7200, 1)
    assert address().street not in status.model_dump_json()

    health = Health(kiosk_id="cq-1", submission_queue_depth=status.submission_queue_depth,
                    submission_queue_oldest_s=status.submission_queue_oldest_s,
                    submission_parked=status.submission_parked)
    kinds = {c.kind for c in health_conditions(health, queue_age_alert_s=3600)}
    assert kinds == {"submission_queue_age", "submission_parked"}
    assert {c.kind for c in health_conditions(health, queue_age_alert_s=3 * 3600)} == {"submission_parked"}


def test_a_closed_outbox_costs_the_health_nothing():
    handler = BasicControlHandler()

    def broken():
        raise RuntimeError("closed")

    handler.outbox_stats = broken
    status = asyncio.run(handler.status())
    assert status.submission_queue_depth == 0
