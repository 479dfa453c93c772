"""The unit files, udev rules and polkit rule in systemd/ are accepted by the real tools.

`systemd-analyze verify` runs against a temporary root laid out by
scripts/install-kiosk.sh --root ... --stub-venv (so /opt/kiosk/current/venv/bin/kiosk and
friends exist there, and only there), plus a copy of the host's own unit directory for
the targets our units hang off. systemd-analyze from the Debian `systemd` package.
`verify` exits 0 even for unknown keys and unparsable values (it only logs them), so a
unit passes only with exit status 0 AND no output at all.
"""

from __future__ import annotations

import grp
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO / "systemd"
INSTALL = REPO / "scripts" / "install-kiosk.sh"
HOST_UNIT_DIRS = [Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")]

OUR_UNITS = ["kiosk.service", "kiosk-terminal.service", "kiosk-session.service", "kiosk-agent.service",
             "kiosk-fleet-server.service"]

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze missing: apt-get install systemd",
)


# --- a tiny unit-file reader (systemd.syntax(7): keys may repeat) --------------------


def read_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {raw!r} outside a section"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit, section, key) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"{key}= appears {len(found)} times in [{section}]"
    return found[0]


# --- the verify root -----------------------------------------------------------------


def _stub(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)


def _exec_binaries(unit_file: Path) -> set[str]:
    binaries = set()
    for line in unit_file.read_text().splitlines():
        match = re.match(r"\s*Exec\w*=\s*([-@:+!|]*)(\S+)", line)
        if match and match.group(2).startswith("/"):
            binaries.add(match.group(2))
    return binaries


@pytest.fixture(scope="module")
def verify_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("verify-root")
    subprocess.run(
        ["bash", str(INSTALL), "--root", str(root), "--role", "all", "--stub-venv", "--version", "0.0.0-test"],
        check=True,
        capture_output=True,
    )
    # The host's units (targets, mosquitto.service, seatd.service if installed): only
    # what systemd needs to resolve dependencies, never anything of ours.
    unit_dir = root / "usr/lib/systemd/system"
    unit_dir.mkdir(parents=True)
    for host_dir in HOST_UNIT_DIRS:
        if host_dir.is_dir() and not host_dir.is_symlink():
            shutil.copytree(host_dir, unit_dir, symlinks=True, dirs_exist_ok=True)
            break
    (root / "bin").symlink_to("usr/bin")
    (root / "sbin").symlink_to("usr/sbin")
    # System binaries our units (and Debian's mosquitto.service) run: stubs inside the root.
    # /opt/kiosk binaries are NOT stubbed here: they must come from the install script.
    for unit_file in [*(root / "etc/systemd/system").glob("*.service"), unit_dir / "mosquitto.service"]:
        if unit_file.exists():
            for binary in _exec_binaries(unit_file):
                if not binary.startswith("/opt/"):
                    _stub(root / binary.lstrip("/"))
    return root


def verify(root: Path, unit: str) -> tuple[int, str]:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", unit],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, (result.stdout + result.stderr).strip()


@needs_analyze
@pytest.mark.parametrize("unit", OUR_UNITS)
def test_systemd_analyze_verify_passes(verify_root, unit):
    code, output = verify(verify_root, unit)
    assert (code, output) == (0, "")


@needs_analyze
def test_mosquitto_drop_in_verifies(verify_root):
    if not (verify_root / "usr/lib/systemd/system/mosquitto.service").exists():
        pytest.skip("mosquitto.service not on this host: apt-get install mosquitto")
    assert (verify_root / "etc/systemd/system/mosquitto.service.d/kiosk.conf").is_file()
    assert verify(verify_root, "mosquitto.service") == (0, "")


BROKEN = {
    "misspelt value": ("Type=notify", "Type=notfy"),
    "unknown key": ("NotifyAccess=main", "NotifyAccess=main\nWatchdogSecs=30"),
    "bad device rights": ("DeviceAllow=char-ttyUSB rw", "DeviceAllow=char-ttyUSB rwz"),
    "missing executable": ("venv/bin/kiosk run", "venv/bin/kiosk-not-installed run"),
    "missing dependency": ("BindsTo=kiosk-session.service", "BindsTo=kiosk-sesion.service"),
    "relative ExecStart": ("ExecStart=/opt/kiosk/current/venv/bin/kiosk run", "ExecStart=kiosk/run"),
}


