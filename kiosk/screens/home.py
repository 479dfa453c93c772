"""The attract/home screen (a tile per service) and the out-of-service screen."""

from __future__ import annotations

import time

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk import theme
from kiosk.screens.base import KioskScreen
from kiosk.widgets.base import Column, Panel, Text
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.illustration import Illustration


class HomeScreen(KioskScreen):
    kind = "home"
    _event = None

    def build(self) -> None:
        tr, s = self.tr, self.s
        self.root_box.add_widget(self.header(tr("ui.home.title")))
        outer = BoxLayout(orientation="vertical", padding=(s.margin, s.px(40), s.margin, s.px(32)), spacing=s.gap)
        outer.add_widget(Text(text=tr("ui.home.org"), font_size=s.small, color=theme.TEXT_MUTED))
        self.clock_label = Text(text="", font_size=s.px(40), color=theme.TEXT_MUTED, kiosk_role="small")
        outer.add_widget(self.clock_label)
        outer.add_widget(Text(text=tr("ui.home.prompt"), font_size=s.heading, bold=True))
        tiles = Column(spacing=s.gap)
        for service in self.app.services:
            tiles.add_widget(self._tile(service))
        outer.add_widget(tiles)
        outer.add_widget(BoxLayout())  # push the footer notes down
        outer.add_widget(Text(text=tr("ui.home.elderly_hint"), font_size=s.small, color=theme.TEXT_MUTED))
        outer.add_widget(Text(text=tr("ui.home.privacy"), font_size=s.small, color=theme.TEXT_MUTED))
        outer.add_widget(Text(text=tr("ui.home.staff"), font_size=s.small, color=theme.TEXT_MUTED))
        self.root_box.add_widget(outer)
        self._tick()
        self.stop_timers()
        self._event = Clock.schedule_interval(self._tick, 15)

    def _tile(self, service) -> BigButton:
        tr, s = self.tr, self.s
        tile = BigButton(text="", kiosk_id=f"home.service.{service.name}", style="secondary",
                         size_hint_y=None, height=s.px(190), primary=True)
        row = BoxLayout(padding=(s.px(28), s.px(20)), spacing=s.px(28))
        icon = Illustration(key=service.icon, size_hint_x=None, width=s.px(150))
        texts = BoxLayout(orientation="vertical", spacing=s.px(6))
        title = Label(text=tr(f"service.{service.name}.title"), font_size=s.px(50), bold=True, color=theme.TEXT,
                      halign="left", valign="bottom")
        desc = Label(text=tr(f"service.{service.name}.desc"), font_size=s.small, color=theme.TEXT_MUTED,
                     halign="left", valign="top")
        for lab in (title, desc):
            lab.bind(size=lambda w, sz: setattr(w, "text_size", sz))
            texts.add_widget(lab)
        row.add_widget(icon)
        row.add_widget(texts)
        tile.add_widget(row)
        tile.bind(pos=lambda w, p: setattr(row, "pos", p), size=lambda w, sz: setattr(row, "size", sz))
        tile.bind(on_release=lambda _b, n=service.name: self.app.start_service(n))
        return tile

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
        outer = BoxLayout(orientation="vertical", padding=(s.margin, s.px(200)), spacing=s.px(40))
        pic = BoxLayout(size_hint_y=None, height=s.px(300))
        pic.add_widget(Illustration(key="error"))
        outer.add_widget(pic)
        outer.add_widget(Text(text=tr("ui.out_of_service.title"), font_size=s.px(80), bold=True, halign="center"))
        outer.add_widget(Text(text=tr("ui.out_of_service.body"), font_size=s.body, halign="center"))
        if self.app.out_of_service_reason == "devices":
            outer.add_widget(Text(text=tr("ui.out_of_service.devices"), font_size=s.small, halign="center",
                                  color=theme.TEXT_MUTED))
        outer.add_widget(BoxLayout())
        self.root_box.add_widget(outer)

    def speech_key(self):
        return "ui.out_of_service.title"
