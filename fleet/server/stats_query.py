"""Reading the service statistics: one selection (days, district, service, kiosk) in,
the tables the console shows and the CSV exports out.

Days are local days (`StatsAggregator.tz`). A selection reaching back past the daily
retention uses the monthly rows of the months it touches (whole months: the daily detail
is gone). A kiosk's district is where it stands now (`KioskSite`, the operators'
registry); a kiosk with no registered site is counted under "(no district)".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from fleet.server.models import DeviceFaultDaily, KioskSite, ServiceAbandon, ServiceDaily
from fleet.server.stats import DAY, HIST, MONTH, percentile

NO_DISTRICT = "(no district)"


class StatsQuery(BaseModel):
    """A selection of the statistics; empty strings mean "all"."""

    start: dt.date
    end: dt.date
    district: str = Field(default="", max_length=64)
    flow: str = Field(default="", max_length=64)
    kiosk: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _order(self) -> StatsQuery:
        if self.end < self.start:
            raise ValueError("the last day is before the first")
        if (self.end - self.start).days > 3700:
            raise ValueError("at most ten years at a time")
        return self


@dataclass
class Totals:
    sessions: int = 0
    completed: int = 0
    aborted: int = 0
    duration_n: int = 0
    duration_sum_s: float = 0.0
    hist: list[int] = field(default_factory=lambda: [0] * len(HIST))
    faults: int = 0

    @classmethod
    def of(cls, values) -> Totals:
        """From a row of `_SUMS` (the database's sums; missing ones count as 0)."""
        values = [v or 0 for v in values] + [0] * (5 + len(HIST) - len(values))
        return cls(int(values[0]), int(values[1]), int(values[2]), int(values[3]), float(values[4]),
                   [int(v) for v in values[5:5 + len(HIST)]])

    def add(self, other: Totals) -> None:
        self.sessions += other.sessions
        self.completed += other.completed
        self.aborted += other.aborted
        self.duration_n += other.duration_n
        self.duration_sum_s += other.duration_sum_s
        self.hist = [a + b for a, b in zip(self.hist, other.hist)]
        self.faults += other.faults

    @property
    def completion_percent(self) -> float | None:
        finished = self.completed + self.aborted
        return 100.0 * self.completed / finished if finished else None

    @property
    def median_s(self) -> float | None:
        return percentile(self.hist, 0.5)

    @property
    def p90_s(self) -> float | None:
        return percentile(self.hist, 0.9)

    @property
    def faults_per_1000(self) -> float | None:
        return 1000.0 * self.faults / self.sessions if self.sessions else None


@dataclass
class FunnelStep:
    step: str
    step_no: int
    abandoned: int
    reached: int  # sessions that got at least this far
    reasons: dict[str, int]


@dataclass
class Stats:
    query: StatsQuery
    total: Totals
    by_service: dict[str, Totals]
    by_district: dict[str, Totals]
    by_district_service: dict[tuple[str, str], int]  # (district, flow) -> sessions
    by_kiosk: dict[str, Totals]  # the `kiosk_limit` kiosks with the most sessions
    by_day: dict[dt.date, dict[str, int]]  # day -> flow -> sessions
    funnels: dict[str, list[FunnelStep]]  # flow -> steps in flow order
    faults_by_device: dict[str, int]
    sites: dict[str, KioskSite]  # of the kiosks in by_kiosk
    monthly: bool  # some of the selection came from monthly rows
    kiosk_count: int = 0  # kiosks with sessions in the selection

    @property
    def services(self) -> list[str]:
        return sorted(self.by_service, key=lambda f: -self.by_service[f].sessions)

    @property
    def districts(self) -> list[str]:
        return sorted(self.by_district, key=lambda d: (d == NO_DISTRICT, d))


_SUMS = [func.sum(ServiceDaily.sessions), func.sum(ServiceDaily.completed), func.sum(ServiceDaily.aborted),
         func.sum(ServiceDaily.duration_n), func.sum(ServiceDaily.duration_sum_s),
         *[func.sum(getattr(ServiceDaily, h)) for h in HIST]]


def _period_filter(model, start: dt.date, end: dt.date, daily_from: dt.date | None):
    """Daily rows in [start, end]; monthly rows for the months before the daily ones start."""
    daily = and_(model.period == DAY, model.day >= start, model.day <= end)
    if daily_from is None or start >= daily_from:
        return daily
    monthly = and_(model.period == MONTH, model.day >= start.replace(day=1), model.day < daily_from)
    return or_(daily, monthly)


def _earliest_daily(session: Session) -> dt.date | None:
    return session.scalar(select(ServiceDaily.day).where(ServiceDaily.period == DAY).order_by(ServiceDaily.day).limit(1))


class _Selection:
    """The WHERE (and, when needed, the join to the site registry) for one of the tables."""

    def __init__(self, q: StatsQuery, daily_from: dt.date | None) -> None:
        self.q, self.daily_from = q, daily_from

    def district(self):
        return func.coalesce(func.nullif(KioskSite.district, ""), NO_DISTRICT)

    def select(self, model, *columns, flow: bool = True, join: bool = False):
        query = select(*columns).select_from(model)
        if join or self.q.district:  # the registry only when a district is asked for
            query = query.outerjoin(KioskSite, KioskSite.kiosk_id == model.kiosk_id)
        query = query.where(_period_filter(model, self.q.start, self.q.end, self.daily_from))
        if self.q.kiosk:
            query = query.where(model.kiosk_id == self.q.kiosk)
        if self.q.district:
            query = query.where(self.district() == self.q.district)
        if flow and self.q.flow and hasattr(model, "flow"):
            query = query.where(model.flow == self.q.flow)
        return query


PARTS = frozenset({"summary", "days", "kiosks", "funnel", "faults"})
CSV_PARTS = {"services": {"summary"}, "districts": {"summary"}, "kiosks": {"kiosks"}, "days": {"days"},
             "funnel": {"summary", "funnel"}, "faults": {"summary", "faults"}}


def load(session: Session, q: StatsQuery, *, kiosk_limit: int | None = 50, parts=PARTS) -> Stats:
    """The figures of the statistics page for selection `q` (only `parts` of them); the
    database adds up, one GROUP BY per part, and the coarser sums are added here."""
    daily_from = _earliest_daily(session)
    sel = _Selection(q, daily_from)
    district = sel.district().label("district")
    stats = Stats(q, Totals(), {}, {}, {}, {}, {}, {}, {}, {}, False)
    if "summary" in parts:  # district × service: everything else of the summary is a sum of it
        query = sel.select(ServiceDaily, district, ServiceDaily.flow, *_SUMS, join=True) \
            .group_by(district, ServiceDaily.flow)
        for name, flow, *sums in session.execute(query):
            cell = Totals.of(sums)
            stats.by_district_service[(name, flow)] = cell.sessions
            for totals in (stats.total, stats.by_service.setdefault(flow, Totals()),
                           stats.by_district.setdefault(name, Totals())):
                totals.add(cell)
        stats.kiosk_count = int(session.scalar(sel.select(ServiceDaily, func.count(func.distinct(ServiceDaily.kiosk_id))))
                                or 0)
        if daily_from is not None and q.start < daily_from:
            stats.monthly = bool(session.scalar(sel.select(ServiceDaily, func.count())
                                                .where(ServiceDaily.period == MONTH)))
    if "days" in parts:
        stats.by_day = _by_day(session, sel)
    if "kiosks" in parts:
        # The page's busiest kiosks: counts only, from the covering index; the CSV of every
        # kiosk also sums the duration histogram (median per kiosk).
        sums = _SUMS if not kiosk_limit else _SUMS[:3]
        per_kiosk = sel.select(ServiceDaily, ServiceDaily.kiosk_id, *sums).group_by(ServiceDaily.kiosk_id) \
            .order_by(func.sum(ServiceDaily.sessions).desc(), ServiceDaily.kiosk_id)
        if kiosk_limit:
            per_kiosk = per_kiosk.limit(kiosk_limit)
        for kiosk_id, *sums in session.execute(per_kiosk):
            stats.by_kiosk[kiosk_id] = Totals.of(sums)
        ids = list(stats.by_kiosk)
        faults = sel.select(DeviceFaultDaily, DeviceFaultDaily.kiosk_id, func.sum(DeviceFaultDaily.faults), flow=False) \
            .group_by(DeviceFaultDaily.kiosk_id)
        sites = select(KioskSite)
        if kiosk_limit:
            faults, sites = faults.where(DeviceFaultDaily.kiosk_id.in_(ids)), sites.where(KioskSite.kiosk_id.in_(ids))
        for kiosk_id, n in session.execute(faults):
            if kiosk_id in stats.by_kiosk:
                stats.by_kiosk[kiosk_id].faults = int(n or 0)
        stats.sites = {site.kiosk_id: site for site in session.scalars(sites) if site.kiosk_id in stats.by_kiosk}
    if "funnel" in parts:
        _funnels(session, sel, stats)
    if "faults" in parts:
        query = sel.select(DeviceFaultDaily, district, DeviceFaultDaily.device, func.sum(DeviceFaultDaily.faults),
                           flow=False, join=True).group_by(district, DeviceFaultDaily.device)
        for name, device, n in session.execute(query):
            n = int(n or 0)
            stats.total.faults += n
            stats.by_district.setdefault(name, Totals()).faults += n
            stats.faults_by_device[device] = stats.faults_by_device.get(device, 0) + n
    return stats


def _funnels(session: Session, sel: _Selection, stats: Stats) -> None:
    steps: dict[str, dict[str, FunnelStep]] = {}
    abandons = sel.select(ServiceAbandon, ServiceAbandon.flow, ServiceAbandon.step, ServiceAbandon.reason,
                          func.max(ServiceAbandon.step_no), func.sum(ServiceAbandon.count)) \
        .group_by(ServiceAbandon.flow, ServiceAbandon.step, ServiceAbandon.reason)
    for flow, name, reason, step_no, count in session.execute(abandons):
        step = steps.setdefault(flow, {}).setdefault(name, FunnelStep(name, 0, 0, 0, {}))
        step.abandoned += int(count or 0)
        step.step_no = max(step.step_no, int(step_no or 0))
        step.reasons[reason] = step.reasons.get(reason, 0) + int(count or 0)
    for flow, by_step in steps.items():
        left = stats.by_service.get(flow, Totals()).sessions
        stats.funnels[flow] = ordered = sorted(by_step.values(), key=lambda s: (s.step_no, s.step))
        for step in ordered:
            step.reached = left
            left -= step.abandoned


def _by_day(session: Session, sel: _Selection) -> dict[dt.date, dict[str, int]]:
    out: dict[dt.date, dict[str, int]] = {}
    for day, flow, n in session.execute(sel.select(ServiceDaily, ServiceDaily.day, ServiceDaily.flow,
                                                   func.sum(ServiceDaily.sessions))
                                        .group_by(ServiceDaily.day, ServiceDaily.flow)):
        out.setdefault(day, {})[flow] = int(n or 0)
    return out


def sessions_by_day(session: Session, q: StatsQuery) -> dict[dt.date, dict[str, int]]:
    """Sessions per day and service only (the page's line chart, over a longer range)."""
    return _by_day(session, _Selection(q, _earliest_daily(session)))


def districts(session: Session) -> list[str]:
    """Districts of the registry, for the page's filter."""
    return sorted({d for d in session.scalars(select(KioskSite.district).distinct()) if d})


# ------------------------------------------------------------------ CSV tables


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def csv_rows(stats: Stats, table: str) -> list[list[str]]:
    """One of the page's tables as rows for CSV (first row: the header)."""
    q = stats.query
    period = f"{q.start.isoformat()}..{q.end.isoformat()}"
    if table == "services":
        rows = [["period", "service", "sessions", "completed", "aborted", "completion_percent", "median_s", "p90_s"]]
        rows += [[period, flow, str(t.sessions), str(t.completed), str(t.aborted), _fmt(t.completion_percent),
                  _fmt(t.median_s), _fmt(t.p90_s)] for flow, t in ((f, stats.by_service[f]) for f in stats.services)]
    elif table == "districts":
        rows = [["period", "district", "service", "sessions"]]
        rows += [[period, d, f, str(n)] for (d, f), n in sorted(stats.by_district_service.items())]
    elif table == "kiosks":
        rows = [["period", "kiosk_id", "district", "hall", "sessions", "completed", "aborted", "completion_percent",
                 "median_s", "device_faults", "faults_per_1000_sessions"]]
        for kiosk_id, t in sorted(stats.by_kiosk.items()):
            site = stats.sites.get(kiosk_id)
            rows.append([period, kiosk_id, site.district if site else "", site.hall if site else "", str(t.sessions),
                         str(t.completed), str(t.aborted), _fmt(t.completion_percent), _fmt(t.median_s),
                         str(t.faults), _fmt(t.faults_per_1000)])
    elif table == "days":
        rows = [["day", "service", "sessions"]]
        rows += [[day.isoformat(), f, str(n)] for day in sorted(stats.by_day) for f, n in sorted(stats.by_day[day].items())]
    elif table == "funnel":
        rows = [["period", "service", "step_no", "step", "reached", "abandoned", "reason", "count"]]
        for flow, steps in sorted(stats.funnels.items()):
            for s in steps:
                for reason, n in sorted(s.reasons.items()):
                    rows.append([period, flow, str(s.step_no), s.step, str(s.reached), str(s.abandoned), reason, str(n)])
    elif table == "faults":
        rows = [["period", "district", "sessions", "device_faults", "faults_per_1000_sessions"]]
        rows += [[period, d, str(t.sessions), str(t.faults), _fmt(t.faults_per_1000)]
                 for d, t in ((d, stats.by_district[d]) for d in stats.districts)]
    else:
        raise ValueError(f"no table {table!r}")
    return rows


CSV_TABLES = ("services", "districts", "kiosks", "days", "funnel", "faults")