@needs_analyze
@pytest.mark.parametrize("name", list(BROKEN))
def test_verify_catches_a_broken_unit(verify_root, name):
    """The check above can fail: each of these damaged copies of kiosk.service is caught."""
    old, new = BROKEN[name]
    text = (SYSTEMD_DIR / "kiosk.service").read_text()
    assert old in text
    broken = verify_root / "etc/systemd/system/kiosk-broken.service"
    broken.write_text(text.replace(old, new, 1))
    try:
        code, output = verify(verify_root, "kiosk-broken.service")
    finally:
        broken.unlink()
    assert code != 0 or output, f"verify accepted a unit with a {name}"


@needs_analyze
def test_verify_catches_a_broken_mosquitto_drop_in(verify_root):
    """Proves the drop-in is really read when mosquitto.service is verified."""
    if not (verify_root / "usr/lib/systemd/system/mosquitto.service").exists():
        pytest.skip("mosquitto.service not on this host: apt-get install mosquitto")
    drop_in = verify_root / "etc/systemd/system/mosquitto.service.d/kiosk.conf"
    original = drop_in.read_text()
    drop_in.write_text(original.replace("Restart=always", "Restart=allways"))
    try:
        code, output = verify(verify_root, "mosquitto.service")
    finally:
        drop_in.write_text(original)
    assert "allways" in output


EXPOSURE_LIMITS = {
    "kiosk.service": 2.5,
    "kiosk-terminal.service": 2.5,
    "kiosk-agent.service": 2.5,
    "kiosk-fleet-server.service": 2.5,
    "kiosk-session.service": 4.5,  # needs DRM, input and seatd: less can be locked down
}


@needs_analyze
@pytest.mark.parametrize("unit", list(EXPOSURE_LIMITS))
def test_security_exposure_stays_low(verify_root, unit):
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={verify_root}", "--no-pager", unit],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= EXPOSURE_LIMITS[unit]


# --- what the units must say ---------------------------------------------------------


def test_kiosk_service_watchdog_restart_and_confinement():
    unit = read_unit(SYSTEMD_DIR / "kiosk.service")
    service = "Service"
    assert one(unit, service, "ExecStart") == "/opt/kiosk/current/venv/bin/kiosk run"
    assert one(unit, service, "Type") == "notify"
    assert one(unit, service, "NotifyAccess") == "main"
    assert one(unit, service, "WatchdogSec") == "30"
    assert one(unit, service, "Restart") == "always"
    assert one(unit, service, "User") == "kiosk"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "DevicePolicy": "closed",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
        "LockPersonality": "yes",
        "RuntimeDirectory": "kiosk",
        "StateDirectory": "kiosk",
    }.items():
        assert one(unit, service, key) == value, key
    assert values(unit, service, "ReadWritePaths") == ["/var/lib/kiosk"]
    assert set(one(unit, service, "RestrictAddressFamilies").split()) == {
        "AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"
    }
    allowed = {v.split()[0] for v in values(unit, service, "DeviceAllow")}
    assert {"char-ttyUSB", "char-ttyACM", "char-usb_device", "char-video4linux", "char-drm"} <= allowed
    assert values(unit, "Unit", "StartLimitBurst") and values(unit, "Unit", "StartLimitIntervalSec")


def test_agent_may_update_releases_and_reach_the_control_socket():
    unit = read_unit(SYSTEMD_DIR / "kiosk-agent.service")
    assert one(unit, "Service", "ExecStart") == "/opt/kiosk/current/venv/bin/kiosk-agent"
    assert one(unit, "Service", "User") == "kiosk-agent"
    writable = one(unit, "Service", "ReadWritePaths").split()
    assert "/opt/kiosk" in writable and "/var/lib/kiosk-agent" in writable
    assert "kiosk" in one(unit, "Service", "SupplementaryGroups").split()
    assert not values(unit, "Unit", "Requires") and not values(unit, "Unit", "BindsTo")


