"""Stop taking new sessions while the state disk is (nearly) full; take them again by itself.

A session writes its journal after every step, its photo, its outbox entries and the logs
to the state directory. With too little space left the next write fails (ENOSPC, SQLite's
"database or disk is full"), and a citizen would lose an errand half-way. So the kiosk goes
out of service ("disk_full", the same path as a staff switch: an event and the health
message tell the fleet, which raises an alert) *before* a session starts, and comes back
once space is free again. A session already running finishes: what it has written stays,
and a write that does fail ends it with the journal-failure screen, nothing half-submitted.

Hysteresis: out below `low_bytes` free, back above `resume_bytes`, so the kiosk does not
flap around one threshold while logs rotate.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

REASON = "disk_full"


@dataclass
class DiskGuard:
    path: Path
    low_bytes: int = 200 << 20  # a renewal writes a few MiB at most (photo, journal, outbox)
    resume_bytes: int = 400 << 20
    interval_s: float = 5.0
    full: bool = False

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def check(self) -> bool:
        """True while new sessions must wait. An unreadable disk counts as full."""
        try:
            free = self.free_bytes()
        except OSError as e:
            if not self.full:
                log.error("state disk unreadable (%s): no new sessions", e.strerror or type(e).__name__)
            self.full = True
            return True
        if not self.full and free < self.low_bytes:
            log.error("state disk nearly full (%d MiB free): no new sessions", free >> 20)
            self.full = True
        elif self.full and free >= self.resume_bytes:
            log.warning("state disk has %d MiB free again: back in service", free >> 20)
            self.full = False
        return self.full
