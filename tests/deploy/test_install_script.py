"""scripts/install-kiosk.sh run into a temporary root (--root, --stub-venv).

Nothing outside tmp_path is touched: systemd-sysusers, systemd-tmpfiles and systemctl
all run with --root. Needs systemd-sysusers/-tmpfiles and systemctl (Debian `systemd`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install-kiosk.sh"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("systemd-sysusers", "systemd-tmpfiles", "systemctl")),
    reason="systemd tools missing: apt-get install systemd",
)
AS_ROOT = os.geteuid() == 0


def install(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), "--stub-venv", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path with type, mode, owner, inode, mtime and content or link target."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            payload = os.readlink(path)
        elif path.is_file():
            payload = path.read_bytes()
        else:
            payload = None
        state[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, st.st_ino, st.st_mtime_ns, payload)
    return state


def ids(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3])
    raise KeyError(name)


@pytest.fixture
def root(tmp_path) -> Path:
    target = tmp_path / "root"
    target.mkdir()
    return target


def test_layout_of_a_kiosk_install(root):
    install(root, "--version", "1.0.0")
    opt = root / "opt/kiosk"
    assert os.readlink(opt / "current") == "releases/1.0.0"  # relative: valid inside any root
    for exe in ("kiosk", "kiosk-agent", "kiosk-fleet-server"):
        assert os.access(opt / "current/venv/bin" / exe, os.X_OK)
    assert (opt / "releases/1.0.0/INSTALLED").read_text() == "install-kiosk.sh version=1.0.0 venv=stub\n"
    assert not (opt / "previous").exists()

    for unit in ("kiosk.service", "kiosk-session.service", "kiosk-agent.service"):
        assert (root / "etc/systemd/system" / unit).read_text() == (REPO / "systemd" / unit).read_text()
    assert (root / "etc/systemd/system/graphical.target.wants/kiosk.service").is_symlink()
    assert (root / "etc/systemd/system/multi-user.target.wants/kiosk-agent.service").is_symlink()
    assert not (root / "etc/systemd/system/kiosk-fleet-server.service").exists()  # server role only
    assert (root / "etc/udev/rules.d/99-kiosk-devices.rules").is_file()
    assert (root / "etc/polkit-1/rules.d/50-kiosk-agent.rules").is_file()
    assert (root / "etc/modules-load.d/kiosk.conf").is_file()
    assert (root / "etc/kiosk/kiosk.toml").is_file()

    users = {line.split(":")[0] for line in (root / "etc/passwd").read_text().splitlines()}
    assert {"kiosk", "kiosk-agent"} <= users and "kiosk-fleet" not in users

    modes = {
        "var/lib/kiosk": 0o750,
        "var/lib/kiosk-agent": 0o750,
        "etc/kiosk": 0o2750,
        "etc/kiosk-agent": 0o750,
        "opt/kiosk": 0o755,
    }
    for path, mode in modes.items():
        assert (root / path).stat().st_mode & 0o7777 == mode, path
    if AS_ROOT:  # ownership by the ids inside the root's own passwd
        kiosk, agent = ids(root, "kiosk"), ids(root, "kiosk-agent")
        assert ((root / "var/lib/kiosk").stat().st_uid, (root / "var/lib/kiosk").stat().st_gid) == kiosk
        assert (root / "opt/kiosk").stat().st_uid == agent[0]
        assert (root / "opt/kiosk/releases/1.0.0/venv/bin/kiosk").stat().st_uid == agent[0]
        assert (root / "etc/kiosk/kiosk.toml").stat().st_gid == kiosk[1]  # the app reads it by group


def test_server_role(root):
    install(root, "--role", "server", "--version", "1.0.0")
    assert (root / "etc/systemd/system/kiosk-fleet-server.service").is_file()
    assert (root / "etc/systemd/system/mosquitto.service.d/kiosk.conf").is_file()
    assert (root / "etc/systemd/system/multi-user.target.wants/kiosk-fleet-server.service").is_symlink()
    assert not (root / "etc/systemd/system/kiosk.service").exists()
    assert "kiosk-fleet:" in (root / "etc/passwd").read_text()
    assert (root / "var/lib/kiosk-fleet").is_dir()


def test_terminal_role_enables_the_invoice_terminal_instead_of_the_citizen_app(root):
    install(root, "--role", "terminal", "--version", "1.0.0")
    system = root / "etc/systemd/system"
    assert (system / "kiosk-terminal.service").read_text() == (REPO / "systemd/kiosk-terminal.service").read_text()
    assert (system / "graphical.target.wants/kiosk-terminal.service").is_symlink()
    assert not (system / "graphical.target.wants/kiosk.service").exists()  # installed, not enabled
    assert (system / "multi-user.target.wants/kiosk-agent.service").is_symlink()
    assert (root / "etc/kiosk/terminal.env").read_text() == (REPO / "systemd/terminal.env").read_text()
    assert not (system / "kiosk-fleet-server.service").exists()


def test_a_citizen_kiosk_gets_no_terminal_settings_file(root):
    install(root, "--version", "1.0.0")
    assert not (root / "etc/kiosk/terminal.env").exists()
    assert not (root / "etc/systemd/system/graphical.target.wants/kiosk-terminal.service").exists()


def test_second_run_changes_nothing(root):
    install(root, "--role", "all", "--version", "1.0.0")
    before = snapshot(root)
    second = install(root, "--role", "all", "--version", "1.0.0")
    assert snapshot(root) == before
    assert "installed /" not in second.stdout
    assert "already installed" in second.stdout


def test_changed_shipped_file_is_rewritten_but_site_edits_are_kept(root):
    install(root, "--version", "1.0.0")
    unit = root / "etc/systemd/system/kiosk.service"
    unit.write_text("stale\n")
    rules = root / "etc/udev/rules.d/99-kiosk-devices.rules"
    rules.write_text(rules.read_text().replace("CHANGE-ME-BP", "A10KBP01"))
    config = root / "etc/kiosk/kiosk.toml"
    config.write_text("# site config\n")

    result = install(root, "--version", "1.0.0")
    assert unit.read_text() == (REPO / "systemd/kiosk.service").read_text()
    assert "A10KBP01" in rules.read_text()
    assert config.read_text() == "# site config\n"
    assert "kept site-edited /etc/udev/rules.d/99-kiosk-devices.rules" in result.stdout


def test_upgrade_switches_current_and_keeps_previous_for_rollback(root):
    install(root, "--version", "1.0.0")
    install(root, "--version", "1.1.0")
    opt = root / "opt/kiosk"
    assert os.readlink(opt / "current") == "releases/1.1.0"
    assert os.readlink(opt / "previous") == "releases/1.0.0"
    assert (opt / "releases/1.0.0/venv/bin/kiosk").exists()

    install(root, "--activate", "1.0.0")  # roll back
    assert os.readlink(opt / "current") == "releases/1.0.0"
    assert os.readlink(opt / "previous") == "releases/1.1.0"
    assert not list(opt.glob(".*.new.*"))  # no temporary links left behind


def test_activate_refuses_a_missing_or_partial_release(root):
    install(root, "--version", "1.0.0")
    partial = root / "opt/kiosk/releases/2.0.0/venv/bin"
    partial.mkdir(parents=True)  # an interrupted install: no INSTALLED marker
    for version in ("2.0.0", "9.9.9"):
        result = install(root, "--activate", version, check=False)
        assert result.returncode != 0
        assert "is not installed" in result.stderr
    assert os.readlink(root / "opt/kiosk/current") == "releases/1.0.0"

    install(root, "--version", "2.0.0")  # the partial build is redone, then switched to
    assert (root / "opt/kiosk/releases/2.0.0/INSTALLED").is_file()
    assert os.readlink(root / "opt/kiosk/current") == "releases/2.0.0"


def test_switching_current_is_atomic(root):
    """A reader resolving `current` during many switches never finds it missing."""
    install(root, "--version", "1.0.0")
    install(root, "--version", "1.1.0")
    current = root / "opt/kiosk/current"
    seen: set[str] = set()
    failures: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                seen.add(os.readlink(current))
                os.stat(current / "venv/bin/kiosk")
            except OSError as exc:
                failures.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(30):
            install(root, "--activate", "1.0.0" if i % 2 == 0 else "1.1.0")
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert seen == {"releases/1.0.0", "releases/1.1.0"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "desk"], "--role must be"),
        (["--version", "../../etc"], "bad or missing version"),
        (["--frobnicate"], "unknown option"),
    ],
)
def test_bad_arguments_are_refused(root, args, message):
    result = install(root, *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (root / "opt").exists()


def test_relative_root_is_refused(tmp_path):
    result = subprocess.run(["bash", str(INSTALL), "--root", "relative/dir", "--stub-venv"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "absolute" in result.stderr
