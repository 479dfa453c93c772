"""Service statistics: the kiosks' flow events folded into daily aggregate rows.

What a hall manager asks — how many renewals, invoices and fine payments each hall did
today, how many were abandoned and at which step, how long each takes, how often a
device failed — is answered from three tables (`models.ServiceDaily`, `ServiceAbandon`,
`DeviceFaultDaily`) that this module fills from the ``events`` table the ingest already
writes. `StatsAggregator.tick` reads the events after a cursor kept in ``server_state``
and adds them up in the same transaction that moves the cursor, so every event is
counted exactly once, across restarts, even with several server processes (the cursor
row is locked).

- **Which events**: ``flow_completed`` and ``flow_aborted`` (one per citizen session:
  the service, the step it ended on and its place in the flow, the abort reason, the
  duration) and ``device_state_changed`` into ``fault``.
- **Which day**: the local day (``Asia/Shanghai`` by default) of the kiosk's own time of
  the event, unless that is more than a day away from when the server received it (a
  kiosk with a wrong clock), then the time received. An event that waited in a kiosk's
  outbox while it was offline still counts for the day it happened.
- **No personal data**: only counts are kept, per kiosk, day, service, step, reason and
  device. Fleet messages already refuse personal data (`fleet.protocol.privacy`); here
  every name that becomes a key must also look like a code identifier (`_code`), so even
  a free-text value that slipped through is stored as ``other``, never as itself.
- **Durations** go into a fixed histogram (`BUCKETS_S`), so median and p90 can be
  computed for any selection of rows, and rows merge exactly (sum the counts). A
  percentile is interpolated inside its bucket: exact to within one bucket's width.
- **Retention and downsampling**: daily rows older than `keep_daily_days` are merged
  into one row per month (``period`` "month", ``day`` the 1st) and removed; monthly rows
  older than `keep_monthly_days` are removed. The raw events themselves belong to the
  events retention, not to this module.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fleet.server.db import Database
from fleet.server.models import DeviceFaultDaily, Event, ServerState, ServiceAbandon, ServiceDaily, utcnow

log = logging.getLogger(__name__)

CURSOR_KEY = "stats_event_cursor"
KINDS = ("flow_completed", "flow_aborted", "device_state_changed")
# Upper edges of the duration buckets in seconds; the last bucket is open-ended.
BUCKETS_S = (5, 10, 15, 20, 30, 45, 60, 90, 120, 150, 180, 240, 300, 420, 600, 900, 1200, 1800, 3600)
HIST = tuple(f"d{i:02d}" for i in range(len(BUCKETS_S) + 1))  # ServiceDaily's histogram columns
DAY, MONTH = "day", "month"
OTHER = "other"
_CODE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
BATCH = 5000  # events per transaction


def _code(value: object) -> str:
    """`value` if it looks like a code identifier (a flow, step, reason or device name), else "other"."""
    text = str(value or "")
    return text if _CODE.match(text) else OTHER


def bucket_of(duration_s: float) -> int:
    return bisect.bisect_left(BUCKETS_S, duration_s)


def percentile(hist: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of durations from a `BUCKETS_S` histogram, interpolated in its
    bucket (the open last bucket is taken as one bucket-width wide)."""
    total = sum(hist)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(hist):
        if n and seen + n >= rank:
            low = BUCKETS_S[i - 1] if i > 0 else 0.0
            high = BUCKETS_S[i] if i < len(BUCKETS_S) else BUCKETS_S[-1] * 2
            return low + (high - low) * max(0.0, rank - seen) / n
        seen += n
    return float(BUCKETS_S[-1])


def _new_service_row(period: str, day: dt.date, kiosk: str, flow: str) -> ServiceDaily:
    return ServiceDaily(period=period, day=day, kiosk_id=kiosk, flow=flow, sessions=0, completed=0, aborted=0,
                        duration_n=0, duration_sum_s=0.0, **{h: 0 for h in HIST})


