#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 / Ubuntu 24.04 machine: the Debian packages the
# kiosk and its tests need (through apt, with sudo when not root), then the Python package
# with its extras in .venv. Re-running does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev      # the interpreter and venv module (Debian splits them)
  libusb-1.0-0                          # pyusb's backend for the receipt printer
  libgl1 libglib2.0-0                   # OpenCV / Kivy runtime libraries
  libmtdev1                             # Kivy's touch input provider
  xvfb xauth                            # headless display for UI tests
  fonts-wqy-microhei                    # a CJK font whose face 0 draws Simplified Chinese
  espeak-ng                             # voice prompts
  libportaudio2                         # sounddevice's PortAudio: the hearing test's tones
  mosquitto                             # local MQTT broker for the fleet
  socat                                 # handy for poking serial ports by hand
  systemd udev                          # systemd-analyze verify / security on the shipped units
  postgresql                            # the fleet server's scale-out database (tests start their own)
  chromium                              # the fleet console's browser test (driven by Playwright)
  tzdata                                # time zones: service statistics count local (Asia/Shanghai) days
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the broker is started by whoever needs it (tests, kiosk run --virtual), not as a system service
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now mosquitto >/dev/null 2>&1 || true
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
stamp=.venv/.kiosk-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing the kiosk package with its extras into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
