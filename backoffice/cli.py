"""`kiosk-backoffice --port N --db FILE`: run the reference back office.

Fault flags set a single initial rule (scoped by --fault-prefix); change or clear faults
at run time with POST/DELETE /v1/_faults (docs/backoffice.md).
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from backoffice.app import Settings, create_app
from backoffice.faults import FaultConfig, FaultRule
from backoffice.server import uvicorn_config
from lifecycle.notify import SystemdNotifier


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kiosk-backoffice", description="Reference back office for the kiosk (FastAPI + SQLite).")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True, help="SQLite file (created if missing)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--pay-after", type=float, default=3.0, metavar="SECONDS",
                   help="payment orders turn paid by themselves after this many seconds; negative = never (default 3)")
    p.add_argument("--order-ttl", type=float, default=900.0, metavar="SECONDS", help="pending orders expire after this (default 900)")
    p.add_argument("--home-province", default="重庆市", help="province of this post office (postage)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--no-access-log", action="store_true")
    f = p.add_argument_group("faults (one initial rule; see POST /v1/_faults)")
    f.add_argument("--fault-prefix", default="/v1/", help="apply the fault flags to paths starting with this")
    f.add_argument("--latency-ms", type=int, default=0)
    f.add_argument("--error-rate", type=float, default=0.0, help="probability of a 5xx per request")
    f.add_argument("--fail-next", type=int, default=0, metavar="N", help="answer the next N requests with 5xx")
    f.add_argument("--error-status", type=int, default=503)
    f.add_argument("--drop-rate", type=float, default=0.0, help="probability of dropping the connection")
    f.add_argument("--drop-next", type=int, default=0, metavar="N")
    f.add_argument("--drop-phase", choices=["before", "after"], default="after",
                   help="drop before processing, or after committing (the answer is lost)")
    f.add_argument("--fault-seed", type=int, default=None)
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    rule = FaultRule(
        prefix=args.fault_prefix, latency_ms=args.latency_ms, error_rate=args.error_rate, error_next=args.fail_next,
        error_status=args.error_status, drop_rate=args.drop_rate, drop_next=args.drop_next, drop_phase=args.drop_phase,
    )
    active = rule != FaultRule(prefix=args.fault_prefix, drop_phase=args.drop_phase, error_status=args.error_status)
    return Settings(
        db_path=args.db,
        pay_after_s=args.pay_after if args.pay_after >= 0 else None,
        order_ttl_s=args.order_ttl,
        home_province=args.home_province,
        faults=FaultConfig(rules=[rule] if active else [], seed=args.fault_seed),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings_from(args))
    try:  # uvicorn turns SIGTERM / SIGINT into a graceful shutdown: open requests finish, then run() returns
        uvicorn.Server(uvicorn_config(app, args.host, args.port, log_level=args.log_level, access_log=not args.no_access_log)).run()
    finally:
        SystemdNotifier().stopping("closing the database")
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
