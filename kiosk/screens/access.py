"""The small accessibility control of the header: text size (normal, larger, elderly) and colours
(normal, high contrast), over any screen. The choices last for the session only (the app resets
them when the session ends); the current one is marked with a tick and a fill, not colour alone."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout

from kiosk import theme
from kiosk.widgets.base import Fill, Panel, Text
from kiosk.widgets.buttons import BigButton

SIZES = ("normal", "larger", "elderly")
CONTRASTS = ("normal", "high")


def access_panel(screen) -> FloatLayout:
    app, tr, s = screen.app, screen.tr, screen.s
    base = app.base_sizes  # the panel keeps one size whatever the text size is, so it always fits
    layer = FloatLayout()
    layer.add_widget(Fill(bg=[0.05, 0.08, 0.12, 0.6]))
    pad = base.px(40)
    card = Panel(orientation="vertical", bg=list(theme.SURFACE), border=list(theme.TEXT), size_hint=(0.9, None),
                 pos_hint={"center_x": 0.5, "center_y": 0.5}, padding=pad, spacing=base.gap)
    target = max(s.target, 92 if app.elderly else 72)
    font = base.px(40)

    def row(options, current, label_key, handler, prefix):
        line = BoxLayout(size_hint_y=None, height=target * (1 if not s.landscape else 1), spacing=base.gap)
        for value in options:
            chosen = value == current
            text = tr(f"{label_key}.{value}")
            b = BigButton(text=("✓ " if chosen else "") + text, kiosk_id=f"{prefix}.{value}",
                          style="selected" if chosen else "secondary", font_size=font)
            b.bind(on_release=lambda _b, v=value: handler(v))
            line.add_widget(b)
        return line

    card.add_widget(Text(text=tr("ui.access.title"), font_size=base.px(50), bold=True))
    card.add_widget(Text(text=tr("ui.access.size"), font_size=font, color=theme.TEXT_MUTED))
    card.add_widget(row(SIZES, app.text_size, "ui.access.size", app.set_text_size, "access.size"))
    card.add_widget(Text(text=tr("ui.access.contrast"), font_size=font, color=theme.TEXT_MUTED))
    card.add_widget(row(CONTRASTS, "high" if app.high_contrast else "normal", "ui.access.contrast",
                        lambda v: app.set_high_contrast(v == "high"), "access.contrast"))
    card.add_widget(Text(text=tr("ui.access.session_only"), font_size=base.px(36), color=theme.TEXT_MUTED))
    close = BigButton(text=tr("ui.close"), kiosk_id="access.close", style="primary", font_size=font,
                      size_hint_y=None, height=max(target, base.primary_target), primary=True)
    close.bind(on_release=lambda _b: screen.close_overlay())
    card.add_widget(close)

    def fit(*_):
        card.height = sum(c.height for c in card.children) + base.gap * (len(card.children) - 1) + 2 * pad

    for c in card.children:
        c.bind(height=fit)
    fit()
    layer.add_widget(card)
    return layer
