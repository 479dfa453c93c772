"""The recent app log for staff, redacted exactly as the control socket redacts it.

Lines come from the app's `kiosk.control.RecentLogBuffer` (already redacted as they are
captured) and pass through `fleet.protocol.privacy.redact` once more on the way to the
screen — the same function the control socket's ``recent_logs`` applies for the fleet —
so the screen never shows a line the fleet would not get.
"""

from __future__ import annotations

from fleet.protocol.privacy import redact

MAX_LINE_CHARS = 160  # a line longer than this is cut (with an ellipsis): the screen is narrow


def recent_lines(buffer, count: int = 40) -> list[str]:
    """The last `count` log lines, newest last, redacted and cut to a screen width."""
    if buffer is None:
        return []
    out = []
    for line in buffer.lines(count):
        line = redact(line)
        out.append(line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…")
    return out
