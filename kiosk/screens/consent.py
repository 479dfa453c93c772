"""Separate consents (PIPL Art. 29): each item answered on its own, nothing pre-selected.

Each item is a card with its text and two buttons, "agree" and "do not agree"; the
chosen one is shown with a tick and a filled background (not colour alone). "Confirm"
is offered only when every item has an answer.
"""

from __future__ import annotations

from flows.views import Consent, ViewKind
from kiosk import theme
from kiosk.screens.base import FlowScreen
from kiosk.widgets.base import Column, Panel
from kiosk.widgets.buttons import BigButton

from kivy.uix.boxlayout import BoxLayout


class ConsentScreen(FlowScreen):
    kind = ViewKind.CONSENT.value

    def render(self, view) -> None:
        if self.view is None or self.view.step != view.step or self.view.flow != view.flow:
            self.answers: dict[str, bool] = {}
        super().render(view)

    def build_body(self, column: Column) -> None:
        view: Consent = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        column.add_widget(self.heading(tr.msg(view.message)))
        column.add_widget(self.body_text(tr("ui.consent.separately"), muted=True))
        self.buttons: dict[tuple[str, bool], BigButton] = {}
        for item in view.items:
            card = Panel(orientation="vertical", bg=list(theme.SURFACE), border=list(theme.DIVIDER),
                         size_hint_y=None, padding=s.px(28), spacing=s.px(20))
            text = self.body_text(tr.msg(item.text))
            card.add_widget(text)
            err = view.errors.get(item.key)
            if err:
                e = self.body_text(tr(err))
                e.color = theme.DANGER
                card.add_widget(e)
            row = BoxLayout(size_hint_y=None, height=s.target, spacing=s.px(20))
            for value, label in ((True, tr("ui.consent.agree")), (False, tr("ui.consent.decline"))):
                b = BigButton(text=label, kiosk_id=f"consent.{item.key}.{'yes' if value else 'no'}",
                              font_size=s.button_text)
                b.bind(on_release=lambda _b, k=item.key, v=value: self.pick(k, v))
                self.buttons[(item.key, value)] = b
                row.add_widget(b)
            card.add_widget(row)

            def fit(*_a, c=card):
                c.height = sum(ch.height for ch in c.children) + s.px(20) * (len(c.children) - 1) + 2 * s.px(28)

            for ch in card.children:
                ch.bind(height=fit)
            fit()
            column.add_widget(card)
        self._restyle()

    def pick(self, key: str, value: bool) -> None:
        self.answers[key] = value
        self._restyle()
        self._refresh_actions()

    def _restyle(self) -> None:
        tr = self.tr
        for (key, value), b in self.buttons.items():
            chosen = self.answers.get(key)
            label = tr("ui.consent.agree") if value else tr("ui.consent.decline")
            if chosen is value:
                b.style = "primary" if value else "danger"
                b.text = "✓ " + label
            else:
                b.style = "secondary"
                b.text = label

    def complete(self) -> bool:
        return all(i.key in self.answers for i in self.view.items)  # type: ignore[union-attr]

    def actions(self):
        self.confirm = self.primary_button("consent.confirm", self.tr("ui.confirm"), self._confirm)
        self.confirm.disabled = not self.complete()
        return [self.confirm]

    def _refresh_actions(self) -> None:
        self.confirm.disabled = not self.complete()

    def _confirm(self) -> None:
        if self.complete():
            self.answer({k: v for k, v in self.answers.items()})

    def wipe(self) -> None:
        self.answers = {}
        super().wipe()

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]
