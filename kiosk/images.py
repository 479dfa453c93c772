"""Pictures a view names by asset key: shipped PNGs, the colour-vision plates, QR codes.

Colour plates are the project's own generated pool, `colour/plate-NN` →
kiosk/assets/colour/plate-NN.png (flows/colour, docs/medical-check.md); plain asset files.
"""

from __future__ import annotations

import io
from pathlib import Path

from kivy.core.image import Image as CoreImage
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image

ASSETS = Path(__file__).parent / "assets"


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
        return None
