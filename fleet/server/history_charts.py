"""Inline SVG charts of the downsampled health history: a mean line with a min–max band
per figure, and kiosks per app version. Plain SVG (no script, no third-party library), so
the console's strict CSP holds; the colours are attributes, not inline styles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

from fleet.server.health_history import History, VersionHistory

FIGURE_SERIES = (("cpu", "CPU %", "#d62728"), ("mem", "memory %", "#1f77b4"), ("disk", "disk %", "#2ca02c"),
                 ("temp", "temperature °C", "#ff7f0e"))
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f")
PAD_L, PAD_R, PAD_T, PAD_B = 40, 8, 8, 22


def _label(at: dt.datetime, span_s: float) -> str:
    return at.strftime("%Y-%m-%d" if span_s > 3 * 86400 else "%m-%d %H:%M")


class _Frame:
    def __init__(self, start: dt.datetime, end: dt.datetime, top: float, width: int, height: int) -> None:
        self.t0, self.t1 = start.timestamp(), max(end.timestamp(), start.timestamp() + 1)
        self.top, self.w, self.h = max(top, 1e-9), width, height
        self.inner_w, self.inner_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B

    def x(self, at: dt.datetime) -> float:
        return PAD_L + self.inner_w * (at.timestamp() - self.t0) / (self.t1 - self.t0)

    def y(self, value: float) -> float:
        return PAD_T + self.inner_h * (1 - min(max(value, 0.0), self.top) / self.top)

    def axes(self, start: dt.datetime, end: dt.datetime, ticks: Sequence[float]) -> list[str]:
        parts = []
        for tick in ticks:
            y = self.y(tick)
            parts.append(f'<line x1="{PAD_L}" x2="{self.w - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                         f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{tick:g}</text>')
        span = self.t1 - self.t0
        parts.append(f'<text x="{PAD_L}" y="{self.h - 6}" font-size="10">{escape(_label(start, span))}</text>'
                     f'<text x="{self.w - PAD_R}" y="{self.h - 6}" font-size="10" text-anchor="end">'
                     f'{escape(_label(end, span))}</text>')
        return parts


def _svg(label: str, frame: _Frame, body: list[str]) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {frame.w} {frame.h}" '
            f'width="{frame.w}" height="{frame.h}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>")


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="legend-row">' + "".join(
        f'<span class="legend"><svg width="12" height="10"><rect width="12" height="10" fill="{c}"/></svg> '
        f'{escape(label)}</span>' for label, c in items) + "</div>"


def figures_chart(history: History, width: int = 760, height: int = 220) -> Markup:
    """Mean of each figure as a line, its min–max as a pale band (0–100 on the axis)."""
    frame = _Frame(history.start, history.end, 100.0, width, height)
    body = frame.axes(history.start, history.end, (0, 25, 50, 75, 100))
    if not history.points:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no health history in this range</text>')
    for key, label, colour in FIGURE_SERIES:
        points = [(p.at, getattr(p, key)) for p in history.points if getattr(p, key) is not None]
        if not points:
            continue
        if history.resolution != "raw":
            upper = " ".join(f"{frame.x(t):.1f},{frame.y(s.max):.1f}" for t, s in points)
            lower = " ".join(f"{frame.x(t):.1f},{frame.y(s.min):.1f}" for t, s in reversed(points))
            body.append(f'<polygon class="band" data-series="{key}" points="{upper} {lower}" fill="{colour}" '
                        f'fill-opacity="0.15" stroke="none"/>')
        line = " ".join(f"{frame.x(t):.1f},{frame.y(s.mean):.1f}" for t, s in points)
        body.append(f'<polyline class="series" data-series="{key}" fill="none" stroke="{colour}" stroke-width="1.5" '
                    f'points="{line}"><title>{escape(label)} (mean; band: min–max)</title></polyline>')
    return Markup(_svg("health history", frame, body) + _legend([(label, c) for _, label, c in FIGURE_SERIES]))


def versions_chart(history: VersionHistory, width: int = 760, height: int = 220) -> Markup:
    """Kiosks per app version over time, one line each (rollout progress across the fleet)."""
    counts = [n for series in history.versions.values() for n in series]
    top = max(counts, default=1)
    frame = _Frame(history.start, history.end, top, width, height)
    body = frame.axes(history.start, history.end, sorted({0, round(top / 2), top}))
    if not history.buckets:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no version history in this range</text>')
    legend = []
    for i, (version, series) in enumerate(sorted(history.versions.items())):
        colour = PALETTE[i % len(PALETTE)]
        line = " ".join(f"{frame.x(t):.1f},{frame.y(n):.1f}" for t, n in zip(history.buckets, series))
        body.append(f'<polyline class="series" data-version="{escape(version)}" fill="none" stroke="{colour}" '
                    f'stroke-width="1.5" points="{line}"><title>{escape(version)}</title></polyline>')
        legend.append((version, colour))
    return Markup(_svg("kiosks per app version", frame, body) + _legend(legend))


def kiosks_chart(history: History, width: int = 760, height: int = 120) -> Markup:
    """Kiosks that reported in each bucket."""
    top = max((p.kiosks or 0 for p in history.points), default=1) or 1
    frame = _Frame(history.start, history.end, top, width, height)
    body = frame.axes(history.start, history.end, (0, top))
    line = " ".join(f"{frame.x(p.at):.1f},{frame.y(p.kiosks or 0):.1f}" for p in history.points)
    body.append(f'<polyline class="series" data-series="kiosks" fill="none" stroke="#555" stroke-width="1.5" '
                f'points="{line}"><title>kiosks reporting</title></polyline>')
    return Markup(_svg("kiosks reporting", frame, body))
