"""The frame every flow screen shares: header (service, language, voice, large text), step
progress, the view's own body, its main actions, and the footer (Cancel, Back, Help).

Screens never hold strings: every text comes from the app's translator by key. Screens
hold no state a citizen could leave behind: `wipe()` blanks every text and image and
drops the widgets (kiosk.session calls it at the end of every session).
"""

from __future__ import annotations

from typing import Iterable

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from flows.views import Action, ViewBase
from kiosk import theme
from kiosk.ports import ScreenHost
from kiosk.widgets.base import Column, Fill, Panel, Text
from kiosk.widgets.buttons import BigButton
from kiosk.widgets.fit import FitColumn, fit_scroll, flex
from kiosk.widgets.illustration import Illustration
from kiosk.widgets.progress import StepProgress


def _tappable(widget) -> bool:
    stack = [widget]
    while stack:
        w = stack.pop()
        if getattr(w, "kiosk_id", ""):
            return True
        stack.extend(w.children)
    return False


def wipe_widget_tree(root) -> None:
    """Blank every text and image under `root` (labels, buttons, text inputs, images), and stop
    their animations: a running Animation (a scroll bar fading out) holds its widget strongly."""
    from kivy.animation import Animation

    stack = [root]
    while stack:
        w = stack.pop()
        Animation.cancel_all(w)
        fade = getattr(w, "_bind_inactive_bar_color_ev", None)  # a ScrollView's bar fade, due 0.5 s later
        if fade is not None:
            fade.cancel()
        if isinstance(w, Label) or (hasattr(w, "text") and isinstance(getattr(w, "text"), str)):
            w.text = ""  # labels, buttons, text inputs
        if isinstance(w, Image):
            w.texture = None
        wipe = getattr(w, "wipe", None)
        if callable(wipe) and w is not root and not isinstance(w, KioskScreen):
            try:
                wipe()
            except Exception:
                pass
        stack.extend(w.children)


