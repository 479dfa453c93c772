"""Console pages of the long health history: the fleet (kiosks reporting, each figure's
mean with its min–max band over all kiosks, kiosks per app version — how rollouts spread)
and one kiosk, over 6 h … 1 year. They read the downsampled tables
(fleet/server/health_history.py), so a year for 10,000 kiosks is a few hundred rows."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from fleet.server.api import server_of
from fleet.server.console import _render, _who
from fleet.server.health_history import RANGES, fleet_history, kiosk_history, parse_range, version_history
from fleet.server.history_charts import figures_chart, kiosks_chart, versions_chart

router = APIRouter(prefix="/console", include_in_schema=False)


def _span(range_name: str):
    try:
        return parse_range(range_name)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/history", response_class=HTMLResponse)
def fleet_history_page(request: Request, range: str = "30d") -> HTMLResponse:
    who = _who(request)
    span = _span(range)
    with server_of(request).db.session() as session:
        fleet = fleet_history(session, span)
        versions = version_history(session, span)
    latest = fleet.points[-1] if fleet.points else None
    return _render(request, "history.html", who, kiosk_id=None, range=range, ranges=list(RANGES), history=fleet,
                   latest=latest, figures=figures_chart(fleet), kiosks=kiosks_chart(fleet),
                   versions=versions_chart(versions), version_names=sorted(versions.versions))


@router.get("/kiosks/{kiosk_id}/history", response_class=HTMLResponse)
def kiosk_history_page(request: Request, kiosk_id: str, range: str = "7d") -> HTMLResponse:
    who = _who(request)
    span = _span(range)
    with server_of(request).db.session() as session:
        history = kiosk_history(session, kiosk_id, span)
    latest = history.points[-1] if history.points else None
    return _render(request, "history.html", who, kiosk_id=kiosk_id, range=range, ranges=list(RANGES),
                   history=history, latest=latest, figures=figures_chart(history), kiosks=None, versions=None,
                   version_names=[])
