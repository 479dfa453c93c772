"""A label keeps its text as a texture only, not also as the SDL surface it was drawn on."""

from __future__ import annotations


def test_a_rendered_label_keeps_no_surface_and_its_texture_has_the_text(kivy_ui):
    from kivy.core.window import Window  # noqa: F401  (the GL context the texture needs)
    from kivy.uix.label import Label

    from kiosk import text_surfaces
    from kiosk.fonts import register_cjk_font

    register_cjk_font()
    text_surfaces.install()
    text_surfaces.install()  # twice: wrapped once
    label = Label(text="请把身份证放在读卡区", font_size=40, color=(1, 1, 1, 1))
    label.texture_update()
    assert "_surface" not in vars(label._label)
    texture = label.texture
    assert texture.width > 100 and texture.height > 20
    alpha = texture.pixels[3::4]
    assert max(alpha) == 255 and alpha.count(0) > len(alpha) // 4  # glyphs drawn, background clear
    label.text = "ID card"
    label.texture_update()
    assert "_surface" not in vars(label._label) and label.texture.width > 20
