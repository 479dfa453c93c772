"""Pictures a view names by asset key: shipped PNGs, the colour-vision plates, QR codes.

Colour plates: no licensed plate set ships with this repository (flows/vision_test.py
uses placeholder figures), so `colour/plateNN` is drawn here as a pseudo-isochromatic
dot pattern showing the plate's normal figure. It demonstrates the screen on the
simulators; a real kiosk must ship the licensed plates as PNGs under kiosk/assets/
(which take precedence).
"""

from __future__ import annotations

import io
import random
from functools import lru_cache
from pathlib import Path

from kivy.core.image import Image as CoreImage
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image

ASSETS = Path(__file__).parent / "assets"


@lru_cache(maxsize=16)
def _plate_png(figure: str, size: int = 480, seed: int = 7) -> bytes:
    from PIL import Image as PILImage, ImageDraw, ImageFont

    from kiosk.fonts import font_path

    mask = PILImage.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    font = ImageFont.truetype(str(font_path()), int(size * 0.55))
    bbox = draw.textbbox((0, 0), figure, font=font)
    draw.text(((size - (bbox[2] - bbox[0])) / 2 - bbox[0], (size - (bbox[3] - bbox[1])) / 2 - bbox[1]), figure,
              fill=255, font=font)
    img = PILImage.new("RGB", (size, size), (244, 246, 248))
    out = ImageDraw.Draw(img)
    rng = random.Random(seed + sum(map(ord, figure)))
    fig_colours = [(214, 120, 64), (226, 140, 70), (200, 100, 60), (232, 160, 96)]
    bg_colours = [(122, 168, 96), (146, 182, 104), (104, 150, 90), (170, 190, 110)]
    r0 = size / 2
    for _ in range(2600):
        rad = rng.uniform(size * 0.008, size * 0.022)
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        if (x - r0) ** 2 + (y - r0) ** 2 > (r0 - rad) ** 2:
            continue
        inside = mask.getpixel((int(x), int(y))) > 128
        out.ellipse((x - rad, y - rad, x + rad, y + rad), fill=rng.choice(fig_colours if inside else bg_colours))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _plate_figure(key: str) -> str | None:
    from flows.vision_test import DEMO_PLATE, RESERVE_PLATES, SCREENING_PLATES

    for plate in (DEMO_PLATE, *SCREENING_PLATES, *RESERVE_PLATES):
        if plate.image == key:
            return plate.normal
    return None


def qr_png(payload: str, box: int = 12) -> bytes:
    import qrcode

    qr = qrcode.QRCode(border=2, box_size=box, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(payload)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf)
    return buf.getvalue()


def image_from_png(data: bytes, height: float) -> BoxLayout:
    texture = CoreImage(io.BytesIO(data), ext="png").texture
    texture.mag_filter = "nearest"
    box = BoxLayout(size_hint_y=None, height=height)
    box.add_widget(Image(texture=texture, fit_mode="contain"))
    return box


class AssetImages:
    def widget(self, key: str, height: float) -> BoxLayout | None:
        path = ASSETS / f"{key}.png"
        if path.is_file():
            return image_from_png(path.read_bytes(), height)
        if key.startswith("colour/"):
            figure = _plate_figure(key)
            if figure is not None:
                return image_from_png(_plate_png(figure), height)
        return None
