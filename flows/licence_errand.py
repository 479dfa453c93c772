"""What licence renewal and licence reissue share: a new licence card, mailed home.

Built on `flows.mailing.FeeErrand` (an application with a fee, mailed home), which the
vehicle licence shares too. Both look up the card holder's licence (a revoked one ends the errand at once), take the
licence photo, submit an application the traffic service accepts with a fee, mail the
card (`MailingSteps`: the waybill and the payment carry the application id, the payment
is fee + postage) and print the same receipt lines under their own title and footer.
"""

from __future__ import annotations

from typing import Any

from flows.common_steps import (
    Ctx,
    S,
    StepResult,
    abort_with,
    take_licence_photo,
)
from flows.engine import AbortReason, Next
from flows.mailing import FeeErrand, require_steps
from flows.services.models import LicenceQuery, LicenceRecord
from flows.views import Msg, Prompt, msg


class LicenceErrand(FeeErrand[S]):
    """`step_photo` (→ review) and the mailing steps of a fee errand; the State has `holder`,
    `licence`, `photo`, `photo_ref`, `application`, the mailing fields and `paid_fen`."""

    mail_contents = "机动车驾驶证"

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if hasattr(cls, "Step") and hasattr(cls, "State"):
            require_steps(cls, ("photo", "review"), "LicenceErrand")

    async def step_photo(self, ctx: Ctx) -> StepResult:
        ctx.state.photo = await take_licence_photo(ctx)
        ctx.state.photo_ref = "photo-" + ctx.idempotency_key("photo")[:20]
        return Next(step=self.Step("review"))

    def licence_receipt(self, ctx: Ctx, *, title: str, footer: str) -> Any:
        """The receipt once the application is paid and mailed (no ID number on it)."""
        from peripherals.printer.models import Receipt

        st = ctx.state
        return Receipt(title=title, lines=self.fee_receipt_lines(ctx, between=(f"准驾车型：{st.licence.licence_class}",)),
                       qr=st.waybill.tracking_number, footer=footer)


async def licence_on_file(ctx: Ctx, *, looking_up: Msg, revoked: Msg) -> LicenceRecord:
    """The card holder's licence from the traffic service; a revoked licence ends the errand here."""
    holder = ctx.state.holder
    assert holder is not None
    record = await ctx.call(lambda: ctx.deps.traffic.lookup_licence(LicenceQuery(id_number=holder.id_number)),
                            view=Prompt(message=looking_up))
    if record.status == "revoked":
        raise abort_with(AbortReason.NOT_ELIGIBLE, "licence_revoked", revoked, msg("error.next.counter"))
    return record

