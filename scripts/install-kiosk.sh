#!/usr/bin/env bash
# Install or upgrade the kiosk software on a Debian 12 host, or into a staging root.
#
#   /opt/kiosk/releases/<version>/venv   the release: a Python venv with the kiosk package
#   /opt/kiosk/releases/<version>/INSTALLED  written last: the release is complete
#   /opt/kiosk/current -> releases/<v>   switched atomically (rename(2)) after a release is complete
#   /opt/kiosk/previous -> releases/<u>  the release `current` pointed at before, for rollback
#   users kiosk, kiosk-agent (kiosk-fleet on the server) via sysusers.d
#   /var/lib/kiosk, /var/lib/kiosk-agent, /etc/kiosk, /etc/kiosk-agent via tmpfiles.d
#   units in /etc/systemd/system, udev rules, modules-load.d, the agent's polkit rule
#
# Idempotent: a second run with the same arguments changes nothing (files are only
# rewritten when their content differs; an installed release is not rebuilt; `current`
# is only touched when it must point elsewhere). Site-edited files (/etc/kiosk/*, the udev
# rules with their per-site serials) are installed only when absent.
#
# --root DIR installs into DIR instead of / (a staging tree, an image being built, or a
# test's temporary root): nothing outside DIR is touched, nothing is started. A real venv
# built under DIR has DIR in its script paths, so use --root either with --stub-venv (tests,
# CI) or from inside a chroot of DIR.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install-kiosk.sh [options]
  --root DIR        install into DIR instead of / (aliases: --destdir, --prefix)
  --role ROLE       kiosk (default: app, session, agent, udev), terminal (the invoice
                    terminal instead of the citizen app, with session, agent, udev),
                    server (fleet server, mosquitto drop-in) or all
  --version V       release version (default: the version in SOURCE/pyproject.toml)
  --source DIR      project source tree (default: this script's repository)
  --wheelhouse DIR  install the package from wheels in DIR, offline (default: from SOURCE)
  --python PY       interpreter for the venv (default: python3)
  --stub-venv       lay out the venv with stub executables instead of installing Python
                    packages (tests and CI: makes the units' ExecStart paths exist)
  --activate V      only switch `current` to the already installed release V
  -h, --help        this text
EOF
}

ROOT=/
ROLE=kiosk
VERSION=
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
WHEELHOUSE=
PYTHON=python3
STUB_VENV=0
ACTIVATE=

while [ $# -gt 0 ]; do
  case "$1" in
    --root|--destdir|--prefix) ROOT=${2:?"$1 needs a directory"}; shift 2 ;;
    --role) ROLE=${2:?}; shift 2 ;;
    --version) VERSION=${2:?}; shift 2 ;;
    --source) SOURCE=${2:?}; shift 2 ;;
    --wheelhouse) WHEELHOUSE=${2:?}; shift 2 ;;
    --python) PYTHON=${2:?}; shift 2 ;;
    --stub-venv) STUB_VENV=1; shift ;;
    --activate) ACTIVATE=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-kiosk: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "install-kiosk: $*" >&2; exit 1; }
say() { echo "install-kiosk: $*"; }

