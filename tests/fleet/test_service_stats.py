"""Service statistics from the kiosks' flow events: counted once, by local day, per
service, district and kiosk; completion, the funnel of where citizens give up, median and
p90 duration, device faults per 1,000 sessions; CSV; retention and downsampling; and no
personal data anywhere — refused by the protocol, and even if a value slipped into an
event, never stored or shown as itself.

The events go into the real fleet database (SQLite here; the page's test runs the whole
server) as the ingest stores them: `fleet.protocol.Event` dumped to JSON.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from sqlalchemy import inspect, select

from fleet.protocol import Event as EventMessage
from fleet.server.db import Database
from fleet.server.models import DeviceFaultDaily, Event, Kiosk, KioskSite, ServiceAbandon, ServiceDaily
from fleet.server.stats import BUCKETS_S, OTHER, StatsAggregator, percentile
from fleet.server.stats_query import NO_DISTRICT, StatsQuery, csv_rows, load

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Chongqing
ID_NUMBER, NAME = "500103198803151232", "王晓东"


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'fleet.db'}")
    yield database
    database.close()


def add_kiosks(db, sites: dict[str, str]) -> None:
    with db.session() as session:
        for kiosk_id, district in sites.items():
            session.add(Kiosk(kiosk_id=kiosk_id))
            if district:
                session.add(KioskSite(kiosk_id=kiosk_id, name=kiosk_id, hall=f"{district} hall", district=district,
                                      region="main city"))


def add_event(db, kiosk_id: str, at: dt.datetime, *, received: dt.datetime | None = None, raw: dict | None = None,
              **fields) -> None:
    payload = raw or EventMessage(kiosk_id=kiosk_id, ts=at, **fields).model_dump(mode="json")
    with db.session() as session:
        session.add(Event(kiosk_id=kiosk_id, event_id=payload.get("id"), received_at=received or at,
                          kind=payload["kind"], payload=payload))


def session_end(db, kiosk_id, flow, at, duration, step="", step_no=None, reason=""):
    kind = "flow_aborted" if reason else "flow_completed"
    add_event(db, kiosk_id, at, kind=kind, flow=flow, count=1, step=step, step_no=step_no, reason=reason,
              duration_s=duration)


def test_sessions_per_service_district_kiosk_completion_funnel_durations_and_faults(db):
    add_kiosks(db, {"yz-1": "Yuzhong", "yz-2": "Yuzhong", "jb-1": "Jiangbei", "new-1": ""})
    t = NOW - dt.timedelta(hours=1)
    for i, duration in enumerate((40, 44, 48, 52, 56, 62, 70, 80)):  # 8 renewals at yz-1, all completed
        session_end(db, "yz-1", "licence-renewal", t + dt.timedelta(minutes=i), duration, step="done", step_no=9)
    session_end(db, "yz-2", "licence-renewal", t, 30, step="medical_check", step_no=4, reason="cancelled")
    session_end(db, "yz-2", "licence-renewal", t, 35, step="medical_check", step_no=4, reason="idle_timeout")
    session_end(db, "yz-2", "licence-renewal", t, 12, step="read_id_card", step_no=1, reason="device_fault")
    session_end(db, "jb-1", "tax-invoice", t, 45, step="done", step_no=5)
    session_end(db, "new-1", "tax-invoice", t, 50, step="done", step_no=5)
    add_event(db, "yz-2", t, kind="device_state_changed", device="idcard", state="fault", reason="no_response")
    add_event(db, "yz-2", t, kind="device_state_changed", device="idcard", state="ready")  # not a fault
    # 23:30 in Chongqing (UTC+8): yesterday.
    session_end(db, "jb-1", "tax-invoice", dt.datetime(2026, 3, 1, 15, 30, tzinfo=UTC), 45, step="done", step_no=5)
    # 01:00 in Chongqing today (still yesterday in UTC), received hours later (the kiosk was
    # offline): counts for the local day it happened.
    add_event(db, "jb-1", dt.datetime(2026, 3, 1, 17, 0, tzinfo=UTC), received=NOW, kind="flow_completed",
              flow="fine-payment", count=1, step="done", step_no=3, duration_s=20)
    agg = StatsAggregator(db, clock=lambda: NOW)
    assert agg.tick() == 17
    assert agg.tick() == 0  # counted once: the cursor moved with the sums

    today = agg.today()
    assert today == dt.date(2026, 3, 2)
    with db.session() as session:
        s = load(session, StatsQuery(start=today, end=today))
    assert s.total.sessions == 14 and s.total.completed == 11 and s.total.aborted == 3
    assert {d: t.sessions for d, t in s.by_district.items()} == {"Yuzhong": 11, "Jiangbei": 2, NO_DISTRICT: 1}
    assert s.by_district_service == {("Yuzhong", "licence-renewal"): 11, ("Jiangbei", "tax-invoice"): 1,
                                     ("Jiangbei", "fine-payment"): 1, (NO_DISTRICT, "tax-invoice"): 1}
    renewal = s.by_service["licence-renewal"]
    assert (renewal.sessions, renewal.completed, renewal.aborted) == (11, 8, 3)
    assert renewal.completion_percent == pytest.approx(100 * 8 / 11)
    # Median of 12 30 35 40 44 48 52 56 62 70 80 ... (11 values) is 48 s: bucket (45, 60]
    assert 45 <= renewal.median_s <= 60 and 60 <= renewal.p90_s <= 90
    funnel = s.funnels["licence-renewal"]
    assert [(f.step_no, f.step, f.reached, f.abandoned) for f in funnel] == [(1, "read_id_card", 11, 1),
                                                                           (4, "medical_check", 10, 2)]
    assert funnel[1].reasons == {"cancelled": 1, "idle_timeout": 1}
    assert s.by_kiosk["yz-2"].faults == 1 and s.total.faults == 1
    assert s.by_district["Yuzhong"].faults_per_1000 == pytest.approx(1000 / 11)
    assert s.faults_by_device == {"idcard": 1}
    with db.session() as session:
        yesterday = load(session, StatsQuery(start=today - dt.timedelta(days=1), end=today - dt.timedelta(days=1)))
        only_yz = load(session, StatsQuery(start=today, end=today, district="Yuzhong", flow="licence-renewal"))
    assert yesterday.total.sessions == 1 and yesterday.by_service["tax-invoice"].sessions == 1
    assert only_yz.total.sessions == 11 and set(only_yz.by_kiosk) == {"yz-1", "yz-2"}

    rows = csv_rows(s, "districts")
    assert rows[0] == ["period", "district", "service", "sessions"]
    assert ["2026-03-02..2026-03-02", "Yuzhong", "licence-renewal", "11"] in rows
    assert csv_rows(s, "funnel")[1][:6] == ["2026-03-02..2026-03-02", "licence-renewal", "1", "read_id_card", "11", "1"]


def test_percentile_from_buckets():
    hist = [0] * (len(BUCKETS_S) + 1)
    assert percentile(hist, 0.5) is None
    hist[BUCKETS_S.index(60)] = 10  # ten sessions in (45, 60]
    assert percentile(hist, 0.5) == pytest.approx(52.5) and percentile(hist, 0.9) == pytest.approx(58.5)


def test_no_personal_data_is_stored_or_shown(db):
    # The protocol refuses it outright (the kiosk's message never exists) ...
    for field in ("step", "detail", "reason"):
        with pytest.raises(ValidationError):
            EventMessage(kiosk_id="pd-1", kind="flow_aborted", flow="licence-renewal", **{field: f"id {ID_NUMBER}"})
    # ... and if a kiosk of another make sent it anyway, only code-like names become keys.
    add_kiosks(db, {"pd-1": "Yuzhong"})
    for i, (step, reason, flow) in enumerate(((NAME, "cancelled", "licence-renewal"),
                                              ("read_id_card", ID_NUMBER, "licence-renewal"),
                                              ("done", "", f"renewal for {NAME}"))):
        raw = {"kind": "flow_aborted", "id": f"raw-{i}", "kiosk_id": "pd-1", "ts": (NOW - dt.timedelta(minutes=5)).isoformat(),
               "flow": flow, "step": step, "reason": reason, "step_no": 2, "duration_s": 30, "detail": NAME}
        add_event(db, "pd-1", NOW - dt.timedelta(minutes=5), raw=raw)
    StatsAggregator(db, clock=lambda: NOW).tick()
    with db.session() as session:
        stored = [str(v) for model in (ServiceDaily, ServiceAbandon, DeviceFaultDaily)
                  for row in session.scalars(select(model)) for v in vars(row).values()]
        s = load(session, StatsQuery(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 2)))
    assert stored and not any(NAME in v or ID_NUMBER in v for v in stored)
    steps = {(f.step, tuple(f.reasons)) for f in s.funnels["licence-renewal"]}
    assert steps == {(OTHER, ("cancelled",)), ("read_id_card", (OTHER,))}
    assert s.total.sessions == 2  # the event whose service name was not a name of a service is not counted
    exported = "".join(",".join(r) for table in ("services", "districts", "kiosks", "days", "funnel", "faults")
                       for r in csv_rows(s, table))
    assert NAME not in exported and ID_NUMBER not in exported
    # The tables have no column for anything but codes and counts.
    columns = {t: {c["name"] for c in inspect(db.engine).get_columns(t)}
               for t in ("service_daily", "service_abandon_daily", "device_fault_daily")}
    assert columns["service_abandon_daily"] == {"period", "day", "kiosk_id", "flow", "step", "reason", "step_no", "count"}
    assert columns["device_fault_daily"] == {"period", "day", "kiosk_id", "device", "faults"}
    assert columns["service_daily"] - {f"d{i:02d}" for i in range(20)} == {
        "period", "day", "kiosk_id", "flow", "sessions", "completed", "aborted", "duration_n", "duration_sum_s"}


def test_old_days_are_merged_into_months_and_the_oldest_months_removed(db):
    add_kiosks(db, {"rt-1": "Shapingba"})
    for days_ago, duration in ((500, 40), (499, 50), (498, 500), (10, 40), (4000, 40)):
        session_end(db, "rt-1", "tax-invoice", NOW - dt.timedelta(days=days_ago), duration, step="done", step_no=5)
    session_end(db, "rt-1", "tax-invoice", NOW - dt.timedelta(days=499), 30, step="pay", step_no=3, reason="cancelled")
    add_event(db, "rt-1", NOW - dt.timedelta(days=499), kind="device_state_changed", device="printer", state="fault")
    agg = StatsAggregator(db, clock=lambda: NOW, keep_daily_days=400, keep_monthly_days=3660)
    agg.tick()
    with db.session() as session:
        periods = sorted({(r.period, r.day) for r in session.scalars(select(ServiceDaily))})
        abandons = [(r.period, r.day, r.count) for r in session.scalars(select(ServiceAbandon))]
        faults = [(r.period, r.day, r.faults) for r in session.scalars(select(DeviceFaultDaily))]
    months = {("month", (NOW - dt.timedelta(days=d)).astimezone(agg.tz).date().replace(day=1)) for d in (500, 499, 498)}
    assert set(periods) == months | {("day", (NOW - dt.timedelta(days=10)).astimezone(agg.tz).date())}  # 4000 d: gone
    assert [a[0] for a in abandons] == ["month"] and [f[0] for f in faults] == ["month"]
    with db.session() as session:  # a year back reads the months, exactly as the days added up
        start = (NOW - dt.timedelta(days=520)).date()
        s = load(session, StatsQuery(start=start, end=NOW.date()))
    assert s.monthly and s.total.sessions == 5 and s.total.aborted == 1 and s.total.faults == 1
    assert s.by_service["tax-invoice"].duration_n == 5
