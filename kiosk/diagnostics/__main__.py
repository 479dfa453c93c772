"""`python -m kiosk.diagnostics set-pin`: set the staff PIN of the diagnostics screen.

    sudo -u kiosk /opt/kiosk/current/venv/bin/python -m kiosk.diagnostics set-pin
    ... set-pin --state-dir DIR          (default $KIOSK_STATE_DIR, else /var/lib/kiosk/state)
    ... set-pin --stdin                  read the PIN from one line of stdin (provisioning scripts)
    ... show                             is a PIN set? (never prints the hash)

Setting a PIN also clears a running lockout. Exit 0 on success, 64 on a bad PIN or usage.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from kiosk.diagnostics.staff_auth import InvalidPin, StaffAuth, pin_file_summary

DEFAULT_STATE_DIR = Path("/var/lib/kiosk/state")  # `kiosk run`'s default --state-dir
EXIT_USAGE = 64


def state_dir_default() -> Path:
    return Path(os.environ.get("KIOSK_STATE_DIR") or DEFAULT_STATE_DIR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.diagnostics", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    set_pin = sub.add_parser("set-pin", help="set (or replace) the staff PIN")
    set_pin.add_argument("--state-dir", type=Path, default=None)
    set_pin.add_argument("--stdin", action="store_true", help="read the PIN from stdin instead of asking twice")
    show = sub.add_parser("show", help="whether a staff PIN is set")
    show.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    state_dir = args.state_dir or state_dir_default()

    if args.command == "show":
        print(json.dumps(pin_file_summary(state_dir)))
        return 0
    if args.stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass("New staff PIN (6-12 digits): ")
        if getpass.getpass("Again: ") != pin:
            print("set-pin: the two PINs differ; nothing changed", file=sys.stderr)
            return EXIT_USAGE
    try:
        StaffAuth(state_dir).set_pin(pin)
    except InvalidPin as e:
        print(f"set-pin: {e}; nothing changed", file=sys.stderr)
        return EXIT_USAGE
    print(f"set-pin: staff PIN stored (scrypt) in {state_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
