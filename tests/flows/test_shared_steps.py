"""The shared step classes refuse a flow that lacks the steps they provide or lead to."""

from __future__ import annotations

import types
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel

from flows.errors import FlowDefinitionError
from flows.licence_errand import LicenceErrand
from flows.mailing import MailingSteps
from flows.renewal import LicenceRenewal
from flows.tax_invoice import TaxInvoice


class _State(BaseModel):
    pass


async def _no_op(self, ctx) -> None:
    return None


def define(base: type, steps: tuple[str, ...], **attrs: Any) -> type:
    """A flow class on `base[_State]` with these steps; the ones `base` does not provide do nothing."""
    namespace = {"name": "test-flow", "State": _State, "Step": StrEnum("Step", {s.upper(): s for s in steps}), **attrs}
    namespace |= {f"step_{s}": _no_op for s in steps if not hasattr(base, f"step_{s}")}
    return types.new_class("TestFlow", (base[_State],), {}, lambda ns: ns.update(namespace))


MAILED = {"mail_contents": "x", "payment_description": "y"}


def test_a_complete_definition_is_accepted():
    """So the refusals below are for what each one leaves out."""
    assert define(MailingSteps, ("address", "mail", "pay", "print"), **MAILED).first == "address"
    assert define(LicenceErrand, ("photo", "review", "address", "mail", "pay", "print"), payment_description="y")


def test_a_mailing_flow_without_the_mail_step_is_refused():
    with pytest.raises(FlowDefinitionError, match="mail"):
        define(MailingSteps, ("address", "pay", "print"), **MAILED)


def test_a_mailing_flow_must_say_what_is_paid_for():
    with pytest.raises(FlowDefinitionError, match="payment_description"):
        define(MailingSteps, ("address", "mail", "pay", "print"), mail_contents="x")


def test_a_licence_errand_without_a_review_step_is_refused():
    with pytest.raises(FlowDefinitionError, match="review"):
        define(LicenceErrand, ("photo", "address", "mail", "pay", "print"), payment_description="y")


def test_inherited_steps_are_wrapped_like_the_flows_own():
    """The error mapping and the resume identity check (CitizenFlow's wrapper) cover shared steps too."""
    for fn in (LicenceRenewal.step_address, LicenceRenewal.step_mail, LicenceRenewal.step_pay,
               LicenceRenewal.step_photo, TaxInvoice.step_pay, LicenceRenewal.step_print):
        assert getattr(fn, "_guarded", False), fn.__qualname__
