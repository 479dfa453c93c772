"""Child processes that die with their parent, even when the parent is killed with -9.

Linux's PR_SET_PDEATHSIG makes the kernel send the child a signal when the thread that
forked it dies, so a `kill -9` of `kiosk run --virtual` leaves no broker, fleet server, agent
or back office behind. Fork children from the main thread (or a thread that lives as long
as the process): the signal follows the forking *thread*.
"""

from __future__ import annotations

import ctypes
import signal
from typing import Any

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In the child, before exec: ask for `sig` when the parent dies (no-op where unsupported)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig))
    except (OSError, AttributeError):
        pass


def child_options() -> dict[str, Any]:
    """`subprocess.Popen` keyword arguments for a child that must not outlive us."""
    return {"preexec_fn": die_with_parent}
