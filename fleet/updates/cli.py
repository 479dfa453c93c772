"""`kiosk-updates`: the operator's offline bundle commands (`fleet.bundle.cli`) and the kiosk-side installer.

Operator commands (also mounted into ``kiosk-fleet``):

    keys generate --out DIR [--name NAME]            ed25519 key pair, made offline
    bundle build (--wheels DIR... | --project PATH [--no-deps]) --package NAME
                 [--version V] [--min-from V] -o OUT.bundle
    bundle sign BUNDLE --key KEY.key [-o OUT]
    bundle verify BUNDLE --trusted KEY [--trusted KEY ...] [--current V] [--allow-downgrade]
    bundle inspect BUNDLE                            manifest + size and sha256 of the file

Kiosk-side commands (standalone `main()` only; the agent calls the library instead):

    update apply --config FILE --url URL --version V [--sha256 H --size N] [--allow-downgrade]
    update resume --config FILE
    update status --config FILE

Every command prints one JSON object on stdout. Exit 0 = done, 2 = refused / failed /
rolled back (the JSON says why, with a reason code), 64 = usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import yaml

from fleet.bundle.cli import EXIT_REFUSED, EXIT_USAGE, print_json, register, run_command
from fleet.updates.health import CommandProbe, StatusFileProbe
from fleet.updates.installer import Updater, UpdaterConfig
from fleet.updates.models import UpdateRequest

__all__ = ["EXIT_REFUSED", "EXIT_USAGE", "main", "register", "register_kiosk", "run_command"]

# ---------------------------------------------------------------- kiosk side


class KioskUpdateConfig(UpdaterConfig):
    """UpdaterConfig plus how the standalone CLI probes health (the agent passes a probe object)."""

    health_status_file: Path | None = None
    health_command: list[str] | None = None


def load_config(path: Path) -> KioskUpdateConfig:
    return KioskUpdateConfig.model_validate(yaml.safe_load(Path(path).read_text()))


def _updater(args: argparse.Namespace) -> Updater:
    config = load_config(Path(args.config))
    if config.health_command:
        probe = CommandProbe(config.health_command)
    elif config.health_status_file:
        probe = StatusFileProbe(config.health_status_file)
    else:
        raise SystemExit("config needs health_status_file or health_command")
    show = None
    if getattr(args, "progress", False):
        show = lambda p: print(p.model_dump_json(exclude_none=True), file=sys.stderr, flush=True)  # noqa: E731
    return Updater(config, probe=probe, progress=show)


def cmd_update_apply(args: argparse.Namespace) -> int:
    request = UpdateRequest(
        version=args.version,
        url=args.url,
        sha256=args.sha256,
        size=args.size,
        rollout_id=args.rollout_id,
        allow_downgrade=args.allow_downgrade,
    )
    outcome = _updater(args).apply(request)
    print_json(outcome.model_dump(mode="json"))
    return 0 if outcome.status in ("committed", "noop", "deferred") else EXIT_REFUSED


def cmd_update_resume(args: argparse.Namespace) -> int:
    outcome = _updater(args).resume()
    print_json(outcome.model_dump(mode="json") if outcome else {"status": "nothing to resume"})
    return 0 if outcome is None or outcome.status in ("committed", "aborted") else EXIT_REFUSED


def cmd_update_status(args: argparse.Namespace) -> int:
    updater = _updater(args)
    print_json({"current_version": updater.current_version(), "state": updater.status().model_dump(mode="json")})
    return 0


def register_kiosk(subparsers: argparse._SubParsersAction) -> None:
    update = subparsers.add_parser("update", help="kiosk-side installer").add_subparsers(dest="update_command", required=True)
    apply = update.add_parser("apply", help="download, verify, install, switch, restart, commit or roll back")
    apply.add_argument("--config", required=True)
    apply.add_argument("--url", required=True)
    apply.add_argument("--version", required=True)
    apply.add_argument("--sha256")
    apply.add_argument("--size", type=int)
    apply.add_argument("--rollout-id", default="")
    apply.add_argument("--allow-downgrade", action="store_true")
    apply.add_argument("--progress", action="store_true", help="progress lines (JSON) on stderr")
    apply.set_defaults(func=cmd_update_apply)
    for name, func, text in (
        ("resume", cmd_update_resume, "finish or undo an interrupted install"),
        ("status", cmd_update_status, "print the current version and update state"),
    ):
        cmd = update.add_parser(name, help=text)
        cmd.add_argument("--config", required=True)
        cmd.set_defaults(func=func)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-updates", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    register_kiosk(sub)
    return run_command(parser.parse_args(argv), parser.prog)


if __name__ == "__main__":
    sys.exit(main())