def test_fleet_server_runs_the_server_entry_point():
    unit = read_unit(SYSTEMD_DIR / "kiosk-fleet-server.service")
    assert one(unit, "Service", "ExecStart") == "/opt/kiosk/current/venv/bin/kiosk-fleet-server"
    assert one(unit, "Service", "User") == "kiosk-fleet"


@pytest.mark.parametrize("unit_name", ["kiosk.service", "kiosk-session.service", "kiosk-agent.service"])
def test_supplementary_groups_exist_on_this_debian_host(unit_name):
    unit = read_unit(SYSTEMD_DIR / unit_name)
    ours = {"kiosk", "kiosk-agent"}
    for group in one(unit, "Service", "SupplementaryGroups").split():
        if group not in ours:
            grp.getgrnam(group)  # KeyError if Debian has no such group


def test_session_serves_the_socket_the_app_connects_to():
    session = read_unit(SYSTEMD_DIR / "kiosk-session.service")
    app = read_unit(SYSTEMD_DIR / "kiosk.service")
    assert one(session, "Service", "ExecStart").startswith("/usr/bin/cage ")
    runtime = "/run/" + one(session, "Service", "RuntimeDirectory")
    assert f"XDG_RUNTIME_DIR={runtime}" in " ".join(values(session, "Service", "Environment"))
    assert f"WAYLAND_DISPLAY={runtime}/wayland-0" in " ".join(values(app, "Service", "Environment"))


# --- udev rules ----------------------------------------------------------------------

# udev(7): match keys take == or !=, assignment keys =, += , -= or :=.
MATCH_KEYS = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SYMLINK", "SUBSYSTEM", "SUBSYSTEMS",
              "DRIVER", "DRIVERS", "ATTR", "ATTRS", "ENV", "TAG", "TAGS", "TEST", "PROGRAM", "RESULT",
              "SYSCTL", "CONST"}
ASSIGN_KEYS = {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV", "TAG",
               "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS"}
KEYS_WITH_ATTR = {"ATTR", "ATTRS", "ENV", "TEST", "SYSCTL", "CONST", "IMPORT", "RUN", "SECLABEL"}
TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_udev_rule(line: str) -> list[tuple[str, str | None, str, str]]:
    """Parse one rule line into (key, attr, operator, value); ValueError if malformed."""
    tokens, pos = [], 0
    while pos < len(line):
        match = TOKEN.match(line, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot parse at column {pos}: {line[pos:pos + 30]!r}")
        key, attr, op, value = match.groups()
        is_match = op in ("==", "!=")
        if is_match and key not in MATCH_KEYS or not is_match and key not in ASSIGN_KEYS:
            raise ValueError(f"{key}{op} is not a valid {'match' if is_match else 'assignment'}")
        if (attr is not None) != (key in KEYS_WITH_ATTR):
            raise ValueError(f"{key} {'needs' if attr is None else 'takes no'} {{attribute}}")
        if key == "MODE" and not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError(f"MODE {value!r} is not octal")
        tokens.append((key, attr, op, value))
        pos = match.end()
    return tokens


def udev_rules(path: Path) -> list[list[tuple[str, str | None, str, str]]]:
    rules, pending = [], ""
    for raw in path.read_text().splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1]
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            rules.append(parse_udev_rule(line))
    return rules


RULES = SYSTEMD_DIR / "udev" / "99-kiosk-devices.rules"


def test_udev_rules_parse():
    assert len(udev_rules(RULES)) >= 5


@pytest.mark.parametrize(
    "bad",
    [
        'SUBSYSTEM=="tty", ATTRS{idVendor}=="1a86" SYMLINK+="kiosk/idcard"',  # missing comma
        'SUBSYSTEM=="tty", ATTRS{idVendor}="1a86", SYMLINK+="kiosk/idcard"',  # assignment to a match key
        'SUBSYSTEM=="tty", GROUP=="dialout"',  # match on an assignment-only key
        'SUBSYSTEM=="tty", ATTRS=="x"',  # ATTRS without {attribute}
        'SUBSYSTEM=="tty", MODE="rw-rw----"',
        'SUBSYSTEM=="tty", SYMLINK+="kiosk/bp',  # unterminated quote
    ],
)
def test_udev_parser_rejects_broken_rules(bad):
    with pytest.raises(ValueError):
        parse_udev_rule(bad)


