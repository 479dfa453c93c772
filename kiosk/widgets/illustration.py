"""Simple vector pictograms for prompts and measuring screens (no bitmap assets to ship).

Keys come from the flows (`Prompt.illustration`, `Measuring.device`): idcard, bp, eye,
camera/face, printer, qr/payment, hearing, success, cancelled, error, help, idle, and
face.<liveness action> (`Measuring.pictogram`).
Unknown keys draw nothing. Drawn in the theme's blue on a pale disc: calm, not decorative.
"""

from __future__ import annotations

import math

from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle, Triangle
from kivy.properties import StringProperty
from kivy.uix.widget import Widget

from kiosk import theme
from kiosk.widgets.face_pictogram import ACTIONS, draw_face_action

DISC = theme.hex_colour("#E3ECF7")
INK = theme.PRIMARY
OK = theme.ACCENT_OK
WARN = theme.DANGER


class Illustration(Widget):
    key = StringProperty("")

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bind(pos=self._draw, size=self._draw, key=self._draw)

    def _draw(self, *_):
        self.canvas.clear()
        if not self.key:
            return
        d = min(self.width, self.height)
        # not `self.center`: that cached alias can still hold the old position while `pos` observers
        # run, which left a tile's icon drawn where the tile had been (a stray camera on the en home)
        cx, cy = self.x + self.width / 2, self.y + self.height / 2
        x0, y0 = cx - d / 2, cy - d / 2
        u = d / 100.0  # drawing unit: the picture is 100×100

        def P(x, y):
            return x0 + x * u, y0 + y * u

        with self.canvas:
            Color(*(theme.hex_colour("#E4F2E7") if self.key == "success" else
                    theme.hex_colour("#F8E3E1") if self.key in ("error", "cancelled") else DISC))
            Ellipse(pos=(x0, y0), size=(d, d))
            key = self.key
            if key.startswith("face.") and key[5:] in ACTIONS:  # a liveness action (kiosk.widgets.face_pictogram)
                draw_face_action(key[5:], P, u, INK)
            elif key in ("idcard", "id_card"):
                Color(*INK)
                RoundedRectangle(pos=P(14, 14), size=(72 * u, 14 * u), radius=[4 * u])  # reader
                Color(1, 1, 1, 1)
                RoundedRectangle(pos=P(24, 34), size=(52 * u, 34 * u), radius=[4 * u])
                Color(*INK)
                Line(rounded_rectangle=(*P(24, 34), 52 * u, 34 * u, 4 * u), width=max(1.5, 1.6 * u))
                Ellipse(pos=P(58, 44), size=(12 * u, 14 * u))
                for i in range(3):
                    Rectangle(pos=P(30, 58 - i * 8), size=(22 * u, 3 * u))
                Triangle(points=[*P(44, 82), *P(56, 82), *P(50, 74)])  # arrow: down onto the reader
                Rectangle(pos=P(48, 82), size=(4 * u, 8 * u))
            elif key in ("card", "transit_card"):  # a contactless card over the reader's waves
                Color(*INK)
                RoundedRectangle(pos=P(14, 14), size=(72 * u, 12 * u), radius=[4 * u])  # reader
                for r in (10, 18, 26):
                    Line(circle=(*P(50, 30), r * u, -40, 40), width=max(1.5, 1.8 * u))
                RoundedRectangle(pos=P(26, 54), size=(48 * u, 30 * u), radius=[4 * u])
                Color(1, 1, 1, 1)
                Rectangle(pos=P(32, 72), size=(20 * u, 4 * u))
            elif key in ("bp", "blood_pressure"):
                Color(*INK)
                Line(points=[*P(20, 30), *P(50, 50), *P(80, 70)], width=max(3, 9 * u), cap="round")  # forearm
                Color(1, 1, 1, 1)
                RoundedRectangle(pos=P(36, 40), size=(24 * u, 22 * u), radius=[5 * u])  # cuff
                Color(*INK)
                Line(rounded_rectangle=(*P(36, 40), 24 * u, 22 * u, 5 * u), width=max(1.5, 1.6 * u))
                Line(points=[*P(48, 40), *P(48, 24), *P(70, 24)], width=max(1.5, 1.4 * u))
                Line(circle=(*P(76, 24), 7 * u), width=max(1.5, 1.6 * u))  # gauge
            elif key in ("eye", "vision"):
                Color(*INK)
                Line(bezier=[*P(12, 50), *P(50, 84), *P(88, 50)], width=max(2, 2.5 * u))
                Line(bezier=[*P(12, 50), *P(50, 16), *P(88, 50)], width=max(2, 2.5 * u))
                Ellipse(pos=P(37, 37), size=(26 * u, 26 * u))
                Color(1, 1, 1, 1)
                Ellipse(pos=P(52, 52), size=(6 * u, 6 * u))
            elif key in ("camera", "face", "photo"):
                Color(*INK)
                RoundedRectangle(pos=P(18, 28), size=(64 * u, 42 * u), radius=[6 * u])
                Rectangle(pos=P(38, 70), size=(24 * u, 7 * u))
                Color(1, 1, 1, 1)
                Ellipse(pos=P(36, 35), size=(28 * u, 28 * u))
                Color(*INK)
                Ellipse(pos=P(42, 41), size=(16 * u, 16 * u))
            elif key in ("printer", "receipt"):
                Color(*INK)
                RoundedRectangle(pos=P(18, 38), size=(64 * u, 28 * u), radius=[5 * u])
                Color(1, 1, 1, 1)
                Rectangle(pos=P(30, 16), size=(40 * u, 32 * u))
                Color(*INK)
                Line(rectangle=(*P(30, 16), 40 * u, 32 * u), width=max(1.2, 1.2 * u))
                for i in range(3):
                    Rectangle(pos=P(35, 22 + i * 7), size=(30 * u, 2 * u))
            elif key in ("qr", "payment"):
                Color(*INK)
                for gx, gy in ((24, 54), (54, 54), (24, 24)):
                    Line(rectangle=(*P(gx, gy), 22 * u, 22 * u), width=max(1.5, 2 * u))
                    Rectangle(pos=P(gx + 6, gy + 6), size=(10 * u, 10 * u))
                for i, j in ((56, 24), (66, 34), (56, 40), (72, 24), (76, 44)):
                    Rectangle(pos=P(i, j), size=(6 * u, 6 * u))
            elif key in ("hearing", "ear", "sound"):
                Color(*INK)
                Triangle(points=[*P(22, 42), *P(22, 58), *P(44, 72)])
                Triangle(points=[*P(22, 42), *P(44, 28), *P(44, 72)])
                for r in (14, 24):
                    Line(circle=(*P(46, 50), r * u, 50, 130), width=max(1.5, 2 * u))
            elif key in ("height", "stadiometer"):  # a person on the station, the sensor arm over the head
                Color(*INK)
                Rectangle(pos=P(68, 14), size=(6 * u, 72 * u))  # column
                Rectangle(pos=P(46, 80), size=(28 * u, 5 * u))  # sensor arm
                RoundedRectangle(pos=P(24, 12), size=(54 * u, 6 * u), radius=[2 * u])  # base plate
                Ellipse(pos=P(40, 62), size=(14 * u, 14 * u))  # head
                Line(points=[*P(47, 60), *P(47, 36)], width=max(2, 4 * u), cap="round")  # body
                Line(points=[*P(47, 36), *P(40, 18), *P(47, 36), *P(54, 18)], width=max(2, 3 * u), cap="round")
                for y in (74, 78):  # the ultrasonic ping down to the head
                    Line(points=[*P(44, y), *P(50, y)], width=max(1, 1.2 * u))
            elif key == "success":
                Color(*OK)
                Line(points=[*P(28, 52), *P(44, 36), *P(74, 66)], width=max(3, 6 * u), cap="round", joint="round")
            elif key in ("error", "cancelled"):
                Color(*WARN)
                if key == "error":
                    RoundedRectangle(pos=P(45, 40), size=(10 * u, 34 * u), radius=[5 * u])
                    Ellipse(pos=P(44, 22), size=(12 * u, 12 * u))
                else:
                    Line(points=[*P(32, 32), *P(68, 68)], width=max(3, 6 * u), cap="round")
                    Line(points=[*P(32, 68), *P(68, 32)], width=max(3, 6 * u), cap="round")
            elif key == "help":
                Color(*INK)
                Line(circle=(*P(50, 60), 14 * u, -90, 180), width=max(3, 5 * u), cap="round")
                Line(points=[*P(50, 46), *P(50, 38)], width=max(3, 5 * u), cap="round")
                Ellipse(pos=P(45, 20), size=(10 * u, 10 * u))
            elif key == "idle":
                Color(*INK)
                Line(circle=(*P(50, 50), 30 * u), width=max(2, 3 * u))
                Line(points=[*P(50, 50), *P(50, 72)], width=max(2, 3.5 * u), cap="round")
                a = math.radians(30)
                Line(points=[*P(50, 50), *P(50 + 18 * math.cos(a), 50 - 18 * math.sin(a) + 0)], width=max(2, 3.5 * u),
                     cap="round")
