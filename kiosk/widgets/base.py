"""Drawing helpers shared by the widgets: a filled rounded background and wrapped labels."""

from __future__ import annotations

from kivy.graphics import Color, Line, RoundedRectangle
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk import theme
from kiosk.widgets.wrap import CjkWrap


class Panel(BoxLayout):
    """A box with a rounded background colour and an optional border."""

    bg = ListProperty(list(theme.SURFACE))
    border = ListProperty([0, 0, 0, 0])
    radius = NumericProperty(18)

    def __init__(self, **kw):
        super().__init__(**kw)
        with self.canvas.before:
            self._c = Color(*self.bg)
            self._r = RoundedRectangle(pos=self.pos, size=self.size, radius=[self.radius])
            self._bc = Color(*self.border)
            self._b = Line(rounded_rectangle=(*self.pos, *self.size, self.radius), width=2)
        self.bind(pos=self._redraw, size=self._redraw, bg=self._recolour, border=self._recolour)

    def _redraw(self, *_):
        self._r.pos, self._r.size = self.pos, self.size
        self._b.rounded_rectangle = (*self.pos, *self.size, self.radius)

    def _recolour(self, *_):
        self._c.rgba = self.bg
        self._bc.rgba = self.border


class Fill(Widget):
    """A plain coloured rectangle filling its area (backgrounds, dividers)."""

    bg = ListProperty(list(theme.BACKGROUND))

    def __init__(self, **kw):
        super().__init__(**kw)
        with self.canvas.before:
            self._c = Color(*self.bg)
            self._r = RoundedRectangle(pos=self.pos, size=self.size, radius=[0])
        self.bind(pos=self._redraw, size=self._redraw, bg=lambda *_: setattr(self._c, "rgba", self.bg))

    def _redraw(self, *_):
        self._r.pos, self._r.size = self.pos, self.size


class FreshTexture:
    """Render changed text into a new texture instead of rewriting the old one.

    Without a GPU (Mesa llvmpipe: development machines, CI, some kiosks) rewriting a texture
    that the previous frame still uses waits for that frame to finish: ~0.2 s per changed
    label at 1080×1920, measured. A fresh texture costs nothing noticeable.
    """

    def texture_update(self, *largs):
        core = getattr(self, "_label", None)
        if core is not None:
            core.texture = None
        super().texture_update(*largs)  # type: ignore[misc]


class Text(CjkWrap, FreshTexture, Label):
    """A label that wraps to its width and grows to its text height (for body text)."""

    kiosk_role = StringProperty("body")  # body | heading | small: the audit checks body contrast

    def __init__(self, **kw):
        kw.setdefault("color", theme.TEXT)
        kw.setdefault("halign", "left")
        kw.setdefault("valign", "middle")
        kw.setdefault("size_hint_y", None)
        super().__init__(**kw)
        self.stale = True  # the texture is not yet drawn for the current text/width (layouts wait for it)
        self.bind(width=self._wrap, texture_size=self._grow, text=self._touched, text_size=self._touched,
                  font_size=self._touched)
        self._wrap()
        self.init_wrap()

    def _touched(self, *_):
        self.stale = True

    def texture_update(self, *largs):
        super().texture_update(*largs)
        self.stale = False

    def _wrap(self, *_):
        self.text_size = (self.width, None)

    def _grow(self, *_):
        self.height = self.texture_size[1] + 8


class FollowsChildrenHeight:
    """Mixin for a vertical BoxLayout whose height is the sum of its children's (which must
    have size_hint_y=None), padding and spacing; call `follow_children_height()` once."""

    def follow_children_height(self) -> None:
        self.bind(children=self._watch, padding=self._fit, spacing=self._fit)

    def _watch(self, *_):
        for c in self.children:
            c.unbind(height=self._fit)
            c.bind(height=self._fit)
        self._fit()

    def _fit(self, *_):
        pad = self.padding
        vpad = (pad[1] + pad[3]) if len(pad) == 4 else (pad[1] * 2 if len(pad) == 2 else pad[0] * 2)
        n = len(self.children)
        self.height = sum(c.height for c in self.children) + self.spacing * max(0, n - 1) + vpad


class Column(FollowsChildrenHeight, BoxLayout):
    """A vertical stack whose height follows its children (which must have size_hint_y=None)."""

    def __init__(self, **kw):
        kw.setdefault("orientation", "vertical")
        kw.setdefault("size_hint_y", None)
        super().__init__(**kw)
        self.follow_children_height()
