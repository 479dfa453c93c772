"""A small real tmpfs for full-disk tests: ENOSPC comes from the kernel, not from a mock."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_disk(path: Path, size: str = "2m"):
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path, leave_bytes: int = 0) -> Path:
    """Write a filler file until at most `leave_bytes` are free; returns it (delete to free space)."""
    filler = path / "filler"
    with open(filler, "wb") as f:
        chunk = b"\0" * 65536
        while True:
            st = os.statvfs(path)
            free = st.f_bavail * st.f_frsize
            if free <= leave_bytes:
                break
            try:
                f.write(chunk[: max(1, min(len(chunk), free - leave_bytes))])
                f.flush()
                os.fsync(f.fileno())
            except OSError:
                break
    return filler
