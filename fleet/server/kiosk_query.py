"""The kiosk list for a big fleet: search, filters, sort and paging done by the database.

`KioskQuery` is what the console's kiosk page and `GET /api/kiosks/search` are asked
(a typed model, so a bad filter is a clear 422 rather than a silent empty list);
`search()` answers one page with its total and the region → district grouping.

Everything a filter needs is computed in SQL from the stored rows, so 10,000 kiosks cost
one indexed pass, not 10,000 Python objects:
- status: `online` flag plus missed heartbeats, the same rule as
  `alerts.silent_too_long` (one expression per dialect: SQLite's julianday, PostgreSQL's
  epoch);
- device state: the open device alerts ingest keeps in step with each health message;
- labels: the tags array of `kiosk_labels`; open alerts: an EXISTS on `alerts`
  (index ix_alerts_cleared).
Only the rows of the page shown are turned into `KioskRow`s (`views._summary_fields`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal
from urllib.parse import urlencode

import orjson
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Select, Text, case, cast, exists, func, literal, or_, select, text
from sqlalchemy.orm import Session, defer

from fleet.protocol import DeviceKind
from fleet.server import views
from fleet.server.models import Alert, Kiosk, KioskLabel, KioskSite, UtcDateTime

STATUSES = ("online", "silent", "offline")
DEVICE_STATES = ("fault", "paper_low", "paper_out")  # fault: fault or absent; paper_low: near end or out
SortKey = Literal["id", "name", "hall", "district", "status", "last_seen", "version", "alerts"]
PER_PAGE = (25, 50, 100)
_TAG = r"[A-Za-z0-9_.:-]{1,64}"
_DEVICE = r"^(any|" + "|".join(k.value for k in DeviceKind) + r"):(" + "|".join(DEVICE_STATES) + r")$"


class KioskQuery(BaseModel):
    """One request of the kiosk list; empty strings mean "no filter"."""

    q: str = Field(default="", max_length=100, description="part of the kiosk id, name or hall")
    status: Literal["", "online", "silent", "offline"] = ""
    version: str = Field(default="", max_length=64)
    region: str = Field(default="", max_length=64)
    district: str = Field(default="", max_length=64)
    label: str = Field(default="", pattern=rf"^$|^{_TAG}$", description="a tag, or group:NAME")
    device: str = Field(default="", pattern=r"^$|" + _DEVICE, description="KIND:STATE, KIND may be 'any'")
    alerts: Literal["", "open", "critical", "unacked", "none"] = ""
    sort: SortKey = "id"
    order: Literal["asc", "desc"] = "asc"
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=10, le=100)

    @classmethod
    def from_params(cls, params: dict[str, str]) -> tuple[KioskQuery, list[str]]:
        """A query from a page's query string, dropping each invalid field with a message
        (the console shows them; the API refuses instead)."""
        values = {k: v.strip() for k, v in params.items() if k in cls.model_fields}
        try:
            return cls.model_validate(values), []
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err.get("loc")}
            messages = [f"{err['loc'][0]}: {err['msg']}" for err in exc.errors() if err.get("loc")]
            return cls.model_validate({k: v for k, v in values.items() if k not in bad}), messages

    def params(self, **changes: object) -> dict[str, str]:
        """The non-default fields (with `changes`) as query-string values."""
        data = self.model_dump()
        data.update(changes)
        defaults = KioskQuery().model_dump()
        return {k: str(v) for k, v in data.items() if v != defaults[k] and v not in ("", None)}

    def url(self, **changes: object) -> str:
        qs = urlencode(self.params(**changes))
        return f"?{qs}" if qs else "?"

    @property
    def filtered(self) -> bool:
        return any(getattr(self, f) for f in ("q", "status", "version", "region", "district", "label", "device", "alerts"))


class KioskRow(views.KioskSummary):
    name: str = ""
    hall: str = ""
    district: str = ""
    region: str = ""


class DistrictCount(BaseModel):
    region: str
    district: str
    total: int
    online: int
    alerting: int


class KioskPage(BaseModel):
    query: KioskQuery
    total: int
    page: int
    pages: int
    rows: list[KioskRow]
    groups: list[DistrictCount]  # over every filter except region and district
    status_counts: dict[str, int]  # over every filter except status


class Facets(BaseModel):
    """The values the filter menus offer."""

    versions: list[str]
    tags: list[str]
    groups: list[str]
    device_options: list[tuple[str, str]]


# ------------------------------------------------------------------ SQL pieces (per dialect)


def status_expr(dialect: str, now: dt.datetime, default_heartbeat_s: float, missed: int):
    """`online` / `silent` / `offline` in SQL, as `views.kiosk_status` decides it."""
    interval = case((Kiosk.heartbeat_s > 0, Kiosk.heartbeat_s), else_=literal(float(default_heartbeat_s)))
    now_value = literal(now, UtcDateTime())
    if dialect == "sqlite":
        age = (func.julianday(now_value) - func.julianday(Kiosk.last_seen)) * 86400.0
    else:
        age = func.extract("epoch", now_value - Kiosk.last_seen)
    return case((Kiosk.online.is_not(True), "offline"), (Kiosk.last_seen.is_(None), "online"),
                (age > interval * missed, "silent"), else_="online")


def _device_clause(spec: str):
    """Device state through the open alerts: ingest keeps a `device_fault` alert open per
    device in fault or absent, and `paper_low` / `paper_out` per printer, from every health
    message (`alerts.health_conditions`), on an index; reading 10,000 health messages' JSON
    instead costs ~120 ms per query on SQLite."""
    kind, state = spec.split(":", 1)
    alert_kinds = {"fault": ("device_fault",), "paper_low": ("paper_low", "paper_out"), "paper_out": ("paper_out",)}[state]
    extra = [Alert.kind.in_(alert_kinds)]
    if kind != "any":
        extra.append(Alert.device == kind)
    return _open_alerts(*extra)


def _tag_clause(dialect: str, tag: str):
    if dialect == "sqlite":
        sql = "EXISTS (SELECT 1 FROM json_each(kiosk_labels.tags) AS t WHERE t.value = :tag)"
    else:
        sql = ("EXISTS (SELECT 1 FROM json_array_elements_text(CASE WHEN json_typeof(kiosk_labels.tags) = 'array' "
               "THEN kiosk_labels.tags ELSE '[]'::json END) AS t(value) WHERE t.value = :tag)")
    return text(sql).bindparams(tag=tag)


def _open_alerts(*extra):
    return exists().where(Alert.kiosk_id == Kiosk.kiosk_id, Alert.cleared_at.is_(None), *extra)


def _alert_count():
    return (select(func.count(Alert.id)).where(Alert.kiosk_id == Kiosk.kiosk_id, Alert.cleared_at.is_(None))
            .correlate(Kiosk).scalar_subquery())


class _Builder:
    """The WHERE clauses of a query; `skip` leaves some out (for the grouping counts)."""

    def __init__(self, session: Session, query: KioskQuery, heartbeat_s: float, missed: int,
                 now: dt.datetime | None = None) -> None:
        self.dialect = session.get_bind().dialect.name
        self.query = query
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self.status = status_expr(self.dialect, self.now, heartbeat_s, missed)

    def select(self, *columns) -> Select:
        stmt = select(*columns).select_from(Kiosk).outerjoin(KioskSite, KioskSite.kiosk_id == Kiosk.kiosk_id)
        if self.query.label:  # the labels table only when a label filter needs it
            stmt = stmt.outerjoin(KioskLabel, KioskLabel.kiosk_id == Kiosk.kiosk_id)
        return stmt

    def where(self, stmt: Select, skip: tuple[str, ...] = ()) -> Select:
        q = self.query
        if q.q and "q" not in skip:
            stmt = stmt.where(or_(*(self._contains(column, q.q) for column in (Kiosk.kiosk_id, KioskSite.name, KioskSite.hall))))
        if q.status and "status" not in skip:
            stmt = stmt.where(self.status == q.status)
        if q.version:
            stmt = stmt.where(Kiosk.app_version.is_(None) if q.version == "(none)" else Kiosk.app_version == q.version)
        if q.region and "region" not in skip:
            stmt = stmt.where(func.coalesce(KioskSite.region, "") == _blank(q.region))
        if q.district and "district" not in skip:
            stmt = stmt.where(func.coalesce(KioskSite.district, "") == _blank(q.district))
        if q.label:
            if q.label.startswith("group:"):
                stmt = stmt.where(KioskLabel.group == q.label[6:])
            else:
                stmt = stmt.where(_tag_clause(self.dialect, q.label))
        if q.device:
            stmt = stmt.where(_device_clause(q.device))
        if q.alerts == "open":
            stmt = stmt.where(_open_alerts())
        elif q.alerts == "critical":
            stmt = stmt.where(_open_alerts(Alert.severity == "critical"))
        elif q.alerts == "unacked":
            stmt = stmt.where(_open_alerts(Alert.acknowledged_by.is_(None)))
        elif q.alerts == "none":
            stmt = stmt.where(~_open_alerts())
        return stmt

    def _contains(self, column, value: str):
        """Case-insensitive substring: SQLite's LIKE already ignores ASCII case (lower() on
        every row would cost a third of the query), PostgreSQL needs ILIKE."""
        pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return column.like(pattern, escape="\\") if self.dialect == "sqlite" else column.ilike(pattern, escape="\\")

    def order(self, stmt: Select) -> Select:
        key = {"id": Kiosk.kiosk_id, "name": KioskSite.name, "hall": KioskSite.hall, "district": KioskSite.district,
               "status": case((self.status == "offline", 0), (self.status == "silent", 1), else_=2),
               "last_seen": Kiosk.last_seen, "version": Kiosk.app_version, "alerts": _alert_count()}[self.query.sort]
        key = key.desc() if self.query.order == "desc" else key.asc()
        if self.query.sort in ("name", "hall", "district", "last_seen", "version"):
            key = key.nulls_last()
        return stmt.order_by(key, Kiosk.kiosk_id)


NO_SITE = "(none)"  # the region/district value that selects kiosks without a registered site


def _blank(value: str) -> str:
    return "" if value == NO_SITE else value


def search(session: Session, query: KioskQuery, heartbeat_s: float, missed: int,
           now: dt.datetime | None = None) -> KioskPage:
    """One page of the kiosk list with its total, the grouping and the status counts."""
    b = _Builder(session, query, heartbeat_s, missed, now)
    groups, status_counts, total = _counts(session, b)
    pages = max(1, math.ceil(total / query.per_page))
    page = min(query.page, pages)
    ids = list(session.scalars(b.order(b.where(b.select(Kiosk.kiosk_id)))
                               .limit(query.per_page).offset((page - 1) * query.per_page)))
    return KioskPage(query=query.model_copy(update={"page": page}), total=total, page=page, pages=pages,
                     rows=rows_for(session, ids, heartbeat_s, missed, b.now), groups=groups, status_counts=status_counts)


def _counts(session: Session, b: _Builder) -> tuple[list[DistrictCount], dict[str, int], int]:
    """The grouping (every filter but region/district), the status counts (every filter
    but status) and the total (every filter), from one GROUP BY region, district, status
    over the other filters."""
    q = b.query
    alerting = func.sum(case((_open_alerts(), 1), else_=0))
    cells = session.execute(b.where(b.select(KioskSite.region, KioskSite.district, b.status, func.count(), alerting),
                                    skip=("region", "district", "status"))
                            .group_by(KioskSite.region, KioskSite.district, b.status)).all()
    by_district: dict[tuple[str, str], list[int]] = {}
    status_counts = dict.fromkeys(STATUSES, 0)
    total = 0
    for r, d, status, n, al in cells:
        r, d = r or "", d or ""  # no site
        if (not q.region or r == _blank(q.region)) and (not q.district or d == _blank(q.district)):
            status_counts[status] += n
            total += n if not q.status or status == q.status else 0
        if not q.status or status == q.status:
            cell = by_district.setdefault((r, d), [0, 0, 0])
            cell[0] += n
            cell[1] += n if status == "online" else 0
            cell[2] += al or 0
    groups = [DistrictCount(region=r or NO_SITE, district=d or NO_SITE, total=n, online=on, alerting=al)
              for (r, d), (n, on, al) in sorted(by_district.items(), key=_site_order)]
    return groups, status_counts, total


def _site_order(item: tuple[tuple[str, str], list[int]]) -> tuple:
    (region, district), _ = item
    return (region == "", region, district == "", district)  # kiosks without a site last


def rows_for(session: Session, ids: list[str], heartbeat_s: float, missed: int, now: dt.datetime) -> list[KioskRow]:
    """Full rows for these kiosk ids, in this order (three IN queries, whatever the fleet size)."""
    if not ids:
        return []
    kiosks = {k.kiosk_id: k for k in session.scalars(select(Kiosk).options(defer(Kiosk.config_desired))
                                                     .where(Kiosk.kiosk_id.in_(ids)))}
    sites = {s.kiosk_id: s for s in session.scalars(select(KioskSite).where(KioskSite.kiosk_id.in_(ids)))}
    labels = {lb.kiosk_id: lb for lb in session.scalars(select(KioskLabel).where(KioskLabel.kiosk_id.in_(ids)))}
    alerts: dict[str, list[Alert]] = {}
    for alert in session.scalars(select(Alert).where(Alert.kiosk_id.in_(ids), Alert.cleared_at.is_(None))
                                 .order_by(Alert.opened_at.desc())):
        alerts.setdefault(alert.kiosk_id, []).append(alert)
    rows = []
    for kiosk_id in ids:
        kiosk, site = kiosks.get(kiosk_id), sites.get(kiosk_id)
        if kiosk is None:
            continue
        fields = views._summary_fields(kiosk, alerts.get(kiosk_id, []), now, heartbeat_s, missed, labels.get(kiosk_id))
        if site is not None:
            fields.update(name=site.name, hall=site.hall, district=site.district, region=site.region)
        rows.append(KioskRow(**fields))
    return rows


def matching_ids(session: Session, query: KioskQuery, heartbeat_s: float, missed: int, limit: int) -> list[str]:
    """Every kiosk id the query matches (all pages), at most `limit` + 1 so a caller can
    tell the selection is too big."""
    b = _Builder(session, query, heartbeat_s, missed)
    return list(session.scalars(b.order(b.where(b.select(Kiosk.kiosk_id))).limit(limit + 1)))


def facets(session: Session) -> Facets:
    """Versions, tags and groups in use, for the filter menus."""
    versions = [v for v in session.scalars(select(Kiosk.app_version).where(Kiosk.app_version.is_not(None))
                                           .group_by(Kiosk.app_version).order_by(Kiosk.app_version))]
    # The distinct tag *lists* are few (a few hundred combinations): unpacking them here is
    # cheaper than expanding 10,000 arrays in SQL (json_array_elements_text: ~60 ms on PostgreSQL).
    combos = session.scalars(select(cast(KioskLabel.tags, Text)).distinct())
    tags = sorted({str(tag) for combo in combos if isinstance(combo, str) for tag in (orjson.loads(combo) or [])})
    groups = list(session.scalars(select(KioskLabel.group).where(KioskLabel.group.is_not(None))
                                  .group_by(KioskLabel.group).order_by(KioskLabel.group)))
    options = [("any:fault", "any device faulty or absent"), ("printer:paper_low", "paper near end or out"),
               ("printer:paper_out", "paper out")]
    options += [(f"{k.value}:fault", f"{k.value} faulty or absent") for k in DeviceKind]
    return Facets(versions=versions, tags=tags, groups=groups, device_options=options)
