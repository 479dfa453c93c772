"""Flow-engine figures: what the engine and the journal cost per step and per licence renewal.

    .venv/bin/python bench/flows.py [--runs 20]

Every device answers instantly (fakes with the DeviceAccess surface: card, eye tester,
camera + face gate, photo, BP monitor, printer), the back office is an in-memory fake,
and the citizen answers every view at once. What remains is the engine (views,
actions, timeouts, step transitions) and the journal (an encrypted SQLite row written
with fsync after every step). Prints, in milliseconds:
- per step: time inside the step (engine round trips for its views + flow logic) and
  the journal write that follows it (AES-GCM + SQLite WAL commit with synchronous=FULL);
- a whole renewal: with the file journal, without a journal, the journal's share, and
  the number of views and journal writes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from flows.deps import FlowDeps, FlowSettings, SimAudio  # noqa: E402
from flows.engine import FlowRunner, ResumePolicy  # noqa: E402
from flows.journal import Journal  # noqa: E402
from flows.renewal import LicenceRenewal  # noqa: E402
from flows.services import models as m  # noqa: E402
from kiosk.runflow import AnswerBook  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TZ = dt.timezone(dt.timedelta(hours=8))


class InstantEyeTester:
    """Answers right for rows up to 5.0, wrong above (so each eye ends at 5.0)."""

    def __init__(self) -> None:
        self.shown: Any = None

    async def show(self, optotype: Any) -> None:
        self.shown = optotype

    async def blank(self) -> None:
        pass

    async def wait_answer(self, timeout: float) -> Any:
        from peripherals.eye.models import Orientation, PadAnswer

        right = self.shown.level <= 5.0
        wrong = next(o for o in Orientation if o is not self.shown.orientation)
        return PadAnswer(orientation=self.shown.orientation if right else wrong, device_time_ms=0)


class InstantDevices:
    """The DeviceAccess surface with no device behind it."""

    def __init__(self) -> None:
        from peripherals.idcard.sim import scripted_card

        self.card = scripted_card("resident")
        self.frames = 0
        self.tester = InstantEyeTester()

    async def read_card(self, wait: float) -> Any:
        return self.card

    async def measure_bp(self, on_progress: Any, timeout: float) -> Any:
        from peripherals.bp.models import BpReading

        return BpReading(systolic=128, diastolic=82, pulse=72)

    def eye_tester(self) -> Any:
        return self.tester

    async def frame(self) -> Any:
        self.frames += 1
        return np.full((4, 4, 3), self.frames % 256, dtype=np.uint8)

    async def check_face(self, frame: Any) -> Any:
        from peripherals.camera.models import FaceBox, FaceCheck

        return FaceCheck(passed=True, face=FaceBox(x=1, y=1, w=2, h=2), faces_found=1)

    async def licence_photo(self, frame: Any, face: Any) -> Any:
        return SimpleNamespace(data=b"\xff\xd8 fake jpeg", width=260, height=378)

    async def print_receipt(self, receipt: Any) -> None:
        pass


class InstantBackOffice:
    """The four services in memory, answering at once (idempotent by key, like the real one)."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}
        self.n = 0

    def _once(self, key: str, make: Any) -> Any:
        if key not in self.seen:
            self.n += 1
            self.seen[key] = make(self.n)
        return self.seen[key]

    async def lookup_licence(self, query: Any) -> Any:
        today = dt.date.today()
        return m.LicenceRecord(licence_class="C1", first_issued=today.replace(year=today.year - 10),
                               valid_from=today.replace(year=today.year - 6), valid_until=today + dt.timedelta(days=30),
                               status="valid", renewal_window_open=True, yearly_exam_required=False)

    async def renew_licence(self, request: Any, *, idempotency_key: str) -> Any:
        return self._once(idempotency_key, lambda n: m.LicenceApplication(
            application_id=f"LR{n:06d}", kind="licence_renewal", licence_class="C1", fee_fen=1000,
            accepted_at=dt.datetime.now(TZ)))

    async def create_waybill(self, request: Any, *, idempotency_key: str) -> Any:
        return self._once(idempotency_key, lambda n: m.Waybill(
            waybill_id=f"WB{n:06d}", tracking_number="EA100000017CN", fee_fen=1500, destination="重庆市重庆市",
            created_at=dt.datetime.now(TZ)))

    async def create_order(self, request: Any, *, idempotency_key: str) -> Any:
        now = dt.datetime.now(TZ)
        return self._once(idempotency_key, lambda n: m.PaymentOrder(
            order_id=f"PO{n:06d}", amount_fen=request.amount_fen, description=request.description, status="paid",
            qr_payload="qr", created_at=now, expires_at=now + dt.timedelta(minutes=15), paid_at=now))

    async def get_order(self, order_id: str) -> Any:
        return next(o for o in self.seen.values() if getattr(o, "order_id", None) == order_id)

    async def cancel_order(self, order_id: str, *, idempotency_key: str) -> Any:
        return await self.get_order(order_id)