@dataclass
class _Tally:
    """What one batch of events adds, keyed like the rows it goes into."""

    services: dict[tuple, list] = field(default_factory=dict)  # (day, kiosk, flow) -> [sessions, ok, aborted, n, sum, hist]
    abandons: dict[tuple, list] = field(default_factory=dict)  # (day, kiosk, flow, step, reason) -> [step_no, count]
    faults: dict[tuple, int] = field(default_factory=dict)  # (day, kiosk, device) -> count

    def add(self, event: Event, day: dt.date) -> None:
        p = event.payload or {}
        if event.kind == "device_state_changed":
            if p.get("state") == "fault":
                key = (day, event.kiosk_id, _code(p.get("device")))
                self.faults[key] = self.faults.get(key, 0) + 1
            return
        flow = _code(p.get("flow"))
        if flow == OTHER:
            return  # a flow event without a service name says nothing about a service
        row = self.services.setdefault((day, event.kiosk_id, flow), [0, 0, 0, 0, 0.0, [0] * (len(BUCKETS_S) + 1)])
        row[0] += 1
        duration = p.get("duration_s")
        if isinstance(duration, (int, float)) and 0 <= duration <= 86400:
            row[3] += 1
            row[4] += float(duration)
            row[5][bucket_of(duration)] += 1
        if event.kind == "flow_completed":
            row[1] += 1
            return
        row[2] += 1
        step_no = p.get("step_no") if isinstance(p.get("step_no"), int) else 0
        key = (day, event.kiosk_id, flow, _code(p.get("step")), _code(p.get("reason")))
        entry = self.abandons.setdefault(key, [step_no, 0])
        entry[0] = max(entry[0], step_no)
        entry[1] += 1

    @staticmethod
    def _existing(session: Session, model, period: str, keys) -> dict[tuple, object]:
        """The rows of `model` this tally changes, by primary key, in a few IN queries
        (one SELECT per key would be most of the cost)."""
        by_day: dict[dt.date, set[str]] = {}
        for key in keys:
            by_day.setdefault(key[0], set()).add(key[1])
        found = {}
        for day, kiosks in by_day.items():
            ids = sorted(kiosks)
            for i in range(0, len(ids), 500):
                for row in session.scalars(select(model).where(model.period == period, model.day == day,
                                                               model.kiosk_id.in_(ids[i:i + 500]))):
                    found[session.identity_key(instance=row)[1][1:]] = row  # the key without `period`
        return found

    def write(self, session: Session, period: str = DAY) -> None:
        with session.no_autoflush:
            rows = self._existing(session, ServiceDaily, period, self.services)
            for key, (n, ok, bad, dn, dsum, hist) in self.services.items():
                row = rows.get(key)
                if row is None:
                    row = _new_service_row(period, *key)
                    session.add(row)
                row.sessions += n
                row.completed += ok
                row.aborted += bad
                row.duration_n += dn
                row.duration_sum_s += dsum
                for column, count in zip(HIST, hist):
                    if count:
                        setattr(row, column, getattr(row, column) + count)
            rows = self._existing(session, ServiceAbandon, period, self.abandons)
            for key, (step_no, count) in self.abandons.items():
                row = rows.get(key)
                if row is None:
                    day, kiosk, flow, step, reason = key
                    row = ServiceAbandon(period=period, day=day, kiosk_id=kiosk, flow=flow, step=step, reason=reason,
                                         step_no=0, count=0)
                    session.add(row)
                row.count += count
                row.step_no = max(row.step_no, step_no)
            rows = self._existing(session, DeviceFaultDaily, period, self.faults)
            for key, count in self.faults.items():
                row = rows.get(key)
                if row is None:
                    day, kiosk, device = key
                    row = DeviceFaultDaily(period=period, day=day, kiosk_id=kiosk, device=device, faults=0)
                    session.add(row)
                row.faults += count


