"""Pick a mailing address region in three taps: province, then city, then district.

One level at a time (one question per screen), as a paged grid of big buttons (no
scrolling: paging is easier for unpractised hands), with the picks so far shown above
and a "choose again" button. A municipality's single city (重庆市 → 重庆市) is picked
automatically.
"""

from __future__ import annotations

from typing import Callable

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk import theme
from kiosk.regions import Place, Regions, load_regions
from kiosk.widgets.base import Column, Text
from kiosk.widgets.buttons import BigButton

LEVELS = ("province", "city", "district")
PER_PAGE = 12
COLS = 3


class RegionPicker(Column):
    def __init__(self, *, labels: dict[str, str], on_change: Callable[[dict[str, str]], None], lang: str,
                 value: dict[str, str] | None = None, key_height: float = 120, font_size: float = 40,
                 regions: Regions | None = None, cols: int = COLS, **kw):
        kw.setdefault("spacing", 16)
        super().__init__(**kw)
        self.regions = regions or load_regions()
        self.labels = labels
        self.lang = lang
        self.value: dict[str, str] = {k: v for k, v in (value or {}).items() if k in LEVELS and v}
        self.page = 0
        self._on_change = on_change
        self._kh, self._fs = key_height, font_size
        self.question = Text(font_size=font_size * 1.1, color=theme.TEXT)
        self.picked = Text(font_size=font_size, color=theme.TEXT_MUTED)
        self.cols = cols
        self.grid = GridLayout(cols=cols, spacing=12, size_hint_y=None)
        self.pager = BoxLayout(size_hint_y=None, height=key_height, spacing=16)
        for w in (self.question, self.picked, self.grid, self.pager):
            self.add_widget(w)
        self._refresh()

    @property
    def level(self) -> str | None:
        return next((lv for lv in LEVELS if lv not in self.value), None)

    def complete(self) -> bool:
        return self.level is None

    def _options(self) -> list[Place]:
        lv = self.level
        if lv == "province":
            return list(self.regions.provinces)
        if lv == "city":
            return list(self.regions.province(self.value["province"]).cities)
        if lv == "district":
            return list(self.regions.city(self.value["province"], self.value["city"]).districts)
        return []

    def _name(self, place: Place) -> str:
        return place.name if self.lang == "zh" else f"{place.name}\n{place.en}"

    def choose(self, name: str) -> None:
        lv = self.level
        if lv is None:
            return
        self.value[lv] = name
        self.page = 0
        if self.level == "city":
            cities = self.regions.province(name).cities
            if len(cities) == 1:  # a municipality: its city is itself
                self.value["city"] = cities[0].name
        self._refresh()

    def restart(self) -> None:
        self.value.clear()
        self.page = 0
        self._refresh()

    def _refresh(self) -> None:
        self._on_change(dict(self.value))
        lv = self.level
        self.question.text = self.labels[f"pick_{lv}"] if lv else self.labels["picked"]
        self.picked.text = " › ".join(self.value[k] for k in LEVELS if k in self.value)
        self.grid.clear_widgets()
        self.pager.clear_widgets()
        opts = self._options()
        pages = max(1, -(-len(opts) // PER_PAGE))
        self.page = min(self.page, pages - 1)
        for place in opts[self.page * PER_PAGE:(self.page + 1) * PER_PAGE]:
            b = BigButton(text=self._name(place), kiosk_id=f"region.{lv}.{place.name}", style="secondary",
                          font_size=self._fs if self.lang == "zh" else self._fs * 0.8,
                          size_hint_y=None, height=self._kh)
            b.bind(on_release=lambda _b, n=place.name: self.choose(n))
            self.grid.add_widget(b)
        rows = -(-len(self.grid.children) // self.cols)
        self.grid.height = rows * self._kh + max(0, rows - 1) * 12
        if pages > 1:
            prev = BigButton(text=self.labels["prev_page"], kiosk_id="region.prev", style="quiet",
                             font_size=self._fs, disabled=self.page == 0)
            prev.bind(on_release=lambda _b: self._turn(-1))
            nxt = BigButton(text=self.labels["next_page"], kiosk_id="region.next", style="quiet",
                            font_size=self._fs, disabled=self.page >= pages - 1)
            nxt.bind(on_release=lambda _b: self._turn(1))
            self.pager.add_widget(prev)
            self.pager.add_widget(Text(text=f"{self.page + 1} / {pages}", font_size=self._fs, halign="center",
                                       size_hint_y=1))
            self.pager.add_widget(nxt)
        if self.value:
            again = BigButton(text=self.labels["again"], kiosk_id="region.again", style="quiet", font_size=self._fs)
            again.bind(on_release=lambda _b: self.restart())
            self.pager.add_widget(again)
        self.pager.height = self._kh if self.pager.children else 0

    def _turn(self, delta: int) -> None:
        self.page += delta
        self._refresh()

    def wipe(self) -> None:
        self.value.clear()
        self.picked.text = ""
        self.grid.clear_widgets()
