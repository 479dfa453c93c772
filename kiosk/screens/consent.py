"""Separate consents (PIPL Art. 29): each item answered on its own, nothing pre-selected.

Each item is a card with its text and two buttons, "agree" and "do not agree"; the
chosen one is shown with a tick and a filled background (not colour alone). "Confirm"
is offered only when every item has an answer.

Where the cards do not all fit — elderly mode, the larger text step, a landscape
screen — the items come one per page ("第 1 项 / 共 2 项", Next, Back), so nothing
has to be scrolled to be answered.
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

    page = 0
    single = False  # one item per page because all of them did not fit

    def render(self, view) -> None:
        if self.view is None or self.view.step != view.step or self.view.flow != view.flow:
            self.answers: dict[str, bool] = {}
            self.page = 0
            self.single = False
        if view.errors:  # open the first page with a refused item
            keys = [i.key for i in view.items]
            first = next((keys.index(k) for k in keys if k in view.errors), None)
            if first is not None:
                self.page = first // self.per_page(view)
        super().render(view)

    def per_page(self, view: Consent | None = None) -> int:
        view = view or self.view  # type: ignore[assignment]
        n = len(view.items)  # type: ignore[union-attr]
        s = self.s
        one = self.single or s.elderly or s.landscape or s.scale > self.app.base_sizes.scale
        return 1 if one else max(1, n)

    def _did_not_fit(self) -> None:
        """The cards are taller than the page (a long text, a long language): one per page."""
        if not self.single and self.per_page() > 1 and self.view is not None:
            self.single = True
            self.page = 0
            self._turn(0, speak=False)

    def pages(self) -> int:
        return -(-len(self.view.items) // self.per_page())  # type: ignore[union-attr]

    def page_items(self):
        n = self.per_page()
        return self.view.items[self.page * n:(self.page + 1) * n]  # type: ignore[union-attr]

    def build_body(self, column: Column) -> None:
        view: Consent = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        self.page = min(self.page, self.pages() - 1)
        column.add_widget(self.heading(tr.msg(view.message)))
        column.add_widget(self.body_text(tr("ui.consent.separately"), muted=True))
        if self.pages() > 1:
            column.add_widget(self.body_text(tr("ui.form.question", index=self.page + 1, total=self.pages()),
                                             muted=True))
        self.buttons: dict[tuple[str, bool], BigButton] = {}
        column.on_overflow = self._did_not_fit
        for item in self.page_items():
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
            self.add_control(card)
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

    def page_complete(self) -> bool:
        return all(i.key in self.answers for i in self.page_items())

    def last_page(self) -> bool:
        return self.page >= self.pages() - 1

    def actions(self):
        if self.last_page():
            self.confirm = self.primary_button("consent.confirm", self.tr("ui.confirm"), self._confirm)
            self.confirm.disabled = not self.complete()
        else:
            self.confirm = self.primary_button("consent.next", self.tr("ui.next"), self._next)
            self.confirm.disabled = not self.page_complete()
        return [self.confirm]

    def _refresh_actions(self) -> None:
        self.confirm.disabled = not (self.complete() if self.last_page() else self.page_complete())

    def _next(self) -> None:
        if self.page_complete() and not self.last_page():
            self._turn(1)

    def _turn(self, delta: int, speak: bool = True) -> None:
        self.page += delta
        self.close_overlay()
        self.root_box.clear_widgets()
        self.build()
        if speak:
            self.app.speak_key(self.page_items()[0].text.key)

    def go_back(self) -> None:
        if self.page > 0:
            self._turn(-1)
        else:
            super().go_back()

    def footer_buttons(self):
        buttons = super().footer_buttons()
        if self.page > 0 and not any(b[0] == "nav.back" for b in buttons):
            buttons.insert(1, ("nav.back", self.tr("ui.back"), "secondary", self.go_back))
        return buttons

    def _confirm(self) -> None:
        if self.complete():
            self.answer({k: v for k, v in self.answers.items()})

    def wipe(self) -> None:
        self.answers = {}
        self.page = 0
        self.single = False
        super().wipe()

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]