class StatsAggregator:
    """Folds new events into the aggregate tables every `tick_s`, and downsamples hourly."""

    def __init__(self, db: Database, *, timezone: str = "Asia/Shanghai", tick_s: float = 10.0,
                 keep_daily_days: int = 400, keep_monthly_days: int = 3660, clock=utcnow) -> None:
        self.db = db
        self.tz = ZoneInfo(timezone)
        self.tick_s = tick_s
        self.keep_daily_days = keep_daily_days
        self.keep_monthly_days = keep_monthly_days
        self._clock = clock
        # PostgreSQL hands out ids before commit, so a later id may be visible first: stay
        # a few seconds behind there. SQLite has one writer at a time: ids appear in order.
        self.lag = dt.timedelta(seconds=0 if db.backend == "sqlite" else 5)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_downsample: dt.datetime | None = None

    def today(self) -> dt.date:
        return self._clock().astimezone(self.tz).date()

    def local_day(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.tz).date()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="fleet-stats", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self.tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("statistics tick failed")

    # ------------------------------------------------------------ work
    def tick(self) -> int:
        """Fold every new event in; downsample at most hourly. Returns events read."""
        with self._lock:
            total = 0
            while True:
                with self.db.session() as session:
                    n = self._consume(session)
                total += n
                if n < BATCH:
                    break
            now = self._clock()
            if self._last_downsample is None or now - self._last_downsample >= dt.timedelta(hours=1):
                with self.db.session() as session:
                    self.downsample(session, now)
                self._last_downsample = now
            return total

    def _consume(self, session: Session) -> int:
        state = session.get(ServerState, CURSOR_KEY, with_for_update=True)
        if state is None:
            state = ServerState(key=CURSOR_KEY, value={"last_event_id": 0})
            session.add(state)
        cursor = int(state.value.get("last_event_id", 0))
        query = select(func.max(Event.id)).where(Event.id > cursor)
        if self.lag:
            query = query.where(Event.received_at <= self._clock() - self.lag)
        high = session.scalar(query)
        if high is None:
            return 0
        rows = list(session.scalars(select(Event).where(Event.id > cursor, Event.id <= high, Event.kind.in_(KINDS))
                                    .order_by(Event.id).limit(BATCH)))
        tally = _Tally()
        for event in rows:
            tally.add(event, self._day_of(event))
        tally.write(session)
        state.value = {"last_event_id": rows[-1].id if len(rows) == BATCH else high}
        return len(rows)

    def _day_of(self, event: Event) -> dt.date:
        received = event.received_at
        try:
            at = dt.datetime.fromisoformat(str((event.payload or {}).get("ts")))
            if at.tzinfo is None or abs(at - received) > dt.timedelta(days=1):
                at = received
        except ValueError:
            at = received
        return self.local_day(at)

    def downsample(self, session: Session, now: dt.datetime) -> None:
        """Daily rows past `keep_daily_days` become monthly rows; old monthly rows go."""
        today = self.local_day(now)
        cut = today - dt.timedelta(days=self.keep_daily_days)
        tally = _Tally()
        for row in session.scalars(select(ServiceDaily).where(ServiceDaily.period == DAY, ServiceDaily.day < cut)):
            entry = tally.services.setdefault((row.day.replace(day=1), row.kiosk_id, row.flow),
                                              [0, 0, 0, 0, 0.0, [0] * (len(BUCKETS_S) + 1)])
            for i, value in enumerate((row.sessions, row.completed, row.aborted, row.duration_n, row.duration_sum_s)):
                entry[i] += value
            entry[5] = [a + getattr(row, h) for a, h in zip(entry[5], HIST)]
        for row in session.scalars(select(ServiceAbandon).where(ServiceAbandon.period == DAY, ServiceAbandon.day < cut)):
            entry = tally.abandons.setdefault((row.day.replace(day=1), row.kiosk_id, row.flow, row.step, row.reason),
                                              [0, 0])
            entry[0], entry[1] = max(entry[0], row.step_no), entry[1] + row.count
        for row in session.scalars(select(DeviceFaultDaily).where(DeviceFaultDaily.period == DAY,
                                                                  DeviceFaultDaily.day < cut)):
            key = (row.day.replace(day=1), row.kiosk_id, row.device)
            tally.faults[key] = tally.faults.get(key, 0) + row.faults
        tally.write(session, MONTH)
        gone = today - dt.timedelta(days=self.keep_monthly_days)
        for model in (ServiceDaily, ServiceAbandon, DeviceFaultDaily):
            session.execute(delete(model).where(model.period == DAY, model.day < cut))
            session.execute(delete(model).where(model.period == MONTH, model.day < gone.replace(day=1)))
        if tally.services or tally.faults:
            log.info("statistics: %d daily service rows before %s merged into months", len(tally.services), cut)
