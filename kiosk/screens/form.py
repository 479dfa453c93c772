"""Typed input, one question per page: keypad for numbers, region picker, pinyin keyboard.

A `Form` view may hold several fields; the screen shows them one page at a time (a
province/city/district trio is one page, picked with `RegionPicker`), checks each page
with the field's own rule (`FormField.check`) before moving on, and sends all values
with the last page. Errors the engine sends back open the first page that has one.
Values live only in this screen and are wiped at the end of the session.
"""

from __future__ import annotations

from flows.views import FieldKind, Form, FormField, ViewKind
from kivy.uix.boxlayout import BoxLayout

from kiosk import theme
from kiosk.screens.base import FlowScreen
from kiosk.widgets.base import Column, Text
from kiosk.widgets.keypad import EntryBox, NumericKeypad, format_date, format_phone
from kiosk.widgets.pinyin_keyboard import PinyinKeyboard
from kiosk.widgets.plate_keyboard import PlateKeyboard
from kiosk.widgets.region_picker import LEVELS, RegionPicker

REGION_FIELDS = set(LEVELS)


def pages_for(fields: tuple[FormField, ...]) -> list[list[FormField]]:
    """Group the fields into pages: the region trio together, every other field alone."""
    pages: list[list[FormField]] = []
    region: list[FormField] = []
    for f in fields:
        if f.name in REGION_FIELDS:
            if not region:
                pages.append(region)
            region.append(f)
        else:
            pages.append([f])
    return pages


