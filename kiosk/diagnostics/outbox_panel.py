"""The outbox on the diagnostics screen (network tab): what waits for the back office, and
what it refused for good (parked), so staff see it and can clear it once handled.

Only counts, kinds, provisional references, reason codes and ages: the bodies stay
encrypted in the journal and are never shown (a parked row has none left anyway).
"""

from __future__ import annotations

import time

from kiosk import theme
from kiosk.diagnostics.widgets import Card, button, line


class OutboxPanel:
    """Part of a tab of `DiagnosticsScreen` (a mixin: it uses the screen's app, diag, tr, s and refresh)."""

    def _build_outbox(self, column) -> None:
        tr, s = self.tr, self.s
        outbox = getattr(self.app, "outbox", None)
        column.add_widget(self.heading_line(tr("diag.outbox.heading")))
        card = Card(padding=s.px(28), spacing=s.px(10))
        stats = outbox.stats() if outbox is not None else None
        if stats is None:
            card.add_widget(line(tr("diag.outbox.off"), s.body, kid="diag.outbox.summary"))
            column.add_widget(card)
            return
        card.add_widget(line(tr("diag.outbox.link", state=tr(f"diag.outbox.link.{outbox.link().value}")), s.body,
                             kid="diag.outbox.link"))
        card.add_widget(line(tr("diag.outbox.summary", depth=stats.depth, age=f"{stats.oldest_age_s / 60:.0f}",
                                parked=stats.parked), s.body, bold=bool(stats.parked),
                             colour=theme.DANGER if stats.parked else None, kid="diag.outbox.summary"))
        column.add_widget(card)
        parked = [i for i in outbox.outbox.store.items() if i.status == "parked"]
        if not parked:
            return
        column.add_widget(line(tr("diag.outbox.parked_note"), s.small, muted=True))
        now = time.time()
        for item in parked:
            row = Card(padding=s.px(20), spacing=s.px(8), border=list(theme.DANGER))
            row.add_widget(line(tr("diag.outbox.parked_item", kind=tr(f"diag.outbox.kind.{item.kind}"),
                                   reference=item.reference or "-", code=item.last_error,
                                   age=f"{(now - item.updated_at) / 60:.0f}"), s.small, kid=f"diag.outbox.parked.{item.seq}"))
            row.add_widget(button(f"diag.outbox.discard.{item.seq}", tr("diag.outbox.discard"),
                                  lambda seq=item.seq: self._discard_parked(seq), size=s.px(36), height=s.target))
            column.add_widget(row)

    def _discard_parked(self, seq: int) -> None:
        store = self.app.outbox.outbox.store
        self.diag.run(lambda: store.discard(seq), lambda _r, _e: self.refresh())