class KioskScreen(Screen):
    """Base of every screen: the app, a render/wipe cycle.

    No background widget: the window is cleared to `theme.BACKGROUND` every frame (the app sets
    `Window.clearcolor` whenever the palette changes), and a full-screen fill drawn over it cost
    8–9 ms of every frame on Mesa llvmpipe, a fifth of a typical screen's (docs/memory.md).
    """

    kind = ""

    def __init__(self, app: ScreenHost, **kw):
        super().__init__(name=self.kind, **kw)
        self.app = app
        self.view: ViewBase | None = None
        self.root_box = BoxLayout(orientation="vertical")
        self.add_widget(self.root_box)
        self.overlay: FloatLayout | None = None

    @property
    def tr(self):
        return self.app.tr

    @property
    def s(self):
        return self.app.sizes

    def render(self, view: ViewBase | None) -> None:
        self.view = view
        self.close_overlay()
        self.root_box.clear_widgets()
        self.build()

    def build(self) -> None:  # subclasses fill root_box
        pass

    def speech_key(self) -> str | None:
        """The catalog key whose (parameter-free) template is spoken for this screen."""
        return None

    def wipe(self) -> None:
        self.stop_timers()
        wipe_widget_tree(self)
        self.close_overlay()
        self.root_box.clear_widgets()
        self.view = None
        self.drop_widget_refs()

    def drop_widget_refs(self) -> None:
        """Forget the widgets of the last view that the screen kept as attributes (entry box,
        keyboard, progress bar …): cleared from the tree but still referenced, they and their
        textures stayed alive until that screen type was shown again (tests/ui/test_leaks.py)."""
        from kivy.uix.widget import Widget

        def attached(w) -> bool:
            while w is not None and w is not self:
                w = w.parent if w.parent is not w else None
            return w is self

        for name, value in list(vars(self).items()):
            if isinstance(value, Widget) and not attached(value):
                setattr(self, name, None)
            elif isinstance(value, (dict, list)):  # e.g. the consent screen's buttons by (item, answer)
                items = value.values() if isinstance(value, dict) else value
                if any(isinstance(v, Widget) and not attached(v) for v in items):
                    setattr(self, name, type(value)())

    def on_leave(self, *args):
        self.stop_timers()

    def stop_timers(self) -> None:
        pass

    # -- shared pieces --------------------------------------------------------------------
    def header(self, title: str) -> BoxLayout:
        """Title and the session settings. Portrait: the title on its own row above the
        buttons (so neither is squeezed); landscape: one row. The buttons grow in large-text
        mode like every other target; the title keeps its size so it fits."""
        s, base = self.s, self.app.base_sizes
        landscape = s.landscape
        pad = base.px(14)
        bar = Panel(bg=list(theme.HEADER), radius=0, size_hint_y=None, orientation="horizontal" if landscape else "vertical",
                    padding=(base.px(32), pad), spacing=base.px(10 if not landscape else 16))
        title_label = Label(text=title, font_size=base.px(44), color=theme.TEXT_ON_DARK, bold=True,
                            halign="left", valign="middle", shorten=True, shorten_from="right",
                            size_hint=(1, None), height=base.px(60))
        title_label.bind(size=lambda w, sz: setattr(w, "text_size", sz))
        bar.add_widget(title_label)
        row = bar if landscape else BoxLayout(size_hint_y=None, height=s.chrome, spacing=base.px(14))
        if row is not bar:
            bar.add_widget(row)
        for kid, text, handler in self.chrome_buttons():
            b = BigButton(text=text, kiosk_id=kid, style="header", font_size=base.px(32 if not s.elderly else 36),
                          size_hint=(None if landscape else 1, None), height=s.chrome,
                          width=base.px(220))
            b.bind(on_release=lambda _b, h=handler: h())
            row.add_widget(b)
        if landscape:
            title_label.size_hint_x = 1
            title_label.height = s.chrome
            bar.height = s.chrome + 2 * pad
        else:
            bar.height = title_label.height + s.chrome + bar.spacing + 2 * pad
        return bar

    def chrome_buttons(self) -> list[tuple[str, str, object]]:
        """(kiosk_id, text, handler): the settings a citizen can change on every screen."""
        tr, app = self.tr, self.app
        return [
            ("chrome.voice", tr("ui.voice_on") if app.voice_on else tr("ui.voice_off"), app.toggle_voice),
            ("chrome.elderly", tr("ui.elderly_on") if app.elderly else tr("ui.elderly_off"), app.toggle_elderly),
            ("chrome.repeat", tr("ui.repeat"), app.repeat),
            ("chrome.access", tr("ui.access"), self.show_access),
            ("chrome.language", tr("ui.language"), app.toggle_language),
        ]

    def footer(self, buttons: Iterable[tuple[str, str, str, object]]) -> BoxLayout:
        """(kiosk_id, text, style, handler) buttons in a row at the bottom."""
        s = self.s
        pad = s.px(18)
        bar = Panel(bg=list(theme.SURFACE), radius=0, size_hint_y=None, height=s.chrome + 2 * pad,
                    padding=(s.margin * 0.75, pad), spacing=s.gap)
        for kid, text, style, handler in buttons:
            b = BigButton(text=text, kiosk_id=kid, style=style, font_size=s.button_text)
            b.bind(on_release=lambda _b, h=handler: h())
            bar.add_widget(b)
        return bar

    def body_area(self) -> tuple[BoxLayout, FitColumn]:
        """A padded area with a column that fills it (it scrolls only if a view cannot fit)."""
        s = self.s
        outer = BoxLayout(orientation="vertical", padding=(s.margin, s.px(28), s.margin, s.px(24)), spacing=s.gap)
        scroll, column = fit_scroll(s.gap)
        outer.add_widget(scroll)
        return outer, column

    def picture(self, key: str | None, size: float, lo: float | None = None) -> BoxLayout:
        """A pictogram that shrinks (down to `lo`, default half) when the page needs the room."""
        box = BoxLayout(size_hint_y=None, height=size)
        box.add_widget(Illustration(key=key or ""))
        box.is_picture = True
        return flex(box, lo if lo is not None else size * 0.2, size * 1.15)

    def heading(self, text: str) -> Text:
        return Text(text=text, font_size=self.s.heading, bold=True, color=theme.TEXT, kiosk_role="heading",
                    line_height=1.2)

    def message_block(self, text: str) -> list:
        """A message: its first line as the heading; further lines (a summary to check) in a card."""
        first, _, rest = text.partition("\n")
        if not any(c in rest for c in "：:"):  # not a "label: value" summary: one heading
            return [self.heading(text)]
        s = self.s
        card = Panel(orientation="vertical", bg=list(theme.SURFACE), border=list(theme.DIVIDER),
                     size_hint_y=None, padding=s.px(32))
        lines = rest.strip().split("\n")
        halves = [lines] if not s.landscape or len(lines) < 5 else [lines[:(len(lines) + 1) // 2],
                                                                     lines[(len(lines) + 1) // 2:]]
        card.orientation = "horizontal"  # landscape: a long summary in two columns
        card.spacing = s.px(32)
        texts = []
        for half in halves:
            body = self.body_text("\n".join(half))
            body.line_height = 1.35
            card.add_widget(body)
            texts.append(body)

        def fit(*_):
            card.height = max(t.height for t in texts) + 2 * s.px(32)

        for t in texts:
            t.bind(height=fit)
        fit()
        return [self.heading(first), card]

    def body_text(self, text: str, muted: bool = False) -> Text:
        return Text(text=text, font_size=self.s.body, color=theme.TEXT_MUTED if muted else theme.TEXT,
                    line_height=1.3)

    def primary_button(self, kid: str, text: str, handler, style: str = "primary") -> BigButton:
        b = BigButton(text=text, kiosk_id=kid, style=style, font_size=self.s.button_text, size_hint_y=None,
                      height=self.s.primary_target, primary=True)
        b.bind(on_release=lambda _b: handler())
        return b

    def show_overlay(self, message: str, buttons: list[tuple[str, str, str, object]]) -> None:
        """A modal question over the screen (e.g. "really cancel?")."""
        self.close_overlay()
        s = self.s
        layer = FloatLayout()
        layer.add_widget(Fill(bg=[0.05, 0.08, 0.12, 0.6]))
        card = Panel(orientation="vertical", bg=list(theme.SURFACE), size_hint=(0.86, None),
                     pos_hint={"center_x": 0.5, "center_y": 0.5}, padding=s.px(48), spacing=s.gap)
        text = self.body_text(message)
        text.font_size = s.px(50)
        card.add_widget(text)
        for kid, label, style, handler in buttons:
            card.add_widget(self.primary_button(kid, label, handler, style=style))

        def fit(*_):
            card.height = sum(c.height for c in card.children) + s.gap * (len(card.children) - 1) + 2 * s.px(48)

        for c in card.children:
            c.bind(height=fit)
        fit()
        layer.add_widget(card)
        self.overlay = layer
        self.add_widget(layer)

    def show_access(self) -> None:
        """The text-size step and the high-contrast switch (kiosk/screens/access.py), over any screen."""
        from kiosk.screens.access import access_panel

        self.close_overlay()
        self.overlay = access_panel(self)
        self.add_widget(self.overlay)

    def close_overlay(self) -> None:
        if self.overlay is not None:
            self.remove_widget(self.overlay)
            self.overlay = None


class FlowScreen(KioskScreen):
    """A screen that renders one flow view with the full chrome."""

    def build(self) -> None:
        """Portrait: one column (picture, question, answers), the main action above the footer.
        Landscape: the picture and question on the left, the answers, keyboards and main
        action on the right, so both fit in 1080 px of height."""
        view = self.view
        assert view is not None
        tr, s = self.tr, self.s
        title = tr.msg(view.title) if view.title else self.app.service_title()
        self.root_box.add_widget(self.header(title))
        outer = BoxLayout(orientation="horizontal" if s.landscape else "vertical",
                          padding=(s.margin, s.px(28 if not s.landscape else 20), s.margin, s.px(24 if not s.landscape else 18)),
                          spacing=s.gap if not s.landscape else s.margin)
        left = BoxLayout(orientation="vertical", spacing=s.gap, size_hint_x=0.4 if s.landscape else 1)
        if view.progress is not None:
            left.add_widget(StepProgress(tr("ui.step", index=view.progress.index, total=view.progress.total),
                                         view.progress.index, view.progress.total, font_size=s.small))
        scroll, column = fit_scroll(s.gap)
        left.add_widget(scroll)
        outer.add_widget(left)
        if s.landscape:
            right = BoxLayout(orientation="vertical", spacing=s.gap, size_hint_x=0.6)
            cscroll, controls = fit_scroll(s.gap)
            right.add_widget(cscroll)
            outer.add_widget(right)
        else:
            right, controls = left, column
        self.body, self.controls = column, controls
        self.build_body(column)
        if s.landscape and not controls.children:
            self._split_pictures(column, controls)
        if s.landscape and not _tappable(controls) and self.dock() is None:  # text on both sides: even widths
            left.size_hint_x = right.size_hint_x = 0.5
        if s.landscape:
            self._moves = 0
            column.on_overflow = column.on_overflow or (lambda: self._rebalance(column, controls, True))
            controls.on_overflow = controls.on_overflow or (lambda: self._rebalance(column, controls, False))
        dock = self.dock()
        if dock is not None:
            right.add_widget(dock)
        actions = Column(spacing=s.gap)
        for b in self.actions():
            actions.add_widget(b)
        if actions.children:  # landscape with a keyboard or picker: Next goes under the question, on the left
            (left if dock is not None or self.actions_left else right).add_widget(actions)
        self.root_box.add_widget(outer)
        self.root_box.add_widget(self.footer(self.footer_buttons()))

    @staticmethod
    def _split_pictures(column, controls) -> None:
        """Landscape, a screen without answers: the pictures and the heading stay left, the
        rest (instructions, progress) goes right."""
        kids = list(reversed(column.children))
        if not any(getattr(k, "is_picture", False) for k in kids):
            return
        heading = next((k for k in kids if getattr(k, "kiosk_role", "") == "heading"), None)
        for k in kids:
            if not getattr(k, "is_picture", False) and k is not heading and not getattr(k, "stays_left", False):
                column.remove_widget(k)
                controls.add_widget(k)

    actions_left = False  # landscape: the main action under the question (forms), not under the answers

    def _rebalance(self, left, right, from_left: bool) -> None:
        """Landscape: a pane is too tall. Move a text at its edge across — the left pane's
        last, or the right pane's first (or last) — while the other pane has room. Answers
        (anything with a kiosk_id in it) and pictures never move, nor a heading to the left."""
        if self._moves >= 8:
            return
        src, dst = (left, right) if from_left else (right, left)
        kids = list(reversed(src.children))  # top to bottom
        # Kivy: index=len(children) puts a widget at the top of a vertical box, index=0 at the bottom
        ends = [(kids[-1], len(dst.children))] if from_left else [(kids[0], 0), (kids[-1], 0)]
        for w, index in ends if kids else ():
            if getattr(w, "is_picture", False) or _tappable(w) or (not from_left and getattr(w, "kiosk_role", "") == "heading"):
                continue
            if dst.spare() < w.height + dst.spacing:
                continue
            self._moves += 1
            src.remove_widget(w)
            dst.add_widget(w, index=index)
            return

    def add_control(self, widget) -> None:
        """An answer (option button, consent card, keypad): the right pane in landscape."""
        self.controls.add_widget(widget)

    def build_body(self, column: Column) -> None:
        pass

    def actions(self) -> list[BigButton]:
        return []

    def dock(self):
        """A widget fixed above the actions, outside the scrolling body (on-screen keyboards)."""
        return None

    def footer_buttons(self) -> list[tuple[str, str, str, object]]:
        tr = self.tr
        view = self.view
        buttons: list[tuple[str, str, str, object]] = [("nav.cancel", tr("ui.cancel"), "danger", self.ask_cancel)]
        if view is not None and view.can_back:
            buttons.append(("nav.back", tr("ui.back"), "secondary", self.go_back))
        buttons.append(("nav.help", tr("ui.help"), "secondary", lambda: self.send(Action.help())))
        return buttons

    # -- actions --------------------------------------------------------------------------
    def send(self, action: Action) -> None:
        if self.view is not None and action.view_id is None:
            action = action.model_copy(update={"view_id": self.view.view_id})
        self.app.act(action)

    def answer(self, value=None) -> None:
        self.send(Action.answer(value))

    def go_back(self) -> None:
        self.send(Action.back())

    def static_help(self) -> None:
        """Help once the flow has ended (there is no flow step left to explain)."""
        self.show_overlay(self.tr("ui.help_staff"), [("help.close", self.tr("ui.close"), "primary", self.close_overlay)])

    def ask_cancel(self) -> None:
        tr = self.tr
        self.show_overlay(tr("ui.cancel_confirm"), [
            ("cancel.no", tr("ui.cancel_no"), "primary", self.close_overlay),
            ("cancel.yes", tr("ui.cancel_yes"), "danger", lambda: (self.close_overlay(), self.send(Action.cancel()))),
        ])
