"""Step helpers for working with the back office down: queue, provisional reference, pay later.

`submit_or_queue` puts a write in the outbox (durable, with the step's idempotency key),
waits a little for the forwarder to deliver it and returns `Delivered(answer)` or
`Queued`. A flow whose `offline_policy` accepts offline work carries on with its
provisional reference; any other flow ends with the policy's plain reason. Without an
outbox (`deps.outbox is None`) the write goes straight to the back office as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from flows.availability import offline_abort_message, policy_of
from flows.common_steps import Ctx, abort_with
from flows.engine import AbortReason
from flows.outbox import Delivered, Queued
from flows.outbox.writes import spec_for
from flows.views import ViewBase


class PayLater(BaseModel):
    """A payment the citizen makes after leaving: scan the printed QR before `pay_by`."""

    amount_fen: int
    pay_by: dt.date
    qr: str


def is_offline(ctx: Ctx) -> bool:
    """The forwarder knows the back office is unreachable right now (its breaker is open)."""
    outbox = ctx.deps.outbox
    return outbox is not None and outbox.online is False


def accepts_offline(flow: Any) -> bool:
    return policy_of(type(flow)).accepts_offline


def provisional_reference(ctx: Ctx, purpose: str = "reference") -> str | None:
    """This session's provisional reference (the same one on every re-run of the step)."""
    outbox = ctx.deps.outbox
    return outbox.store.issue_reference(ctx.idempotency_key(purpose)) if outbox is not None else None


async def submit_or_queue(
    ctx: Ctx, kind: str, request: BaseModel, *, purpose: str, reference: str | None, view: ViewBase | None = None,
) -> Delivered | Queued:
    """Queue the write and wait up to `submit_wait_s` for its answer; ServiceRejected if refused."""
    spec = spec_for(kind)
    outbox = ctx.deps.outbox
    if outbox is None:
        op = getattr(getattr(ctx.deps, spec.service), kind)
        return Delivered(await ctx.submit(op, request, purpose=purpose, view=view))
    item = outbox.store.enqueue(kind, request, ctx.idempotency_key(purpose), lane=ctx.session_id, reference=reference)
    wait = ctx.deps.settings.submit_wait_s
    return await ctx.call(lambda: outbox.forwarder.await_item(item, wait), view=view, timeout=wait + 5)


def require_offline_ok(ctx: Ctx, flow: Any) -> None:
    """End a flow that cannot run offline with its policy's reason (the write, if any, stays queued)."""
    if not accepts_offline(flow):
        what, nxt = offline_abort_message(policy_of(type(flow)))
        raise abort_with(AbortReason.SERVICE_FAILED, "offline_not_available", what, nxt)


def pay_later(ctx: Ctx, amount_fen: int, reference: str, days: int) -> PayLater:
    s = ctx.deps.settings
    return PayLater(amount_fen=amount_fen, pay_by=s.current_date() + dt.timedelta(days=days),
                    qr=s.pay_later_url + reference)


def offline_postage(ctx: Ctx, province: str) -> int:
    """The published postage for this destination (the back office confirms it with the waybill)."""
    s = ctx.deps.settings
    return s.postage_home_fen if province == s.home_province else s.postage_other_fen