class FormScreen(FlowScreen):
    kind = ViewKind.FORM.value
    actions_left = True

    values: dict[str, str] = {}
    page = 0
    page_error: str | None = None

    def render(self, view) -> None:
        same = self.view is not None and (self.view.flow, self.view.step) == (view.flow, view.step) \
            and isinstance(self.view, Form) and [f.name for f in self.view.fields] == [f.name for f in view.fields]
        if not same:
            self.values = {k: str(v) for k, v in view.values.items() if v is not None}
            self.page = 0
        self.pages = pages_for(view.fields)
        self.page_error = None
        if view.errors:
            for i, page in enumerate(self.pages):
                if any(f.name in view.errors for f in page):
                    self.page = i
                    break
        self.page = min(self.page, len(self.pages) - 1)
        super().render(view)

    # -- layout ---------------------------------------------------------------------------
    def build_body(self, column: Column) -> None:
        view: Form = self.view  # type: ignore[assignment]
        tr, s = self.tr, self.s
        page = self.pages[self.page]
        heading = self.heading(tr.msg(view.message))
        if page[0].name not in REGION_FIELDS and len(self.pages) > 1:
            heading.font_size = s.px(50)  # the field's own label below says what to type
        column.add_widget(heading)
        if len(self.pages) > 1 and page[0].name in REGION_FIELDS:
            column.add_widget(self.body_text(tr("ui.form.question", index=self.page + 1, total=len(self.pages)),
                                             muted=True))
        errors = [view.errors[f.name] for f in page if f.name in view.errors]
        if self.page_error:
            errors = [self.page_error]
        elif "" in view.errors and self.page == len(self.pages) - 1:
            errors.append(view.errors[""])
        self._dock = None
        if page[0].name in REGION_FIELDS:
            self._error_label(column, errors)
            picker = RegionPicker(
                labels={"pick_province": tr("ui.region.pick_province"), "pick_city": tr("ui.region.pick_city"),
                        "pick_district": tr("ui.region.pick_district"), "picked": tr("ui.region.picked"),
                        "again": tr("ui.region.again"), "prev_page": tr("ui.region.prev_page"),
                        "next_page": tr("ui.region.next_page")},
                on_change=self._region_changed, lang=self.app.lang,
                value={f.name: self.values.get(f.name, "") for f in page},
                key_height=s.target, font_size=s.px(40), cols=4 if s.landscape else 3)
            self.add_control(picker)
            self.input = picker
            return
        field = page[0]
        label_text = tr.msg(field.label)
        if len(self.pages) > 1 or label_text != tr.msg(view.message):
            row = BoxLayout(size_hint_y=None, spacing=s.gap)
            lab = Text(text=label_text, font_size=s.px(48), bold=True, color=theme.TEXT, size_hint_y=1)
            row.add_widget(lab)
            if len(self.pages) > 1:
                count = Text(text=tr("ui.form.question", index=self.page + 1, total=len(self.pages)),
                             font_size=s.small, color=theme.TEXT_MUTED, halign="right", size_hint_y=1,
                             size_hint_x=0.5)
                row.add_widget(count)
            texts = list(row.children)

            def fit_row(*_):
                row.height = max([s.px(64)] + [t.texture_size[1] + 8 for t in texts])

            for t in texts:
                t.bind(texture_size=fit_row)
            fit_row()
            column.add_widget(row)
        self._error_label(column, errors)
        hint_kind = field.kind.value if field.kind is not FieldKind.TEXT else "text"
        pinyin = field.kind is FieldKind.TEXT and field.name != "plate"
        hint = tr("ui.pinyin.hint") if pinyin else tr(f"ui.form.hint.{hint_kind}")  # how to type, in the box itself
        self.entry = EntryBox(hint=hint, font_size=s.body if not pinyin else s.small)
        keypad = field.kind is not FieldKind.TEXT
        (self.add_control if keypad else column.add_widget)(self.entry)  # landscape: the box above its keypad
        current = self.values.get(field.name, "")
        self._dock = None  # keys grow with the mode (≥ 90 px in elderly mode): everything the hand touches
        if field.kind is FieldKind.TEXT and field.name == "plate":
            self.input = self._dock = PlateKeyboard(
                labels={"delete": tr("ui.keypad.delete"), "clear": tr("ui.keypad.clear")},
                on_change=lambda v, n=field.name: self._typed(n, v), value=current,
                max_length=field.max_length or 8, key_height=s.key, font_size=s.px(42))
        elif field.kind is FieldKind.TEXT:
            self.input = self._dock = PinyinKeyboard(
                labels={"delete": tr("ui.keypad.delete"), "clear": tr("ui.keypad.clear"), "more": tr("ui.pinyin.more")},
                on_change=lambda v, n=field.name: self._typed(n, v), value=current,
                max_length=field.max_length or 60, key_height=s.key, font_size=s.px(40))
        else:
            digits = current.replace("-", "") if field.kind is FieldKind.DATE else current
            max_len = {FieldKind.PHONE: 11, FieldKind.DATE: 8}.get(field.kind, field.max_length or 18)
            self.input = NumericKeypad(
                labels={"clear": tr("ui.keypad.clear"), "delete": tr("ui.keypad.delete")},
                on_change=lambda v, n=field.name: self._typed(n, v), max_length=max_len,
                decimal=field.kind is FieldKind.NUMBER, key_height=s.px(112 if not s.landscape else 100),
                font_size=s.px(56), value=digits, size_hint_x=1, spacing=s.px(14))
            self.add_control(self.input)
        self._typed(field.name, getattr(self.input, "value", current))

    def dock(self):
        return getattr(self, "_dock", None)

    def _error_label(self, column: Column, errors: list[str]) -> None:
        for key in errors:
            t = self.body_text("！" + self.tr(key))
            t.color = theme.DANGER
            t.bold = True
            column.add_widget(t)

    def _typed(self, name: str, raw: str) -> None:
        field = next(f for f in self.view.fields if f.name == name)  # type: ignore[union-attr]
        if field.kind is FieldKind.DATE:
            self.values[name] = format_date(raw)
            shown = self.values[name]
        else:
            self.values[name] = raw
            shown = format_phone(raw) if field.kind is FieldKind.PHONE else raw
            if field.secret:
                shown = "●" * len(raw)
        self.entry.value_text = shown

    def _region_changed(self, value: dict[str, str]) -> None:
        for k in LEVELS:
            if k in value:
                self.values[k] = value[k]
            else:
                self.values.pop(k, None)

    def actions(self):
        last = self.page == len(self.pages) - 1
        return [self.primary_button("form.submit" if last else "form.next",
                                    self.tr("ui.confirm" if last else "ui.next"), self.next_page)]

    def footer_buttons(self):
        buttons = super().footer_buttons()
        if self.page > 0 and not any(b[0] == "nav.back" for b in buttons):
            buttons.insert(1, ("nav.back", self.tr("ui.back"), "secondary", self.go_back))
        return buttons

    # -- navigation -----------------------------------------------------------------------
    def _page_error(self) -> str | None:
        for f in self.pages[self.page]:
            raw = self.values.get(f.name, "")
            _, err = f.check(raw)
            if err:
                return err
        return None

    def next_page(self) -> None:
        err = self._page_error()
        if err:
            self.page_error = err
            self._rebuild()
            return
        if self.page < len(self.pages) - 1:
            self.page += 1
            self.page_error = None
            self._rebuild()
            self.app.speak_key(self._page_speech())
        else:
            self.answer({f.name: self.values.get(f.name, "") for f in self.view.fields})  # type: ignore[union-attr]

    def go_back(self) -> None:
        if self.page > 0:
            self.page -= 1
            self.page_error = None
            self._rebuild()
        else:
            super().go_back()

    def _rebuild(self) -> None:
        view = self.view
        saved, page, err = dict(self.values), self.page, self.page_error
        self.close_overlay()
        self.root_box.clear_widgets()
        self.values, self.page, self.page_error = saved, page, err
        self.build()

    def _page_speech(self) -> str | None:
        page = self.pages[self.page]
        if page[0].name in REGION_FIELDS:
            return "ui.region.title"
        return page[0].label.key

    def speech_key(self):
        return self.view.message.key  # type: ignore[union-attr]

    def wipe(self) -> None:
        self.values = {}
        self.page = 0
        super().wipe()
