"""Host figures for health: disk, load, memory, temperature — from /proc and /sys, no psutil."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from fleet.protocol.messages import SystemHealth


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    values[name] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    except OSError:
        pass
    return values


def _load_1m() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _temperature_c() -> float | None:
    """The hottest thermal zone (the SoC on a kiosk PC); None where there is none."""
    readings = []
    for path in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
        try:
            readings.append(int(Path(path).read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    return max(readings) if readings else None


def system_health(disk_path: Path | str = "/") -> SystemHealth:
    try:
        disk = shutil.disk_usage(disk_path)
        total, free = disk.total, disk.free
    except OSError:
        total = free = 0
    mem = _meminfo()
    return SystemHealth(
        disk_total_bytes=total,
        disk_free_bytes=free,
        load_1m=round(_load_1m(), 2),
        cpu_count=os.cpu_count() or 0,
        memory_total_bytes=mem.get("MemTotal", 0),
        memory_available_bytes=mem.get("MemAvailable", 0),
        temperature_c=_temperature_c(),
    )
