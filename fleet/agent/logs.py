"""Recent kiosk logs for `fetch_logs`, always redacted before they leave the kiosk."""

from __future__ import annotations

import subprocess

from fleet.protocol.privacy import redact

MAX_LINE_CHARS = 1000


def redact_lines(lines: list[str]) -> list[str]:
    """Each line redacted (ID numbers, mobile numbers, marked names/addresses) and capped."""
    return [redact(line.rstrip("\n"))[:MAX_LINE_CHARS] for line in lines]


def logs_from_command(command: list[str], lines: int, timeout: float = 15.0) -> list[str]:
    """Run e.g. ``journalctl -u kiosk.service -n {lines}``; ``{lines}`` is filled in."""
    argv = [part.replace("{lines}", str(lines)) for part in command]
    done = subprocess.run(argv, capture_output=True, timeout=timeout, text=True, errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {done.returncode}")
    return redact_lines(done.stdout.splitlines()[-lines:])
