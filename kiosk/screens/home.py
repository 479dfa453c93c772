"""The attract/home screen (the service catalogue: groups, most used, search) and the out-of-service screen."""

from __future__ import annotations

import time

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk import theme
from kiosk.screens.base import KioskScreen
from kiosk.widgets.base import Column, Text
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.illustration import Illustration


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class HomeScreen(KioskScreen):
    """A thin view of `app.catalogue` (flows.catalogue): the most-used services first, then the
    hall's groups, two tiles a row, in a scrolling list; a letter keypad finds a service by the
    pinyin initials of its Chinese name (XSZ → 行驶证). The typed letters are the only state here."""

    kind = "home"
    _event = None
    typed = ""
    keypad_open = False
    _scroll = None
    _scroll_y = 1.0

    def render(self, view) -> None:
        if self._scroll is not None:
            self._scroll_y = self._scroll.scroll_y
        super().render(view)

    def build(self) -> None:
        tr, s = self.tr, self.s
        catalogue = self.app.catalogue
        self.root_box.add_widget(self.header(tr("ui.home.title")))
        outer = BoxLayout(orientation="vertical", padding=(s.margin, s.px(28), s.margin, s.px(24)), spacing=s.gap)
        outer.add_widget(Text(text=tr("ui.home.org"), font_size=s.small, color=theme.TEXT_MUTED))
        self.clock_label = Text(text="", font_size=s.px(40), color=theme.TEXT_MUTED, kiosk_role="small")
        outer.add_widget(self.clock_label)
        outer.add_widget(Text(text=tr("ui.home.prompt"), font_size=s.heading, bold=True))
        outer.add_widget(self._search_bar())
        if self.keypad_open:
            outer.add_widget(self._keypad())
        scroll = ScrollView(do_scroll_x=False, bar_width=12, scroll_type=["bars", "content"])
        self._scroll = scroll
        tiles = Column(spacing=s.gap)
        if self.typed:
            found = catalogue.search(self.typed)
            tiles.add_widget(self._heading(tr("ui.home.search_results")))
            if found:
                tiles.add_widget(self._grid(found, "home.service"))
            else:
                tiles.add_widget(Text(text=tr("ui.home.search_none"), font_size=s.body, color=theme.TEXT_MUTED))
        else:
            top = catalogue.most_used(2 if len(catalogue.offered()) > 4 else 0)
            if top:
                tiles.add_widget(self._heading(tr("ui.home.most_used")))
                tiles.add_widget(self._grid(top, "home.top"))
            groups = catalogue.groups()
            for group, services in groups:
                if len(groups) > 1:
                    tiles.add_widget(self._heading(tr(f"ui.home.group.{group.value}")))
                tiles.add_widget(self._grid(services, "home.service"))
        scroll.add_widget(tiles)
        scroll.scroll_y = self._scroll_y  # a redraw (link state, fleet config) keeps the list where it was
        outer.add_widget(scroll)
        outer.add_widget(Text(text=tr("ui.home.elderly_hint"), font_size=s.small, color=theme.TEXT_MUTED))
        outer.add_widget(Text(text=tr("ui.home.privacy"), font_size=s.small, color=theme.TEXT_MUTED))
        outer.add_widget(Text(text=tr("ui.home.staff"), font_size=s.small, color=theme.TEXT_MUTED))
        self.root_box.add_widget(outer)
        self._tick()
        self.stop_timers()
        self._event = Clock.schedule_interval(self._tick, 15)

    # -- search ------------------------------------------------------------------------------
    def _search_bar(self) -> BoxLayout:
        tr, s = self.tr, self.s
        bar = BoxLayout(size_hint_y=None, height=s.px(120), spacing=s.gap)
        label = f"{tr('ui.home.search')}：{self.typed}" if self.typed else tr("ui.home.search")
        field = BigButton(text=label, kiosk_id="home.search", style="selected" if self.keypad_open else "secondary",
                          font_size=s.body)
        field.bind(on_release=lambda _b: self._toggle_keypad())
        bar.add_widget(field)
        if self.typed:
            clear = BigButton(text=tr("ui.home.search_clear"), kiosk_id="home.search.clear", style="quiet",
                              font_size=s.body, size_hint_x=None, width=s.px(200))
            clear.bind(on_release=lambda _b: self._set_typed(""))
            bar.add_widget(clear)
        return bar

    def _keypad(self) -> Column:
        s = self.s
        box = Column(spacing=s.px(8))
        box.add_widget(Text(text=self.tr("ui.home.search_hint"), font_size=s.small, color=theme.TEXT_MUTED))
        grid = GridLayout(cols=7, spacing=s.px(8), size_hint_y=None)
        key_h = s.px(96)
        for ch in LETTERS:
            key = BigButton(text=ch, kiosk_id=f"home.search.key.{ch}", style="key", font_size=s.body,
                            size_hint_y=None, height=key_h)
            key.bind(on_release=lambda _b, c=ch: self._set_typed(self.typed + c))
            grid.add_widget(key)
        grid.height = key_h * ((len(LETTERS) + 6) // 7) + s.px(8) * 3
        box.add_widget(grid)
        return box

    def _toggle_keypad(self) -> None:
        self.keypad_open = not self.keypad_open
        self.render(None)

    def _set_typed(self, value: str) -> None:
        self.typed, self._scroll_y, self._scroll = value[:8], 1.0, None
        self.render(None)

    # -- tiles -------------------------------------------------------------------------------
    def _heading(self, text: str) -> Text:
        return Text(text=text, font_size=self.s.body, bold=True, color=theme.TEXT_MUTED)

    def _columns(self) -> int:
        """Two tiles a row for Chinese titles; one for English or large text, so no title is cut."""
        return 2 if self.app.lang == "zh" and not self.app.elderly else 1

    def _grid(self, services, prefix: str) -> GridLayout:
        s = self.s
        cols = self._columns()
        grid = GridLayout(cols=cols, spacing=s.gap, size_hint_y=None)
        tile_h = s.px(200 if cols == 2 else 170)
        for service in services:
            grid.add_widget(self._tile(service, prefix, tile_h))
        if len(services) % cols:
            grid.add_widget(Widget(size_hint_y=None, height=tile_h))  # keep a lone tile half wide
        rows = -(-len(services) // cols)
        grid.height = rows * tile_h + max(rows - 1, 0) * s.gap
        return grid

    def _tile(self, service, prefix: str, height: float) -> BigButton:
        tr, s = self.tr, self.s
        avail = self.app.availability(service.name)  # flows/availability.py: can it start now, and why not
        tile = BigButton(text="", kiosk_id=f"{prefix}.{service.name}", style="secondary",
                         size_hint_y=None, height=height, primary=True, disabled=not avail.available)
        row = BoxLayout(padding=(s.px(20), s.px(16)), spacing=s.px(16))
        icon = Illustration(key=service.icon or self._entry_icon(service.name), size_hint_x=None, width=s.px(96))
        texts = BoxLayout(orientation="vertical", spacing=s.px(4))
        title = Label(text=tr(f"service.{service.name}.title"), font_size=s.px(42), bold=True, color=theme.TEXT,
                      halign="left", valign="bottom")
        desc = Label(text=tr(avail.note.key) if avail.note else tr(f"service.{service.name}.desc"), font_size=s.small,
                     color=theme.TEXT if avail.note else theme.TEXT_MUTED, bold=avail.note is not None,
                     halign="left", valign="top")
        title.disabled_color = theme.TEXT_MUTED  # an unavailable service stays readable, and so does why
        desc.disabled_color = theme.TEXT
        title.size_hint_y = None  # as tall as its (wrapped) text; the description takes what is left
        title.bind(width=lambda w, width: setattr(w, "text_size", (width, None)),
                   texture_size=lambda w, ts: setattr(w, "height", ts[1]))
        desc.bind(size=lambda w, sz: setattr(w, "text_size", sz))
        texts.add_widget(title)
        texts.add_widget(desc)
        row.add_widget(icon)
        row.add_widget(texts)
        tile.add_widget(row)
        tile.bind(pos=lambda w, p: setattr(row, "pos", p), size=lambda w, sz: setattr(row, "size", sz))
        tile.bind(on_release=lambda _b, n=service.name: self._start(n))
        return tile

    def _entry_icon(self, name: str) -> str:
        return next((e.icon for e in self.app.services if e.name == name), "")

    def _start(self, name: str) -> None:
        self.typed, self.keypad_open, self._scroll_y, self._scroll = "", False, 1.0, None
        self.app.start_service(name)

    def _tick(self, *_):
        self.clock_label.text = time.strftime("%Y-%m-%d  %H:%M")

    def stop_timers(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def speech_key(self):
        return "ui.home.prompt"


class OutOfServiceScreen(KioskScreen):
    kind = "out_of_service"

    def build(self) -> None:
        tr, s = self.tr, self.s
        self.root_box.add_widget(self.header(tr("ui.home.title")))
        outer = BoxLayout(orientation="vertical", padding=(s.margin, s.px(200 if not s.landscape else 60)),
                          spacing=s.px(40 if not s.landscape else 24))
        pic = BoxLayout(size_hint_y=None, height=s.px(300 if not s.landscape else 220))
        pic.add_widget(Illustration(key="error"))
        outer.add_widget(pic)
        outer.add_widget(Text(text=tr("ui.out_of_service.title"), font_size=s.px(80), bold=True, halign="center"))
        outer.add_widget(Text(text=tr("ui.out_of_service.body"), font_size=s.body, halign="center"))
        if self.app.out_of_service_reason in ("devices", "disk_full"):  # reasons a citizen is told about
            outer.add_widget(Text(text=tr(f"ui.out_of_service.{self.app.out_of_service_reason}"), font_size=s.small,
                                  halign="center",
                                  color=theme.TEXT_MUTED))
        outer.add_widget(BoxLayout())
        self.root_box.add_widget(outer)

    def speech_key(self):
        return "ui.out_of_service.title"
