"""Console page: service statistics — what the kiosks are for.

Sessions per service per day, per district and per kiosk; completion rate; the funnel of
the steps where citizens give up; median and p90 duration per service; device faults per
1,000 sessions. Plots are server-rendered SVG (`fleet.server.charts`), every figure is
also in a table, and every table can be downloaded as CSV with the same selection
(``/console/stats.csv?table=…``). Any logged-in role may read them: they hold counts only.

The page first folds in the flow events that arrived since the last tick
(`StatsAggregator.tick`), so what a manager sees includes the session that just ended.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from fleet.server import charts
from fleet.server.api import server_of
from fleet.server.console import _render, _who
from fleet.server.stats_query import (CSV_PARTS, CSV_TABLES, PARTS, Stats, StatsQuery, csv_rows, districts, load,
                                      sessions_by_day)

router = APIRouter(prefix="/console", include_in_schema=False)
CHART_DAYS = 14  # the daily chart shows at least this many days up to the last day chosen
PRESETS = (("today", "Today", 0), ("7d", "Last 7 days", 6), ("30d", "Last 30 days", 29))


def _query(request: Request) -> tuple[StatsQuery, str]:
    """The selection from the query string (today by default) and a message if some was bad."""
    params = request.query_params
    today = server_of(request).stats.today()
    preset = next((days for key, _, days in PRESETS if key == params.get("range")), None)
    start, end = (today - dt.timedelta(days=preset), today) if preset is not None else (today, today)
    try:
        if params.get("start") or params.get("end"):
            start = dt.date.fromisoformat(params.get("start") or params.get("end"))
            end = dt.date.fromisoformat(params.get("end") or params.get("start"))
        return StatsQuery(start=start, end=end, district=params.get("district", ""), flow=params.get("flow", ""),
                          kiosk=params.get("kiosk", "")), ""
    except (ValueError, ValidationError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        return StatsQuery(start=today, end=today), f"Showing today instead: {message.removeprefix('Value error, ')}"


def _load(request: Request, q: StatsQuery) -> tuple[Stats, dict]:
    server = server_of(request)
    server.stats.tick()  # include what arrived since the last tick
    chart_q = q.model_copy(update={"start": min(q.start, q.end - dt.timedelta(days=CHART_DAYS - 1))})
    with server.db.session() as session:
        stats = load(session, q, parts=PARTS - {"days"})
        return stats, {"by_day": sessions_by_day(session, chart_q), "start": chart_q.start,
                       "districts": districts(session)}


def _load_table(request: Request, q: StatsQuery, table: str) -> Stats:
    server = server_of(request)
    server.stats.tick()
    with server.db.session() as session:
        return load(session, q, kiosk_limit=None, parts=CSV_PARTS[table])


def _colours(services: list[str]) -> dict[str, str]:
    return {flow: charts.PALETTE[i % len(charts.PALETTE)] for i, flow in enumerate(sorted(services))}


def _plots(stats: Stats, chart: dict, q: StatsQuery) -> dict[str, charts.Markup]:
    services = stats.services
    colour = _colours(list(set(services) | {f for d in chart["by_day"].values() for f in d}))
    days = [chart["start"] + dt.timedelta(days=i) for i in range((q.end - chart["start"]).days + 1)]
    daily = [charts.Series(flow, colour[flow], [(i, chart["by_day"].get(day, {}).get(flow, 0))
                                                for i, day in enumerate(days)])
             for flow in sorted({f for d in chart["by_day"].values() for f in d})]
    by_district = [(d, [charts.Part(f, colour[f], stats.by_district_service.get((d, f), 0)) for f in services])
                   for d in stats.districts if stats.by_district[d].sessions]
    durations = [(f, [charts.Part("median", "#1f77b4", round(stats.by_service[f].median_s or 0, 1)),
                      charts.Part("p90 beyond the median", "#aec7e8",
                                  round((stats.by_service[f].p90_s or 0) - (stats.by_service[f].median_s or 0), 1))])
                 for f in services]
    completion = [(f, [charts.Part("completed", "#2ca02c", stats.by_service[f].completed),
                       charts.Part("abandoned", "#d62728", stats.by_service[f].aborted)]) for f in services]
    faults = [(d, [charts.Part("faults per 1,000 sessions", "#9467bd", round(stats.by_district[d].faults_per_1000 or 0, 1))])
              for d in stats.districts if stats.by_district[d].sessions]
    return {
        "daily": charts.lines([d.strftime("%m-%d") for d in days], daily, label="sessions per service per day"),
        "districts": charts.hbars(by_district, label="sessions per district, by service"),
        "durations": charts.hbars(durations, label="median and p90 duration per service", unit=" s"),
        "completion": charts.hbars(completion, label="completed and abandoned sessions per service"),
        "faults": charts.hbars(faults, label="device faults per 1,000 sessions, per district"),
        "funnels": {flow: charts.hbars([(f"{s.step_no}. {s.step}", [
            charts.Part("went on", "#c7e9c0", s.reached - s.abandoned), charts.Part("gave up here", "#d62728", s.abandoned)])
            for s in steps], label=f"{flow}: sessions reaching each step and giving up there")
            for flow, steps in stats.funnels.items()},
    }


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(request: Request) -> HTMLResponse:
    who = _who(request)
    q, message = _query(request)
    stats, chart = await run_in_threadpool(_load, request, q)
    selection = {k: v for k, v in {"start": q.start.isoformat(), "end": q.end.isoformat(), "district": q.district,
                                   "flow": q.flow, "kiosk": q.kiosk}.items() if v}
    today = server_of(request).stats.today()
    return _render(request, "stats.html", who, s=stats, q=q, message=message, plots=_plots(stats, chart, q),
                   districts=chart["districts"], presets=PRESETS, tables=CSV_TABLES, today=today,
                   is_today=q.start == q.end == today, csv_query=urlencode(selection))


@router.get("/stats.csv")
async def stats_csv(request: Request, table: str = "services") -> Response:
    _who(request)  # logged in: any role
    if table not in CSV_TABLES:
        raise HTTPException(404, f"no table {table!r}; one of {', '.join(CSV_TABLES)}")
    q, message = _query(request)
    if message:
        raise HTTPException(422, message)
    stats = await run_in_threadpool(_load_table, request, q, table)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(csv_rows(stats, table))
    name = f"kiosk-stats-{table}-{q.start.isoformat()}-{q.end.isoformat()}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
