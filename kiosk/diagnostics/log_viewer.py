"""The recent app log for staff, redacted exactly as the fleet gets it.

Lines come from the app's `kiosk.control.RecentLogBuffer`, which passes every record
through `fleet.protocol.privacy.redact` as it is captured — the function the control
socket's ``recent_logs`` uses for the fleet — so nothing personal is ever held for the
screen. (They are not redacted a second time here: `redact` is not idempotent —
``姓名:[redacted]`` becomes ``姓名:[redacted]]`` on a second pass.)
"""

from __future__ import annotations

from kiosk.control import RecentLogBuffer

MAX_LINE_CHARS = 160  # a line longer than this is cut (with an ellipsis): the screen is narrow


def recent_lines(buffer: RecentLogBuffer | None, count: int = 40) -> list[str]:
    """The last `count` log lines, newest last, cut to a screen width."""
    if buffer is None:
        return []
    return [line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…" for line in buffer.lines(count)]
