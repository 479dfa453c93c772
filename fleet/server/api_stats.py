"""REST API of the service statistics: `GET /api/stats` answers the console's statistics
page as JSON (the same selection, the same figures), for scripts and other dashboards.
Any role may read it: counts only, no personal data (docs/console-stats.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from fleet.server.api import Viewer, server_of
from fleet.server.stats_query import Stats, StatsQuery, Totals, load

router = APIRouter(prefix="/api", tags=["statistics"])


class Figures(BaseModel):
    sessions: int
    completed: int
    aborted: int
    completion_percent: float | None
    median_s: float | None
    p90_s: float | None
    device_faults: int
    faults_per_1000_sessions: float | None

    @classmethod
    def of(cls, t: Totals) -> Figures:
        return cls(sessions=t.sessions, completed=t.completed, aborted=t.aborted,
                   completion_percent=t.completion_percent, median_s=t.median_s, p90_s=t.p90_s,
                   device_faults=t.faults, faults_per_1000_sessions=t.faults_per_1000)


class FunnelStepView(BaseModel):
    step_no: int
    step: str
    reached: int
    abandoned: int
    reasons: dict[str, int]


class StatsView(BaseModel):
    start: dt.date
    end: dt.date
    district: str
    flow: str
    kiosk: str
    monthly: bool  # part of the period is counted by whole months (older than the daily detail)
    total: Figures
    services: dict[str, Figures]
    districts: dict[str, Figures]
    district_services: dict[str, dict[str, int]]  # district -> service -> sessions
    funnels: dict[str, list[FunnelStepView]]
    faults_by_device: dict[str, int]


def stats_view(s: Stats) -> StatsView:
    by_district: dict[str, dict[str, int]] = {}
    for (district, flow), n in s.by_district_service.items():
        by_district.setdefault(district, {})[flow] = n
    q = s.query
    return StatsView(start=q.start, end=q.end, district=q.district, flow=q.flow, kiosk=q.kiosk, monthly=s.monthly,
                     total=Figures.of(s.total), services={f: Figures.of(s.by_service[f]) for f in s.services},
                     districts={d: Figures.of(s.by_district[d]) for d in s.districts}, district_services=by_district,
                     funnels={f: [FunnelStepView(step_no=x.step_no, step=x.step, reached=x.reached, abandoned=x.abandoned,
                                                 reasons=x.reasons) for x in steps] for f, steps in s.funnels.items()},
                     faults_by_device=s.faults_by_device)


@router.get("/stats", response_model=StatsView)
async def get_stats(request: Request, who: Viewer, start: dt.date | None = None, end: dt.date | None = None,
                    district: Annotated[str, Query(max_length=64)] = "", flow: Annotated[str, Query(max_length=64)] = "",
                    kiosk: Annotated[str, Query(max_length=64)] = "") -> StatsView:
    """Service statistics for local days `start`..`end` (default: today in the server's
    statistics time zone), optionally one district, service or kiosk."""
    server = server_of(request)
    today = server.stats.today()
    try:
        q = StatsQuery(start=start or end or today, end=end or start or today, district=district, flow=flow, kiosk=kiosk)
    except ValidationError as exc:
        raise HTTPException(422, str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None

    def work() -> StatsView:
        server.stats.tick()
        with server.db.session() as session:
            return stats_view(load(session, q, parts={"summary", "funnel", "faults"}))

    return await run_in_threadpool(work)
