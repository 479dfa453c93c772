"""`kiosk outbox flush|list --state-dir DIR`: the submission outbox from the command line.

    kiosk outbox flush --state-dir DIR --backoffice URL
        Send everything queued, in order, then exit 0 (the queue is empty; writes the back
        office refused for good are parked and counted, not retried). While the back office
        cannot be reached it exits 1 with one plain line saying so and how much waits. Safe
        to kill at any moment and run again: nothing is lost or sent twice (flows/outbox/).
    kiosk outbox list --state-dir DIR [--json]
        What waits: sequence, kind, provisional reference, status, attempts, last error
        code, age. Never a body: the bodies (ID numbers, addresses) stay encrypted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from flows.outbox import CircuitBreaker, Forwarder, OutboxStore
from flows.outbox.store import DB_NAME

EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _open(state_dir: str) -> OutboxStore | None:
    path = Path(state_dir)
    if not (path / DB_NAME).exists():
        return None
    return OutboxStore(path)


async def flush(args: argparse.Namespace) -> int:
    from flows.services import HttpBackOffice

    store = _open(args.state_dir)
    if store is None:
        print(f"kiosk outbox flush: nothing queued in {args.state_dir}")
        return EXIT_OK
    try:
        async with HttpBackOffice(args.backoffice, retries=1, timeout=args.timeout, connect_timeout=2.0,
                                  backoff_initial=0.2, backoff_max=1.0) as backoffice:
            forwarder = Forwarder(store, backoffice, breaker=CircuitBreaker(base_s=0.5, max_s=2.0))
            report = await forwarder.drain(max_failures=args.max_failures)
        stats = store.stats()
    finally:
        store.close()
    parked = f", {stats.parked} parked (refused for good; see `kiosk outbox list`)" if stats.parked else ""
    if report.drained:
        print(f"kiosk outbox flush: sent {report.delivered}{parked}; nothing waits")
        return EXIT_OK
    print(f"kiosk outbox flush: the back office at {args.backoffice} cannot be reached ({report.last_error}); "
          f"{stats.depth} submission(s) wait, the oldest for {_age(stats.oldest_age_s)}{parked}")
    return EXIT_UNREACHABLE


def list_items(args: argparse.Namespace) -> int:
    store = _open(args.state_dir)
    items = store.items() if store is not None else []
    if store is not None:
        store.close()
    now = time.time()
    if args.json:
        for item in items:
            print(json.dumps({**item.model_dump(mode="json"), "age_s": round(now - item.created_at, 1)}))
        return EXIT_OK
    if not items:
        print("the outbox is empty")
        return EXIT_OK
    print(f"{'seq':>5}  {'kind':<24} {'reference':<24} {'status':<8} {'tries':>5}  {'last error':<24} age")
    for i in items:
        print(f"{i.seq:>5}  {i.kind:<24} {i.reference or '-':<24} {i.status:<8} {i.attempts:>5}  "
              f"{i.last_error or '-':<24} {_age(now - i.created_at)}")
    return EXIT_OK


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("outbox", help="the submission outbox: flush it to the back office, list what waits",
                              description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = p.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    f = sub.add_parser("flush", help="send everything queued; exit 0 when nothing waits, 1 while unreachable")
    f.add_argument("--state-dir", required=True, metavar="DIR")
    f.add_argument("--backoffice", required=True, metavar="URL")
    f.add_argument("--timeout", type=float, default=5.0, metavar="S", help="per request (default 5)")
    f.add_argument("--max-failures", type=int, default=3, metavar="N",
                   help="give up after N failed attempts in a row (default 3)")
    f.add_argument("--log-level", default="error", choices=["debug", "info", "warning", "error"])
    f.set_defaults(handler=_run_flush)
    ls = sub.add_parser("list", help="what waits (no personal data)")
    ls.add_argument("--state-dir", required=True, metavar="DIR")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(handler=_guard(list_items, "list"))


def _guard(fn: Any, name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except KeyboardInterrupt:
            return 130
        except Exception as e:  # one plain line, never a traceback
            print(f"kiosk outbox {name}: {type(e).__name__}: {e}", file=sys.stderr)
            return EXIT_UNREACHABLE
    return run


def _run_flush(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return _guard(lambda a: asyncio.run(flush(a)), "flush")(args)