class TimedJournal(Journal):
    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.saves: list[tuple[str, float]] = []
        self.wipes: list[float] = []

    def wipe(self, session_id: str) -> None:
        started = time.perf_counter()
        super().wipe(session_id)
        self.wipes.append(time.perf_counter() - started)

    def save(self, *args: Any, **kw: Any) -> int:
        started = time.perf_counter()
        seq = super().save(*args, **kw)
        self.saves.append((args[3], time.perf_counter() - started))  # args[3]: the step recorded as next
        return seq


def timed_flow() -> tuple[LicenceRenewal, dict[str, list[float]]]:
    """A renewal whose step methods record how long they run."""
    inside: dict[str, list[float]] = defaultdict(list)
    flow = LicenceRenewal()
    for step in LicenceRenewal.Step:
        method = getattr(flow, f"step_{step.value}")

        async def timed(ctx: Any, _method: Any = method, _name: str = step.value) -> Any:
            started = time.perf_counter()
            try:
                return await _method(ctx)
            finally:
                inside[_name].append(time.perf_counter() - started)

        setattr(flow, f"step_{step.value}", timed)
    return flow, inside


async def one_renewal(journal: Journal | None) -> tuple[float, int, dict[str, list[float]]]:
    spec = AnswerBook.load(REPO / "examples/answers/licence-renewal.yaml")
    settings = FlowSettings(face_frame_interval_s=0.0, payment_poll_s=0.001, rng_seed=3)
    backoffice = InstantBackOffice()
    deps = FlowDeps.from_backoffice(InstantDevices(), backoffice, settings=settings, audio=SimAudio())  # type: ignore[arg-type]
    flow, inside = timed_flow()
    book = AnswerBook(spec.answers, audio=deps.audio)
    runner = FlowRunner(flow, journal, deps, resume=ResumePolicy.NEVER)
    views = 0
    started = time.perf_counter()
    async for view in runner.views():
        views += 1
        if view.awaits_answer and not view.final:
            await runner.act(book.action_for(view))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    outcome = await runner.wait()
    assert outcome.status.value == "completed", outcome
    return elapsed, views, inside


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        journal = TimedJournal(Path(tmp) / "state")
        asyncio.run(one_renewal(journal))  # warm-up: imports, SQLite file, key file
        journal.saves.clear()
        journal.wipes.clear()
        with_journal, inside_all, views = [], defaultdict(list), 0
        for _ in range(args.runs):
            elapsed, views, inside = asyncio.run(one_renewal(journal))
            with_journal.append(elapsed)
            for k, v in inside.items():
                inside_all[k] += v
        saves = defaultdict(list)
        for step, seconds in journal.saves:
            saves[step].append(seconds)
        journal.close()
    without = [asyncio.run(one_renewal(None))[0] for _ in range(args.runs)]

    steps = [s.value for s in LicenceRenewal.Step]
    print(f"licence renewal, devices and back office answering instantly; medians of {args.runs} runs, ms")
    print(f"{'step':<12} {'in step':>8} {'journal write after it':>24}")
    for i, step in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        after = ms(saves[nxt]) if nxt and saves.get(nxt) else f"{ms(journal.wipes)} (wipe)"
        print(f"{step:<12} {ms(inside_all[step])} {after:>24}")
    first = ms(saves[steps[0]]) if saves.get(steps[0]) else "-"
    print(f"{'(start)':<12} {'':>8} {first:>24}   fresh session row")
    writes = len(journal.saves) / args.runs
    total_j, total_n = statistics.median(with_journal), statistics.median(without)
    print()
    print(f"whole renewal with file journal   {total_j * 1000:8.2f} ms  ({views} views, {writes:.0f} journal writes)")
    print(f"whole renewal without journal     {total_n * 1000:8.2f} ms")
    print(f"journal share                     {(total_j - total_n) * 1000:8.2f} ms "
          f"({(total_j - total_n) / total_j * 100:.0f} %)")
    print(f"engine per view (no journal)      {total_n / views * 1000:8.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
