"""Small server-rendered SVG charts for the console (no JavaScript, no CDN).

The console's Content-Security-Policy allows scripts from this origin only, and a plot
an operator reads once a minute needs none: each chart is a string of SVG put into the
page, with a `<title>` on every mark (a tooltip, and what a screen reader says) and a
text table beside it in the page for exact figures. Three kinds:

- `timeline`: cumulative step lines over time with labelled vertical markers (a
  rollout's committed and failed kiosks, wave starts);
- `lines`: one line per series over categorical x labels (sessions per service per day);
- `hbars`: horizontal bars, one row per label, stacked parts (per-wave progress, the
  step funnel, durations).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    points: Sequence[tuple[float, float]]  # (x, y); x in seconds for `timeline`, index for `lines`


@dataclass(frozen=True)
class Part:
    label: str
    colour: str
    value: float


def _open(width: int, height: int, label: str, css: str) -> list[str]:
    return [f'<svg class="chart {css}" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>']


def _nice_max(value: float) -> float:
    """A round axis top at or above `value` (1, 2, 5 × 10^n; a whole number up to 8)."""
    if value <= 0:
        return 1.0
    if value <= 8:
        return float(math.ceil(value))
    scale = 1.0
    while scale * 10 <= value:
        scale *= 10
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale


def _legend(series: Sequence[Series | Part]) -> str:
    items = "".join(f'<span class="legend" style="border-color:{s.colour}">{escape(s.label)}</span>' for s in series)
    return f'<div class="legend-row">{items}</div>'


def _y_grid(parts: list[str], top: float, pad_l: int, pad_t: int, inner_w: int, inner_h: int) -> None:
    steps = int(top) if top <= 8 and top == int(top) else 4  # small counts: a line per whole number
    for i in range(steps + 1):
        value = top * i / steps
        y = pad_t + inner_h * (1 - i / steps)
        parts.append(f'<line x1="{pad_l}" x2="{pad_l + inner_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{value:g}</text>')


def timeline(series: Sequence[Series], start: dt.datetime, end: dt.datetime, *, y_max: float,
             markers: Sequence[tuple[dt.datetime, str]] = (), label: str = "timeline",
             width: int = 720, height: int = 220) -> Markup:
    """Cumulative counts over time as step lines; x points are datetimes' timestamps."""
    pad_l, pad_r, pad_t, pad_b = 40, 12, 14, 22
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    t0, t1 = start.timestamp(), max(end.timestamp(), start.timestamp() + 1)
    top = _nice_max(y_max)
    parts = _open(width, height, label, "timeline")
    _y_grid(parts, top, pad_l, pad_t, inner_w, inner_h)

    def x(t: float) -> float:
        return pad_l + inner_w * (min(max(t, t0), t1) - t0) / (t1 - t0)

    def y(v: float) -> float:
        return pad_t + inner_h * (1 - min(v, top) / top)

    for at, text in markers:
        mx = x(at.timestamp())
        parts.append(f'<line class="marker" x1="{mx:.1f}" x2="{mx:.1f}" y1="{pad_t}" y2="{pad_t + inner_h}" '
                     f'stroke="#888" stroke-dasharray="3,3"/><text x="{mx + 2:.1f}" y="{pad_t - 3}" font-size="10">'
                     f'{escape(text)}</text>')
    for s in series:
        coords = [(x(t0), y(0))]
        last = 0.0
        per_pixel: dict[int, float] = {}  # thousands of kiosks: one step per pixel column is enough
        for t, v in sorted(s.points):
            per_pixel[int(x(t))] = v
        for px, v in per_pixel.items():
            coords += [(px, y(last)), (px, y(v))]
            last = v
        coords.append((x(t1), y(last)))
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(f'<polyline class="series" data-series="{escape(s.label)}" data-last="{last:g}" fill="none" '
                     f'stroke="{s.colour}" stroke-width="2" points="{path}"><title>{escape(s.label)}: {last:g}'
                     f'</title></polyline>')
    fmt = "%H:%M:%S" if t1 - t0 < 86400 else "%m-%d %H:%M"
    parts.append(f'<text x="{pad_l}" y="{height - 6}" font-size="10">{start.astimezone(dt.timezone.utc):{fmt}} UTC</text>'
                 f'<text x="{width - pad_r}" y="{height - 6}" font-size="10" text-anchor="end">'
                 f'{end.astimezone(dt.timezone.utc):{fmt}} UTC</text></svg>')
    return Markup("".join(parts) + _legend(series))


def lines(x_labels: Sequence[str], series: Sequence[Series], *, label: str, width: int = 720,
          height: int = 220) -> Markup:
    """One line per series over categorical x labels (points are (index, value))."""
    pad_l, pad_r, pad_t, pad_b = 40, 12, 10, 22
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    top = _nice_max(max((v for s in series for _, v in s.points), default=0))
    parts = _open(width, height, label, "lines")
    _y_grid(parts, top, pad_l, pad_t, inner_w, inner_h)
    n = max(len(x_labels), 1)

    def x(i: float) -> float:
        return pad_l + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    if not series:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no sessions in this period</text>')
    for s in series:
        path = " ".join(f"{x(i):.1f},{pad_t + inner_h * (1 - v / top):.1f}" for i, v in s.points)
        parts.append(f'<polyline class="series" data-series="{escape(s.label)}" fill="none" stroke="{s.colour}" '
                     f'stroke-width="2" points="{path}"><title>{escape(s.label)}</title></polyline>')
        for i, v in s.points:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{pad_t + inner_h * (1 - v / top):.1f}" r="2.5" fill="{s.colour}">'
                         f'<title>{escape(s.label)} {escape(x_labels[int(i)])}: {v:g}</title></circle>')
    step = max(1, n // 8)
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
                     f'{escape(x_labels[i])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts) + _legend(series))


def hbars(rows: Sequence[tuple[str, Sequence[Part]]], *, label: str, scale_max: float | None = None,
          unit: str = "", width: int = 720, row_h: int = 22, label_w: int = 170) -> Markup:
    """Horizontal stacked bars, one row per (label, parts); the value is written after the bar."""
    pad_t, pad_r = 6, 70
    height = pad_t * 2 + row_h * max(len(rows), 1)
    inner_w = width - label_w - pad_r
    top = scale_max or max((sum(p.value for p in parts) for _, parts in rows), default=0) or 1
    out = _open(width, height, label, "hbars")
    if not rows:
        out.append(f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle">nothing to show</text>')
    for i, (name, parts) in enumerate(rows):
        y = pad_t + i * row_h
        out.append(f'<g class="bar" data-label="{escape(name)}"><text x="{label_w - 6}" y="{y + row_h * 0.65:.1f}" '
                   f'font-size="11" text-anchor="end">{escape(name)}</text>')
        x = float(label_w)
        for part in parts:
            w = inner_w * part.value / top if top else 0
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{part.colour}">'
                           f'<title>{escape(name)} · {escape(part.label)}: {part.value:g}{unit}</title></rect>')
            x += w
        total = sum(p.value for p in parts)
        out.append(f'<text x="{x + 4:.1f}" y="{y + row_h * 0.65:.1f}" font-size="11">{total:g}{unit}</text></g>')
    out.append("</svg>")
    legend_parts = {p.label: p for _, parts in rows for p in parts}
    return Markup("".join(out) + (_legend(list(legend_parts.values())) if len(legend_parts) > 1 else ""))
