"""A question with a few answers: one big full-width button per option."""

from __future__ import annotations

from flows.views import Choice, ViewKind
from kiosk import theme
from kiosk.screens.base import FlowScreen
from kiosk.widgets.base import Column
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.fit import flex
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout


class ChoiceScreen(FlowScreen):
    kind = ViewKind.CHOICE.value

    def build_body(self, column: Column) -> None:
        view: Choice = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        if view.image:
            plate = self.app.images.widget(view.image, s.px(520))
            if plate is None:
                column.add_widget(self.picture(view.image, s.px(360)))
            else:  # a colour plate: as big as the page allows, never pushing the answers off it
                plate.is_picture = True
                column.add_widget(flex(plate, s.px(240), s.px(720)))
        for w in self.message_block(tr.msg(view.message)):  # a summary card goes with the answers (landscape)
            (column if getattr(w, "kiosk_role", "") == "heading" else self.controls).add_widget(w)
        for field, key in view.errors.items():
            t = self.body_text(tr(key))
            t.color = theme.DANGER
            column.add_widget(t)
        many = len(view.options) > 6
        lo = s.target if many else s.primary_target
        buttons = []
        for o in view.options:
            b = BigButton(text=tr.msg(o.label), kiosk_id=f"option.{o.key}", style="secondary",
                          font_size=s.button_text, size_hint_y=None, height=lo, primary=True)
            b.bind(on_release=lambda _b, k=o.key: self.answer(k))
            buttons.append(b)
        if len(buttons) > 4 and (s.landscape or s.elderly):  # two answers per row, so all of them fit
            rows = -(-len(buttons) // 2)
            grid = GridLayout(cols=2, spacing=s.gap, size_hint_y=None)
            for b in buttons:
                b.size_hint_y = 1
                grid.add_widget(b)
            self.add_control(flex(grid, rows * lo + (rows - 1) * s.gap, rows * lo * 1.4 + (rows - 1) * s.gap))
        elif len(buttons) == 2 and s.landscape:  # yes / no side by side
            row = BoxLayout(spacing=s.gap, size_hint_y=None)
            for b in buttons:
                b.size_hint_y = 1
                row.add_widget(b)
            self.add_control(flex(row, lo, lo * 1.4))
        else:
            for b in buttons:
                self.add_control(flex(b, lo, lo * 1.4))  # spare height makes the answers bigger

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]