case "$ROLE" in kiosk|terminal|server|all) ;; *) die "--role must be kiosk, terminal, server or all" ;; esac
case "$ROOT" in /*) ;; *) die "--root must be an absolute path" ;; esac
[ -d "$ROOT" ] || die "root $ROOT does not exist"
ROOT=$(cd "$ROOT" && pwd)
R=${ROOT%/}                      # prefix for every path below: "" for the real system
REAL_SYSTEM=0; [ -z "$R" ] && REAL_SYSTEM=1
AS_ROOT=0; [ "$(id -u)" -eq 0 ] && AS_ROOT=1
# A terminal is a kiosk PC (session, agent, udev) whose app is the invoice terminal.
has_role() { [ "$ROLE" = all ] || [ "$ROLE" = "$1" ] || { [ "$1" = kiosk ] && [ "$ROLE" = terminal ]; }; }
# The app unit enabled: one of the two (they conflict). --role all installs both, enables kiosk.service.
APP_UNIT=kiosk.service; [ "$ROLE" = terminal ] && APP_UNIT=kiosk-terminal.service

valid_version() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; }

# --- helpers -------------------------------------------------------------------------

# install_file SRC DST MODE: write DST only if its content differs; atomic replace.
install_file() {
  local src=$1 dst=$R$2 mode=$3
  mkdir -p "$(dirname "$dst")"
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
    [ "$(stat -c %a "$dst")" = "$mode" ] || chmod "$mode" "$dst"
    return 0
  fi
  install -m "$mode" "$src" "$dst.new.$$"
  mv -f "$dst.new.$$" "$dst"
  say "installed $2"
}

# install_if_absent SRC DST MODE [OWNER:GROUP]: for files a site edits; never overwritten.
install_if_absent() {
  local src=$1 dst=$R$2 mode=$3 owner=${4:-}
  if [ -e "$dst" ]; then
    cmp -s "$src" "$dst" || say "kept site-edited $2 (shipped version: $src)"
    return 0
  fi
  mkdir -p "$(dirname "$dst")"
  install -m "$mode" "$src" "$dst.new.$$"
  [ -n "$owner" ] && chown_in_root "$owner" "$dst.new.$$"
  mv -f "$dst.new.$$" "$dst"
  say "installed $2"
}

# chown_in_root USER:GROUP PATH... by the ids in the target root's passwd/group, so it
# also works for users that exist only inside --root. Needs root; skipped otherwise.
chown_in_root() {
  local spec=$1; shift
  [ "$AS_ROOT" -eq 1 ] || return 0
  local user=${spec%%:*} group=${spec#*:} uid gid
  uid=$(awk -F: -v n="$user" '$1 == n { print $3 }' "$R/etc/passwd")
  gid=$(awk -F: -v n="$group" '$1 == n { print $3 }' "$R/etc/group")
  [ -n "$uid" ] && [ -n "$gid" ] || die "no user $user or group $group in $R/etc/passwd"
  local p
  for p in "$@"; do
    [ "$(stat -c %u:%g "$p")" = "$uid:$gid" ] || chown -h "$uid:$gid" "$p"
  done
}

# INSTALLED is the completion marker fleet/updates/installer.py uses as well, so releases
# installed by either one can be switched to (and rolled back to) by the other.
release_complete() { [ -f "$R/opt/kiosk/releases/$1/INSTALLED" ]; }

# switch_current V: point /opt/kiosk/current at releases/V with one rename(2), so every
# reader sees either the old or the new release, never a missing link.
switch_current() {
  local version=$1 base=$R/opt/kiosk target="releases/$1" old=""
  release_complete "$version" || die "release $version is not installed (no $base/$target/INSTALLED)"
  [ -L "$base/current" ] && old=$(readlink "$base/current")
  if [ "$old" = "$target" ]; then
    return 1  # nothing to do
  fi
  if [ -n "$old" ]; then
    ln -s "$old" "$base/.previous.new.$$"
    mv -T "$base/.previous.new.$$" "$base/previous"
  fi
  ln -s "$target" "$base/.current.new.$$"
  mv -T "$base/.current.new.$$" "$base/current"
  say "current -> $target${old:+ (previous -> $old)}"
  return 0
}

restart_if_running() {
  [ "$REAL_SYSTEM" -eq 1 ] && [ -d /run/systemd/system ] || return 0
  local units=()
  has_role kiosk && units+=("$APP_UNIT")
  has_role server && units+=(kiosk-fleet-server.service)
  systemctl try-restart "${units[@]}"
}

# --- --activate: switch only ---------------------------------------------------------

if [ -n "$ACTIVATE" ]; then
  valid_version "$ACTIVATE" || die "bad version: $ACTIVATE"
  if switch_current "$ACTIVATE"; then restart_if_running; fi
  exit 0
fi

# --- version and sources -------------------------------------------------------------

SYSTEMD_SRC=$SOURCE/systemd
[ -d "$SYSTEMD_SRC" ] || die "no systemd/ directory in $SOURCE"
if [ -z "$VERSION" ]; then
  VERSION=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$SOURCE/pyproject.toml" | head -n1)
fi
valid_version "$VERSION" || die "bad or missing version: '$VERSION' (give --version)"
if [ "$REAL_SYSTEM" -eq 0 ] && [ "$STUB_VENV" -eq 0 ]; then
  say "warning: a venv built under --root $ROOT has that prefix in its script paths"
fi

# --- users and directories -----------------------------------------------------------

SYSUSERS=(); TMPFILES=()
if has_role kiosk; then
  install_file "$SYSTEMD_SRC/sysusers.d/kiosk.conf" /etc/sysusers.d/kiosk.conf 644
  install_file "$SYSTEMD_SRC/tmpfiles.d/kiosk.conf" /etc/tmpfiles.d/kiosk.conf 644
  SYSUSERS+=(kiosk.conf); TMPFILES+=(kiosk.conf)
fi
if has_role server; then
  install_file "$SYSTEMD_SRC/sysusers.d/kiosk-fleet.conf" /etc/sysusers.d/kiosk-fleet.conf 644
  install_file "$SYSTEMD_SRC/tmpfiles.d/kiosk-fleet.conf" /etc/tmpfiles.d/kiosk-fleet.conf 644
  SYSUSERS+=(kiosk-fleet.conf); TMPFILES+=(kiosk-fleet.conf)
fi

# systemd-sysusers/-tmpfiles find these names in ROOT's sysusers.d/tmpfiles.d.
systemd-sysusers --root="$ROOT" "${SYSUSERS[@]}"
mkdir -p "$R/opt/kiosk/releases"
if [ "$AS_ROOT" -eq 1 ]; then
  systemd-tmpfiles --root="$ROOT" --create "${TMPFILES[@]}"
else
  # Not root: the directories without their owners (a staging tree for a later chown).
  for conf in "${TMPFILES[@]}"; do
    awk '$1 == "d" { print $2, $3 }' "$R/etc/tmpfiles.d/$conf" | while read -r path mode; do
      mkdir -p "$R$path"; chmod "$mode" "$R$path"
    done
  done
fi

# --- units, rules and config ---------------------------------------------------------

UNITS=()
if has_role kiosk; then
  for unit in kiosk.service kiosk-terminal.service kiosk-session.service kiosk-agent.service; do
    install_file "$SYSTEMD_SRC/$unit" "/etc/systemd/system/$unit" 644
  done
  UNITS+=("$APP_UNIT" kiosk-session.service kiosk-agent.service)
  install_file "$SYSTEMD_SRC/modules-load.d/kiosk.conf" /etc/modules-load.d/kiosk.conf 644
  install_file "$SYSTEMD_SRC/polkit/50-kiosk-agent.rules" /etc/polkit-1/rules.d/50-kiosk-agent.rules 644
  install_if_absent "$SYSTEMD_SRC/udev/99-kiosk-devices.rules" /etc/udev/rules.d/99-kiosk-devices.rules 644
  install_if_absent "$SYSTEMD_SRC/kiosk.env" /etc/kiosk/kiosk.env 640 kiosk-agent:kiosk
  if [ "$ROLE" != kiosk ]; then
    install_if_absent "$SYSTEMD_SRC/terminal.env" /etc/kiosk/terminal.env 640 kiosk-agent:kiosk
  fi
  if [ -f "$SOURCE/config/kiosk.example.toml" ]; then
    install_if_absent "$SOURCE/config/kiosk.example.toml" /etc/kiosk/kiosk.toml 640 kiosk-agent:kiosk
  fi
fi
if has_role server; then
  install_file "$SYSTEMD_SRC/kiosk-fleet-server.service" /etc/systemd/system/kiosk-fleet-server.service 644
  install_file "$SYSTEMD_SRC/mosquitto.service.d/kiosk.conf" /etc/systemd/system/mosquitto.service.d/kiosk.conf 644
  UNITS+=(kiosk-fleet-server.service)
fi

# --- the release ---------------------------------------------------------------------

REL=/opt/kiosk/releases/$VERSION
if release_complete "$VERSION"; then
  say "release $VERSION already installed"
else
  # Built in place (a venv cannot be moved), marked complete by INSTALLED only at the end;
  # `current` never points at a release without it. A leftover partial build is redone.
  rm -rf "$R$REL"
  mkdir -p "$R$REL/venv/bin" "$R$REL/docs"
  if [ "$STUB_VENV" -eq 1 ]; then
    for exe in kiosk kiosk-agent kiosk-fleet-server; do
      printf '#!/bin/sh\necho "%s: stub from install-kiosk.sh --stub-venv, not a real release" >&2\nexit 1\n' \
        "$exe" > "$R$REL/venv/bin/$exe"
      chmod 755 "$R$REL/venv/bin/$exe"
    done
  else
    "$PYTHON" -m venv "$R$REL/venv"
    pip=("$R$REL/venv/bin/python" -m pip install --no-input --disable-pip-version-check --quiet)
    if [ -n "$WHEELHOUSE" ]; then
      "${pip[@]}" --no-index --find-links "$WHEELHOUSE" "kiosk-controller==$VERSION"
    else
      "${pip[@]}" "$SOURCE"
    fi
  fi
  # The release carries its own deployment files, so the agent can reinstall them.
  cp -r "$SYSTEMD_SRC" "$R$REL/systemd"
  [ -f "$SOURCE/docs/deployment.md" ] && cp "$SOURCE/docs/deployment.md" "$R$REL/docs/"
  printf 'install-kiosk.sh version=%s venv=%s\n' "$VERSION" \
    "$([ "$STUB_VENV" -eq 1 ] && echo stub || echo python)" > "$R$REL/INSTALLED.new"
  mv -f "$R$REL/INSTALLED.new" "$R$REL/INSTALLED"
  has_role kiosk && [ "$AS_ROOT" -eq 1 ] && chown_in_root kiosk-agent:kiosk-agent \
    $(find "$R$REL" -print)
  say "release $VERSION installed in $REL"
fi

CHANGED=0
switch_current "$VERSION" && CHANGED=1

# --- systemd, udev -------------------------------------------------------------------

if [ "$REAL_SYSTEM" -eq 1 ]; then
  systemctl enable --quiet "${UNITS[@]}"
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if has_role kiosk; then
      udevadm control --reload
      udevadm trigger --action=add --subsystem-match=tty --subsystem-match=usb \
        --subsystem-match=video4linux
    fi
    [ "$CHANGED" -eq 1 ] && restart_if_running
  fi
  missing=()
  has_role kiosk && for pkg in cage seatd polkitd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  has_role server && { dpkg-query -W -f='${Status}' mosquitto 2>/dev/null | grep -q "install ok installed" || missing+=(mosquitto); }
  [ "${#missing[@]}" -eq 0 ] || say "warning: Debian packages missing: ${missing[*]} (apt-get install ${missing[*]})"
else
  # Offline: only the [Install] symlinks, inside the root.
  systemctl --root="$ROOT" enable --quiet "${UNITS[@]}"
fi
say "done: release $VERSION, role $ROLE, root $ROOT"
