"""A back-office error a step lets escape ends the flow as `service_failed` with its code."""

from __future__ import annotations

from flows.demo import DemoDeps, DemoFlow
from flows.driver import drive
from flows.engine import AbortReason
from flows.services.errors import ServiceRejected, ServiceTimeout
from flows.views import Action

ID_NUMBER = "11010519491231002X"


class Reader:
    async def read(self) -> tuple[str, str]:
        return ID_NUMBER, "测试"


class FailingBackOffice:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def submit(self, *, id_number: str, phone: str, idempotency_key: str) -> str:
        raise self.error


def run_until_submit(error: Exception):
    script = [Action.answer({"identity": True, "contact": True}), Action.answer({"phone": "13812345678"}), Action.answer("submit")]
    return drive(DemoFlow(), script, deps=DemoDeps(reader=Reader(), backoffice=FailingBackOffice(error)))


def test_unreachable_back_office_is_a_service_failure():
    outcome = run_until_submit(ServiceTimeout()).outcome
    assert outcome.status == "aborted"
    assert outcome.reason == AbortReason.SERVICE_FAILED and outcome.code == "service_timeout"


def test_refusal_keeps_the_back_office_reason_code():
    outcome = run_until_submit(ServiceRejected(code="invalid_phone")).outcome
    assert outcome.reason == AbortReason.SERVICE_FAILED and outcome.code == "invalid_phone"
