"""The attract/home screen (the service catalogue: groups, most used, search) and the out-of-service screen."""

from __future__ import annotations

import time

from kivy.clock import Clock
from kivy.properties import NumericProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk import theme
from kiosk.screens.base import KioskScreen
from kiosk.widgets.base import Column, Text
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.illustration import Illustration


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class HomeTile(BigButton):
    """A service tile; `need` is the height its wrapped text needs (its least height)."""

    need = NumericProperty(0)


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
    _refresh_due = False

    def __init__(self, app, **kw):
        super().__init__(app, **kw)
        self._held: set = set()  # touches down on this screen now

    def on_touch_down(self, touch):
        self._held.add(touch.uid)
        return super().on_touch_down(touch)

    def on_touch_up(self, touch):
        handled = super().on_touch_up(touch)
        self._held.discard(touch.uid)
        if self._refresh_due and not self._held:
            # after the tile's own release (a ScrollView hands it on in the grab pass, later in this input)
            Clock.schedule_once(lambda _dt: self.app.refresh_home(), 0)
        return handled

    def refresh(self) -> bool:
        """Redraw with the same typing and scroll position; returns False when it waits for a finger to
        lift (rebuilding the tiles under a touch would swallow the tap: the touch-up lands on a new tile)."""
        if self._held:
            self._refresh_due = True
            return False
        self._refresh_due = False
        self.render(None)
        return True

    def render(self, view) -> None:
        if self._scroll is not None:
            self._scroll_y = self._scroll.scroll_y
        super().render(view)

    def build(self) -> None:
        tr, s = self.tr, self.s
        catalogue = self.app.catalogue
        self.root_box.add_widget(self.header(tr("ui.home.title")))
        # Landscape: two panes, the greeting, search and notes on the left, the tiles on the right, so
        # the list keeps the whole height (one pane left the tiles a strip in large text).
        outer = BoxLayout(orientation="horizontal" if s.landscape else "vertical",
                          padding=(s.margin, s.px(28), s.margin, s.px(24)), spacing=s.gap if not s.landscape else s.margin)
        left = BoxLayout(orientation="vertical", spacing=s.gap, size_hint_x=0.42) if s.landscape else outer
        if left is not outer:
            outer.add_widget(left)
        left.add_widget(Text(text=tr("ui.home.org"), font_size=s.small, color=theme.TEXT_MUTED))
        self.clock_label = Text(text="", font_size=s.px(40), color=theme.TEXT_MUTED, kiosk_role="small")
        left.add_widget(self.clock_label)
        left.add_widget(Text(text=tr("ui.home.prompt"), font_size=s.heading, bold=True))
        left.add_widget(self._search_bar())
        if self.keypad_open:
            left.add_widget(self._keypad())
        scroll = ScrollView(do_scroll_x=False, bar_width=12, scroll_type=["bars", "content"])
        self._scroll = scroll
        scroll.scrolls_by_design = True  # the catalogue is a list (groups, search); flow pages never scroll
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
        if left is not outer and not self.keypad_open:
            left.add_widget(Widget())  # the notes at the bottom of the left pane
        notes = [] if left is not outer and self.keypad_open else ["ui.home.elderly_hint", "ui.home.privacy",
                                                                    "ui.home.staff"]
        if s.landscape:
            scroll.size_hint_x = 0.58
        outer.add_widget(scroll)
        for key in notes:
            left.add_widget(Text(text=tr(key), font_size=s.small, color=theme.TEXT_MUTED))
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
        """Tiles `_columns()` a row (one more in landscape), all as tall as the tallest one's wrapped text needs."""
        s = self.s
        cols = self._columns()  # landscape: the tiles' pane is about as wide as a portrait screen
        grid = GridLayout(cols=cols, spacing=s.gap, size_hint_y=None)
        least = s.px(170)
        tiles = [self._tile(service, prefix, least) for service in services]
        for tile in tiles:
            grid.add_widget(tile)
        filler = [Widget(size_hint_y=None, height=least) for _ in range(-len(services) % cols)]
        for w in filler:  # keep a lone tile one column wide
            grid.add_widget(w)
        rows = -(-len(services) // cols)

        def fit(*_):
            tile_h = max([least] + [t.need for t in tiles])
            for w in tiles + filler:
                w.height = tile_h
            grid.height = rows * tile_h + max(rows - 1, 0) * s.gap

        for t in tiles:
            t.bind(need=fit)
        fit()
        return grid

    def _tile(self, service, prefix: str, height: float) -> BigButton:
        tr, s = self.tr, self.s
        avail = self.app.availability(service.name)  # flows/availability.py: can it start now, and why not
        tile = HomeTile(text="", kiosk_id=f"{prefix}.{service.name}", style="secondary",
                        size_hint_y=None, height=height, primary=True, disabled=not avail.available)
        pad = s.px(16)
        row = BoxLayout(padding=(s.px(20), pad), spacing=s.px(16))
        icon = Illustration(key=service.icon or self._entry_icon(service.name), size_hint_x=None,
                            width=s.px(96 if not s.landscape else 72))
        texts = BoxLayout(orientation="vertical", spacing=s.px(4))
        title = Text(text=tr(f"service.{service.name}.title"), font_size=s.capped(42, 1.12), bold=True,
                     color=theme.TEXT)
        desc = Text(text=tr(avail.note.key) if avail.note else tr(f"service.{service.name}.desc"),
                    font_size=s.capped(34, 1.12), color=theme.TEXT if avail.note else theme.TEXT_MUTED,
                    bold=avail.note is not None, line_height=1.1)
        title.disabled_color = theme.TEXT_MUTED  # an unavailable service stays readable, and so does why
        desc.disabled_color = theme.TEXT
        texts.add_widget(Widget())  # the two texts wrap (never cut) and sit in the middle of the tile
        texts.add_widget(title)
        texts.add_widget(desc)
        texts.add_widget(Widget())

        def need(*_):
            tile.need = title.height + desc.height + texts.spacing * 3 + 2 * pad

        title.bind(height=need)
        desc.bind(height=need)
        need()
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
