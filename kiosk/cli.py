"""`kiosk`: the kiosk's console command, one subcommand per job.

    kiosk run-flow NAME --answers FILE --devices sim --state-dir DIR [--backoffice URL]
    kiosk flows                       # the flow names run-flow accepts
    kiosk outbox flush --state-dir DIR --backoffice URL    # send what waits (docs/offline.md)
    kiosk outbox list --state-dir DIR

Each subcommand lives in its own module with `add_parser(subparsers)`, which registers
its arguments and sets `handler` (args -> exit status). Adding one (e.g. `kiosk run`,
the Kivy app) is one entry in `SUBCOMMANDS`; modules are imported only when listed here,
so `kiosk run-flow` never imports Kivy.
Entry point: `kiosk = "kiosk.cli:main"`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: tuple[str, ...] = (
    "kiosk.runflow",  # run-flow
    "kiosk.outbox_cli",  # outbox flush|list
    "kiosk.run",  # run (the Kivy UI; imports Kivy only when run)
    "kiosk.terminal.cli",  # terminal (the invoice terminal; Kivy only for its staff screen)
    "kiosk.cli",  # flows (below)
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("flows", help="list the flows `run-flow` can run")
    p.set_defaults(handler=_list_flows)


def _list_flows(args: argparse.Namespace) -> int:
    from flows.registry import FLOWS

    for name in FLOWS:
        print(name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Government self-service kiosk controller.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
