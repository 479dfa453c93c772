"""Secrets come from files, never from a command line (every local user can read `ps`).

A secret is read from a file that only its owner may read (mode 0600 or stricter), or from
systemd's credentials directory (`LoadCredential=NAME:/path` puts it in
$CREDENTIALS_DIRECTORY/NAME, readable by the service alone). A file others can read is
refused with a plain message: better not to start than to run on a leaked secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SecretFileError(ValueError):
    """The secret's file is missing, empty or readable by others (the message says which)."""


def read_secret_file(path: str | os.PathLike[str]) -> str:
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise SecretFileError(f"{path}: {e.strerror or 'cannot be read'}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(f"{path}: readable by others (mode {stat.S_IMODE(st.st_mode):04o}); chmod 600 it")
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SecretFileError(f"{path}: empty")
    return value


def credential(name: str) -> str | None:
    """systemd's credential NAME, when the service was started with LoadCredential=NAME:..."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory or not (Path(directory) / name).exists():
        return None
    return (Path(directory) / name).read_text(encoding="utf-8").strip() or None


def write_secret_file(path: str | os.PathLike[str], value: str) -> Path:
    """Create (or replace) a 0600 file holding `value`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(value + "\n")
    return path
