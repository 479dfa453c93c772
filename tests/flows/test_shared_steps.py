"""The shared step classes refuse a flow that lacks the steps they provide or lead to."""

from __future__ import annotations

from enum import StrEnum

import pytest
from pydantic import BaseModel

from flows.errors import FlowDefinitionError
from flows.licence_errand import LicenceErrand
from flows.mailing import MailingSteps
from flows.renewal import LicenceRenewal
from flows.tax_invoice import TaxInvoice


class _State(BaseModel):
    pass


def test_a_mailing_flow_without_the_mail_step_is_refused():
    with pytest.raises(FlowDefinitionError, match="mail"):
        class NoMail(MailingSteps[_State]):
            name = "no-mail"
            State = _State
            mail_contents, payment_description = "x", "y"

            class Step(StrEnum):
                ADDRESS = "address"
                PAY = "pay"
                PRINT = "print"

            async def step_print(self, ctx):
                return None


def test_a_mailing_flow_must_say_what_is_mailed_and_paid_for():
    with pytest.raises(FlowDefinitionError, match="payment_description"):
        class Unnamed(MailingSteps[_State]):
            name = "unnamed"
            State = _State
            mail_contents = "x"

            class Step(StrEnum):
                ADDRESS = "address"
                MAIL = "mail"
                PAY = "pay"
                PRINT = "print"

            async def step_print(self, ctx):
                return None


def test_a_licence_errand_without_a_review_step_is_refused():
    with pytest.raises(FlowDefinitionError, match="review"):
        class NoReview(LicenceErrand[_State]):
            name = "no-review"
            State = _State
            payment_description = "y"

            class Step(StrEnum):
                PHOTO = "photo"
                ADDRESS = "address"
                MAIL = "mail"
                PAY = "pay"
                PRINT = "print"

            async def step_print(self, ctx):
                return None


def test_inherited_steps_are_wrapped_like_the_flows_own():
    """The error mapping and the resume identity check (CitizenFlow's wrapper) cover shared steps too."""
    for fn in (LicenceRenewal.step_address, LicenceRenewal.step_mail, LicenceRenewal.step_pay,
               LicenceRenewal.step_photo, TaxInvoice.step_pay, LicenceRenewal.step_print):
        assert getattr(fn, "_guarded", False), fn.__qualname__