def test_udev_rules_name_every_kiosk_device_with_group_and_mode():
    named = {}
    for rule in udev_rules(RULES):
        symlinks = [v for k, _, op, v in rule if k == "SYMLINK" and op == "+="]
        if not symlinks:
            continue
        fields = {(k, a): v for k, a, _, v in rule}
        vendor = fields.get(("ATTRS", "idVendor")) or fields.get(("ATTR", "idVendor"))
        product = fields.get(("ATTRS", "idProduct")) or fields.get(("ATTR", "idProduct"))
        assert vendor and re.fullmatch(r"[0-9a-f]{4}", vendor), rule
        assert product and re.fullmatch(r"[0-9a-f]{4}", product), rule
        assert fields.get(("MODE", None)) == "0660"
        grp.getgrnam(fields[("GROUP", None)])
        for link in symlinks:
            named[link] = (vendor, product, fields)
    assert set(named) == {f"kiosk/{n}" for n in ("idcard", "bp", "eye", "height", "printer", "camera", "cardreader",
                                                          "doccam")}
    # Devices that share a common bridge chip are told apart by the bridge's serial.
    for name in ("bp", "eye", "height", "cardreader"):
        assert ("ATTRS", "serial") in named[f"kiosk/{name}"][2]


def test_udevadm_verify_when_available():
    """systemd >= 254 has `udevadm verify`; Debian 12 has 252, where the parser above stands in."""
    if shutil.which("udevadm") is None:
        pytest.skip("udevadm missing")
    probe = subprocess.run(["udevadm", "verify", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("udevadm has no verify verb (systemd < 254)")
    result = subprocess.run(["udevadm", "verify", "--resolve-names=never", str(RULES)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --- polkit rule ---------------------------------------------------------------------

POLKIT_RULE = SYSTEMD_DIR / "polkit" / "50-kiosk-agent.rules"
POLKIT_HARNESS = """
const fs = require("fs");
let rule = null;
const polkit = {Result: {YES: "yes", NO: "no", NOT_HANDLED: undefined},
                addRule(f) { rule = f; }};
eval(fs.readFileSync(process.argv[2], "utf8"));
const cases = JSON.parse(process.argv[3]);
const out = cases.map(([user, id, details]) => rule(
    {id: id, lookup: (k) => details[k]}, {user: user}) || "not-handled");
console.log(JSON.stringify(out));
"""


def test_polkit_rule_allows_only_the_agent_and_only_kiosk_units(tmp_path):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node missing: the polkit rule is JavaScript (apt-get install nodejs)")
    import json

    manage = "org.freedesktop.systemd1.manage-units"
    cases = [
        ["kiosk-agent", manage, {"unit": "kiosk.service", "verb": "restart"}],
        ["kiosk-agent", manage, {"unit": "kiosk-session.service", "verb": "stop"}],
        ["kiosk-agent", manage, {"unit": "kiosk.service", "verb": "reset-failed"}],
        ["kiosk-agent", "org.freedesktop.login1.reboot", {}],
        ["kiosk-agent", manage, {"unit": "ssh.service", "verb": "restart"}],
        ["kiosk-agent", manage, {"unit": "kiosk.service", "verb": "mask"}],
        ["kiosk-agent", "org.freedesktop.systemd1.manage-unit-files", {}],
        ["kiosk", manage, {"unit": "kiosk.service", "verb": "restart"}],
        ["nobody", "org.freedesktop.login1.reboot", {}],
    ]
    harness = tmp_path / "harness.js"
    harness.write_text(POLKIT_HARNESS)
    result = subprocess.run([node, str(harness), str(POLKIT_RULE), json.dumps(cases)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["yes"] * 4 + ["not-handled"] * 5
