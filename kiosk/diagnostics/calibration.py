"""Blood-pressure calibration check: the cuff's static pressure against a reference manometer.

The check of IEC 80601-2-30 (201.12.1.102) / ISO 81060-1 (7.1.2), done in the field:
staff connect a reference manometer to the cuff line through a T-piece, pump the cuff by
hand to each test point and hold it; at each point the kiosk reads the cuff's own sensor
(`Ieee11073BridgeMonitor.read_static_pressure`, run on the device's worker thread) and
staff type what the manometer shows. A point passes when the two differ by at most
±3 mmHg (the standard's limit); the check passes when every point does.

Points: 0 mmHg (cuff open to air: the zero offset), 150 and 250 mmHg (the range used for
adults). The targets only guide the pumping; the comparison uses the manometer reading,
so staff need not hit a target exactly.

Results are appended to ``bp-calibration.jsonl`` in the state directory (one JSON object
per check: when, device model/serial/firmware, each point, pass/fail) and reported as a
staff_action event (outcome passed/failed, the largest deviation) — no personal data.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, computed_field

CALIBRATION_POINTS_MMHG: tuple[int, ...] = (0, 150, 250)
TOLERANCE_MMHG = 3.0
RECORDS_FILE = "bp-calibration.jsonl"
MAX_MANOMETER_MMHG = 400.0  # a reference manometer for cuffs reads 0..300 (some 0..400)


class CalibrationPoint(BaseModel):
    target_mmhg: int
    kiosk_mmhg: float
    reference_mmhg: float
    tolerance_mmhg: float = TOLERANCE_MMHG

    @computed_field  # type: ignore[prop-decorator]
    @property
    def deviation_mmhg(self) -> float:
        """Kiosk minus reference: positive when the cuff's sensor reads high."""
        return round(self.kiosk_mmhg - self.reference_mmhg, 1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return abs(self.deviation_mmhg) <= self.tolerance_mmhg + 1e-9


class CalibrationResult(BaseModel):
    at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    model: str = ""
    serial: str = ""
    firmware: str = ""
    points: list[CalibrationPoint]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return bool(self.points) and all(p.passed for p in self.points)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def max_abs_deviation_mmhg(self) -> float:
        return max((abs(p.deviation_mmhg) for p in self.points), default=0.0)


class CalibrationCheck:
    """The guided sequence: one point after the other, then the result."""

    def __init__(self, points: tuple[int, ...] = CALIBRATION_POINTS_MMHG, tolerance_mmhg: float = TOLERANCE_MMHG):
        self.targets = points
        self.tolerance_mmhg = tolerance_mmhg
        self.points: list[CalibrationPoint] = []

    @property
    def index(self) -> int:
        return len(self.points)

    @property
    def done(self) -> bool:
        return self.index >= len(self.targets)

    @property
    def target(self) -> int | None:
        return None if self.done else self.targets[self.index]

    def record(self, kiosk_mmhg: float, reference_mmhg: float) -> CalibrationPoint:
        if self.done:
            raise ValueError("every point is already recorded")
        if not 0 <= reference_mmhg <= MAX_MANOMETER_MMHG:
            raise ValueError(f"a manometer reading is 0..{MAX_MANOMETER_MMHG:.0f} mmHg")
        point = CalibrationPoint(target_mmhg=self.targets[self.index], kiosk_mmhg=round(kiosk_mmhg, 1),
                                 reference_mmhg=round(reference_mmhg, 1), tolerance_mmhg=self.tolerance_mmhg)
        self.points.append(point)
        return point

    def result(self, *, model: str = "", serial: str = "", firmware: str = "") -> CalibrationResult:
        if not self.done:
            raise ValueError("the check is not finished")
        return CalibrationResult(model=model, serial=serial, firmware=firmware, points=list(self.points))


class CalibrationRecords:
    """The kiosk's calibration history (append-only JSON lines)."""

    def __init__(self, state_dir: Path | str | None) -> None:
        self.path = Path(state_dir) / RECORDS_FILE if state_dir is not None else None
        self._memory: list[CalibrationResult] = []

    def append(self, result: CalibrationResult) -> None:
        self._memory.append(result)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(result.model_dump_json() + "\n")
            f.flush()

    def last(self) -> CalibrationResult | None:
        if self.path is None or not self.path.exists():
            return self._memory[-1] if self._memory else None
        lines = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for line in reversed(lines):
            try:
                data = json.loads(line)
                data.pop("passed", None)
                data.pop("max_abs_deviation_mmhg", None)
                for p in data.get("points", []):
                    p.pop("deviation_mmhg", None)
                    p.pop("passed", None)
                return CalibrationResult.model_validate(data)
            except ValueError:
                continue  # a line cut by a power failure
        return None
