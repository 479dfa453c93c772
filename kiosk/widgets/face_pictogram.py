"""Pictograms of the liveness actions (`Measuring.pictogram` "face.<action>"): a face doing it.

Drawn as a mirror: the citizen faces the screen, so "turn left" is an arrow to the left of
the picture and the features shift that way, as their own face would in a mirror.
Called by `Illustration` inside its canvas, in its 100×100 drawing units.
"""

from __future__ import annotations

from typing import Callable

from kivy.graphics import Color, Ellipse, Line, Triangle

ACTIONS = ("blink", "turn-left", "turn-right", "nod", "open-mouth")


def draw_face_action(action: str, P: Callable[[float, float], tuple[float, float]], u: float, ink) -> None:
    w = max(1.5, 2.2 * u)
    shift = {"turn-left": -6, "turn-right": 6}.get(action, 0)
    Color(*ink)
    Line(ellipse=(*P(31, 20), 38 * u, 54 * u), width=w)  # head
    ex = (41 + shift, 55 + shift)
    if action == "blink":  # closed lids
        for x in ex:
            Line(points=[*P(x - 4, 58), *P(x, 56), *P(x + 4, 58)], width=w)
    else:
        for x in ex:
            Ellipse(pos=P(x - 2.5, 55.5), size=(5 * u, 5 * u))
    Line(points=[*P(50 + shift, 52), *P(48 + shift * 1.3, 43), *P(51 + shift * 1.3, 42)], width=w)  # nose
    if action == "open-mouth":
        Ellipse(pos=P(44 + shift, 26), size=(12 * u, 10 * u))
    else:
        Line(points=[*P(44 + shift, 33), *P(56 + shift, 33)], width=w)
    if action in ("turn-left", "turn-right"):  # a curved arrow round the side of the head
        left = action == "turn-left"
        x0, x1 = (24, 8) if left else (76, 92)
        Line(points=[*P(x0, 50), *P(x1 + (4 if left else -4), 50)], width=max(2, 3 * u), cap="round")
        tip = [*P(x1, 50), *P(x1 + (7 if left else -7), 56), *P(x1 + (7 if left else -7), 44)]
        Triangle(points=tip)
    elif action == "nod":  # up and down beside the head
        Line(points=[*P(84, 36), *P(84, 64)], width=max(2, 3 * u), cap="round")
        Triangle(points=[*P(84, 72), *P(78, 63), *P(90, 63)])
        Triangle(points=[*P(84, 28), *P(78, 37), *P(90, 37)])
