"""`kiosk terminal`: the e-tax mailing centre's unattended invoice terminal.

    kiosk terminal --virtual                      simulators + reference back office + staff screen
    kiosk terminal --virtual --headless           no display: progress and alarms as JSON lines on stdout
    kiosk terminal --backoffice URL --invoice-printer usb://0416:5011 --label-printer usb://0fe6:811e

Virtual options: --applications N (seeded online applications, default 20), --requisition-every N
(default 5), --roll N (forms on the roll, default 500), --mismatch-rate R (wrong numbers injected
now and then, half from the tax core, half from the invoice system), --auto-staff (a simulated
staff member resolves holds), --fast (printers print instantly instead of at their real speed),
--exit-when-empty. Exit status: 0 done (or stopped by SIGTERM), 1 start failure.

On a real terminal (systemd/kiosk-terminal.service) the site settings come from the
environment, /etc/kiosk/terminal.env: KIOSK_TERMINAL_BACKOFFICE, KIOSK_TERMINAL_INVOICE_PRINTER,
KIOSK_TERMINAL_LABEL_PRINTER and KIOSK_TERMINAL_ID are the defaults of the options of the same names.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("terminal", help="the unattended invoice terminal (staff screen; --headless without)",
                              description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--virtual", action="store_true", help="printers on simulators and the reference back office")
    p.add_argument("--headless", action="store_true", help="no staff screen: JSON lines on stdout")
    env = os.environ.get
    p.add_argument("--backoffice", metavar="URL", default=env("KIOSK_TERMINAL_BACKOFFICE") or None)
    p.add_argument("--invoice-printer", metavar="URL", default=env("KIOSK_TERMINAL_INVOICE_PRINTER") or None)
    p.add_argument("--label-printer", metavar="URL", default=env("KIOSK_TERMINAL_LABEL_PRINTER") or None)
    p.add_argument("--terminal-id", default=env("KIOSK_TERMINAL_ID") or None,
                   help="required on a real terminal (default with --virtual: terminal-virtual-01)")
    p.add_argument("--state-dir", type=Path, metavar="DIR", help="paper ledger (a temporary one with --virtual)")
    p.add_argument("--applications", type=int, default=20)
    p.add_argument("--requisition-every", type=int, default=5)
    p.add_argument("--roll", type=int, default=500)
    p.add_argument("--mismatch-rate", type=float, default=0.0)
    p.add_argument("--auto-staff", action="store_true")
    p.add_argument("--fast", action="store_true", help="virtual printers print instantly")
    p.add_argument("--exit-when-empty", action="store_true")
    p.add_argument("--control-socket", type=Path, metavar="PATH", help="serve fleet events to the agent here")
    p.add_argument("--fleet", action="store_true",
                   help="with --virtual: also a local MQTT broker, the fleet server and this terminal's agent")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=main)


def options_from(args: argparse.Namespace, state_dir: Path):
    from kiosk.terminal.runtime import TerminalOptions

    return TerminalOptions(
        state_dir=state_dir, terminal_id=args.terminal_id, virtual=args.virtual, backoffice_url=args.backoffice,
        invoice_printer=args.invoice_printer, label_printer=args.label_printer, applications=args.applications,
        requisition_every=args.requisition_every, roll_size=args.roll, realtime=not args.fast,
        mismatch_rate=args.mismatch_rate, auto_staff=args.auto_staff, exit_when_empty=args.exit_when_empty,
        control_socket=args.control_socket, poll_s=1.0 if args.virtual else 5.0)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.virtual and not (args.backoffice and args.invoice_printer and args.label_printer and args.terminal_id):
        print("kiosk terminal: give --virtual, or --terminal-id, --backoffice URL, --invoice-printer and --label-printer"
              " (on a terminal: KIOSK_TERMINAL_ID, KIOSK_TERMINAL_BACKOFFICE, KIOSK_TERMINAL_INVOICE_PRINTER and"
              " KIOSK_TERMINAL_LABEL_PRINTER in /etc/kiosk/terminal.env)", file=sys.stderr)
        return 1
    args.terminal_id = args.terminal_id or "terminal-virtual-01"
    temp = tempfile.TemporaryDirectory(prefix="kiosk-terminal-") if args.state_dir is None else None
    state_dir = Path(temp.name) if temp else args.state_dir
    fleet = None
    try:
        if args.fleet and args.virtual:
            fleet = _start_fleet(args, state_dir)
        if args.headless:
            return asyncio.run(headless(options_from(args, state_dir), lang=args.lang))
        from kiosk.terminal.screen import run_staff_screen

        return run_staff_screen(options_from(args, state_dir), lang=args.lang)
    finally:
        if fleet is not None:
            fleet.stop()
        if temp is not None:
            temp.cleanup()


def _start_fleet(args: argparse.Namespace, state_dir: Path):
    """Broker + fleet server + agent (kiosk.virtual_fleet): paper holds show up as fleet alerts."""
    from kiosk.virtual_fleet import VirtualFleet

    if not VirtualFleet.available():
        print("kiosk terminal: mosquitto is not installed, so the terminal runs without its fleet", file=sys.stderr)
        return None
    args.control_socket = args.control_socket or state_dir / "run" / "control.sock"
    args.control_socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return VirtualFleet(state_dir, args.control_socket, kiosk_id=args.terminal_id).start()


async def headless(options, *, lang: str = "zh", out=None) -> int:
    """Run the terminal without a screen; one JSON line per finished errand and per alarm."""
    from kiosk.i18n import Translator
    from kiosk.terminal.runtime import TerminalRuntime

    out = out or sys.stdout
    tr = Translator(lang)
    runtime = TerminalRuntime(options)
    try:
        terminal = await runtime.start()
    except Exception as exc:  # a start failure is reported, not a traceback
        print(f"kiosk terminal: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        await runtime.close()
        return 1
    runtime.install_signal_handlers()
    seen: set[float] = set()
    done = [0]

    def report(status) -> None:
        for alarm in reversed(status.alarms):
            if alarm.at not in seen:
                seen.add(alarm.at)
                _line(out, {"alarm": alarm.level, "code": alarm.code, "hold": alarm.hold_id, "text": tr.msg(alarm.text)})
        if status.done != done[0]:
            done[0] = status.done
            record = terminal.records[-1]
            _line(out, {"done": status.done, "application": record.application_id, "kind": record.kind,
                        "invoice": record.invoice, "tracking": record.tracking_number,
                        "seconds": round(record.seconds, 2), "paper_left": status.paper_left,
                        "per_hour": status.per_hour})

    terminal.listeners.append(report)
    started = time.monotonic()
    try:
        await runtime.run()
    finally:
        status = terminal.status
        _line(out, {"summary": True, "done": status.done, "invoices": status.invoices,
                    "requisitions": status.requisitions, "holds_open": len(status.holds),
                    "paper_left": status.paper_left, "stopped_by_signal": runtime.stop.is_set() and not options.exit_when_empty,
                    "seconds": round(time.monotonic() - started, 1)})
        await runtime.close()
    return 0


def _line(out, record: dict) -> None:
    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
