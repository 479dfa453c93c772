"""``kiosk-agent``: run the fleet agent (entry point `fleet.agent.cli:main`).

    kiosk-agent [--config /etc/kiosk-agent/agent.toml] [--kiosk-id ID] [-v]

Settings come from the TOML file and ``KIOSK_AGENT_*`` variables (`fleet.agent.settings`).
SIGTERM/SIGINT stop it cleanly (offline presence published, no last will); anything
harder leaves the broker to publish the will.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from pydantic import ValidationError

from fleet.agent.settings import AgentSettings
from lifecycle.signals import on_stop_signals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk-agent", description="Kiosk fleet agent (MQTT 5 over TLS)")
    parser.add_argument("--config", help="TOML settings file (default $KIOSK_AGENT_CONFIG or /etc/kiosk-agent/agent.toml)")
    parser.add_argument("--kiosk-id", help="override the kiosk id")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.config:
        os.environ["KIOSK_AGENT_CONFIG"] = args.config
    overrides = {"kiosk_id": args.kiosk_id} if args.kiosk_id else {}
    try:
        settings = AgentSettings(**overrides)
    except (ValidationError, FileNotFoundError) as exc:
        print(f"kiosk-agent: bad settings: {exc}", file=sys.stderr)
        return 2

    from fleet.agent.agent import Agent  # after settings: a bad config fails fast

    agent = Agent(settings)
    on_stop_signals(lambda _name: agent.stop())  # SIGTERM (systemctl stop) and SIGINT
    agent.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
