"""Demo-flow services for UI tests that need no simulators (the engine's reference flow)."""

from __future__ import annotations

import asyncio

from flows.demo import DemoDeps, DemoFlow

ID_NUMBER = "11010519491231002X"
NAME = "王秀英"
PHONE = "13800138000"


class FakeReader:
    async def read(self):
        await asyncio.sleep(0.05)
        return ID_NUMBER, NAME


class FakeBackoffice:
    def __init__(self):
        self.keys: list[str] = []

    async def submit(self, *, id_number, phone, idempotency_key):
        await asyncio.sleep(0.05)
        self.keys.append(idempotency_key)
        return "DEMO-0001"


def demo_service(backoffice: FakeBackoffice | None = None):
    from kiosk.app import ServiceEntry

    bo = backoffice or FakeBackoffice()
    return ServiceEntry(name="demo", make_flow=DemoFlow, deps_factory=lambda: DemoDeps(FakeReader(), bo), icon="idcard")


def demo_answers(view):
    """What a citizen answers in the demo flow (by step)."""
    return {"consent": {"identity": True, "contact": True}, "contact": {"phone": PHONE},
            "confirm": "submit"}.get(view.step)
