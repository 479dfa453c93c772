"""Finding secrets on command lines: what `ps` shows every local user (/proc/PID/cmdline).

`secret_values` collects what must never appear there from a virtual kiosk's state
directory: the fleet admin password and the body of every PEM private key (the broker's,
the fleet server's, each kiosk's and service's). `scan_argv` reports, for one argv, any
of those values and any option that carries a secret itself (``--admin-password x``,
``--token=…``, ``-P pass``) rather than naming a file that holds it (``…-file``).
"""

from __future__ import annotations

import re
from pathlib import Path

SECRET_OPTION = re.compile(r"^--?[A-Za-z0-9_-]*(password|passwd|secret|token|api[-_]?key|private[-_]?key|pin)(=.*)?$",
                           re.IGNORECASE)
FILE_OPTION = re.compile(r"[-_](file|dir|path)(=.*)?$", re.IGNORECASE)
SHORT_SECRET_OPTIONS = {"-P", "--pw"}  # mosquitto_pub/sub's password flag
PEM_BODY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*(.*?)\s*-----END", re.DOTALL)


def secret_values(state_dir: Path) -> set[str]:
    """The admin password and, per private key file, its first and last base64 lines."""
    found: set[str] = set()
    password = state_dir / "fleet" / "admin-password"
    if password.exists():
        found.add(password.read_text().strip())
    for path in state_dir.rglob("*"):
        if not path.is_file() or path.stat().st_size > 64_000:
            continue
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        for body in PEM_BODY.findall(text):
            lines = [line for line in body.split() if len(line) >= 16]
            found.update(lines[:1] + lines[-1:])
    return {value for value in found if len(value) >= 6}


def scan_argv(argv: list[str], secrets: set[str]) -> list[str]:
    """What is wrong with this command line (empty: nothing)."""
    problems = []
    joined = " ".join(argv)
    problems += [f"a secret value ({value[:3]}…) in the arguments" for value in secrets if value in joined]
    if "PRIVATE KEY-----" in joined:
        problems.append("a PEM private key in the arguments")
    for arg in argv:
        if (SECRET_OPTION.match(arg) and not FILE_OPTION.search(arg.split("=", 1)[0])) or arg in SHORT_SECRET_OPTIONS:
            problems.append(f"option {arg.split('=', 1)[0]} passes a secret itself")
    return problems


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").rstrip("\0").split("\0")
    except OSError:
        return []  # it ended meanwhile
