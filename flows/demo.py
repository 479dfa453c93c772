"""A small reference flow: read the ID card, consent, phone number, confirm, submit.

It exists to show how a flow is written (docs/flows.md walks through it) and to exercise
the engine and the journal in tests, including the crash tests that SIGKILL a runner.
It touches no real device: `DemoDeps` are interfaces the caller injects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Awaitable, Protocol

from pydantic import BaseModel

from flows.engine import Abort, AbortReason, Done, Flow, FlowContext, Next
from flows.journal import Personal
from flows.views import Busy, Choice, ChoiceOption, Consent, ConsentItem, Form, FormField, FieldKind, Prompt, msg


class CardReader(Protocol):
    def read(self) -> Awaitable[tuple[str, str]]:
        """(id_number, name) of the card on the reader."""
        ...


class Submitter(Protocol):
    def submit(self, *, id_number: str, phone: str, idempotency_key: str) -> Awaitable[str]:
        """Send the application; returns its submission id. The same key returns the same id."""
        ...


@dataclass
class DemoDeps:
    reader: CardReader
    backoffice: Submitter


class DemoState(BaseModel):
    id_number: Personal[str | None] = None
    name: Personal[str | None] = None
    phone: Personal[str | None] = None
    consented: bool = False
    submission_id: str | None = None


class DemoOutcome(BaseModel):
    submission_id: str


class DemoFlow(Flow[DemoState, DemoDeps]):
    name = "demo"
    version = 1
    State = DemoState

    class Step(StrEnum):
        READ_ID = "read_id"
        CONSENT = "consent"
        CONTACT = "contact"
        CONFIRM = "confirm"
        SUBMIT = "submit"

    async def step_read_id(self, ctx: FlowContext[DemoState, DemoDeps]) -> Next | Done | Abort:
        ctx.state.id_number, ctx.state.name = await ctx.call(
            ctx.deps.reader.read, view=Prompt(message=msg("demo.place_id_card"), illustration="idcard"), timeout=60
        )
        return Next(step=self.Step.CONSENT)

    async def step_consent(self, ctx: FlowContext[DemoState, DemoDeps]) -> Next | Done | Abort:
        view = Consent(
            message=msg("demo.consent"),
            items=(ConsentItem(key="identity", text=msg("consent.identity")),
                   ConsentItem(key="contact", text=msg("consent.contact"))),
        )
        answer = await ctx.ask(view)
        if not view.required_accepted(answer):
            return Abort(reason=AbortReason.CONSENT_DECLINED)
        ctx.state.consented = True
        return Next(step=self.Step.CONTACT)

    async def step_contact(self, ctx: FlowContext[DemoState, DemoDeps]) -> Next | Done | Abort:
        values = await ctx.ask(Form(
            message=msg("demo.contact"),
            fields=(FormField(name="phone", label=msg("field.phone"), kind=FieldKind.PHONE, personal=True),),
        ))
        ctx.state.phone = values["phone"]
        return Next(step=self.Step.CONFIRM)

    async def step_confirm(self, ctx: FlowContext[DemoState, DemoDeps]) -> Next | Done | Abort:
        answer = await ctx.ask(Choice(
            message=msg("demo.confirm"),
            options=(ChoiceOption(key="submit", label=msg("button.submit")),
                     ChoiceOption(key="edit", label=msg("button.edit"))),
        ))
        if answer == "edit":
            return Next(step=self.Step.CONTACT)
        return Next(step=self.Step.SUBMIT, allow_back=False)

    async def step_submit(self, ctx: FlowContext[DemoState, DemoDeps]) -> Next | Done | Abort:
        assert ctx.state.id_number is not None and ctx.state.phone is not None
        ctx.state.submission_id = await ctx.submit(
            ctx.deps.backoffice.submit, id_number=ctx.state.id_number, phone=ctx.state.phone,
            view=Busy(message=msg("demo.submitting")),
        )
        return Done(outcome=DemoOutcome(submission_id=ctx.state.submission_id), message=msg("demo.done"))
