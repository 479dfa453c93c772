"""A question with a few answers: one big full-width button per option."""

from __future__ import annotations

from flows.views import Choice, ViewKind
from kiosk import theme
from kiosk.screens.base import FlowScreen
from kiosk.screens.simple import picture
from kiosk.widgets.base import Column
from kiosk.widgets.buttons import BigButton


class ChoiceScreen(FlowScreen):
    kind = ViewKind.CHOICE.value

    def build_body(self, column: Column) -> None:
        view: Choice = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        if view.image:
            column.add_widget(self.app.images.widget(view.image, s.px(520)) or picture(view.image, s.px(360)))
        for w in self.message_block(tr.msg(view.message)):
            column.add_widget(w)
        for field, key in view.errors.items():
            t = self.body_text(tr(key))
            t.color = theme.DANGER
            column.add_widget(t)
        many = len(view.options) > 6
        for o in view.options:
            b = BigButton(text=tr.msg(o.label), kiosk_id=f"option.{o.key}", style="secondary",
                          font_size=s.button_text, size_hint_y=None,
                          height=s.target if many else s.primary_target, primary=True)
            b.bind(on_release=lambda _b, k=o.key: self.answer(k))
            column.add_widget(b)

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]
