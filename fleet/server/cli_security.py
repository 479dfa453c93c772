"""`kiosk-fleet` commands for an operator's credentials (over fleet/server/api_security):

    kiosk-fleet sessions [--all]                   my live login sessions (admin: everyone's)
    kiosk-fleet session revoke SESSION_ID
    kiosk-fleet token create NAME [--role viewer|operator|admin] [--days 30]   (prints the token once)
    kiosk-fleet token list [--all]
    kiosk-fleet token revoke TOKEN_ID
    kiosk-fleet password [--revoke-tokens]         change mine (prompts, or $KIOSK_FLEET_PASSWORD
                                                   and $KIOSK_FLEET_NEW_PASSWORD); logs out my other sessions

`cli.parser()` mounts them with `register(sub, table, dump)`; the table and JSON printers
are handed in so this module needs nothing from cli (no import cycle).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import Any


def register(sub, table: Callable[[list[list[str]], list[str]], str], dump: Callable[[Any, Any], int]) -> None:
    def cmd_sessions(api, args, out) -> int:
        rows = api.call("GET", "/api/sessions", params={"all": args.all})
        if args.json:
            return dump(rows, out)
        print(table([[r["session_id"] + (" *" if r["current"] else ""), r["username"], r["created_at"],
                      r["last_used_at"] or "-", r["source"] or "-", r["expires_at"]] for r in rows],
                    ["SESSION", "OPERATOR", "STARTED", "LAST USED", "FROM", "EXPIRES"]), file=out)
        return 0

    def cmd_session_revoke(api, args, out) -> int:
        row = api.call("DELETE", f"/api/sessions/{args.session_id}")
        print(f"session {row['session_id']} of {row['username']} revoked", file=out)
        return 0

    def cmd_token_create(api, args, out) -> int:
        row = api.call("POST", "/api/tokens", json={"name": args.name, "role": args.role, "days": args.days})
        if args.json:
            return dump(row, out)
        print(f"token {row['token_id']} ({row['role']}, expires {row['expires_at']}):", file=out)
        print(row["token"], file=out)
        print("shown only this once; use it as KIOSK_FLEET_TOKEN or Authorization: Bearer", file=out)
        return 0

    def cmd_token_list(api, args, out) -> int:
        rows = api.call("GET", "/api/tokens", params={"all": args.all})
        if args.json:
            return dump(rows, out)
        print(table([[r["token_id"], r["name"], r["username"], r["role"], r["created_at"], r["last_used_at"] or "-",
                      r["expires_at"]] for r in rows],
                    ["TOKEN", "NAME", "OPERATOR", "ROLE", "CREATED", "LAST USED", "EXPIRES"]), file=out)
        return 0

    def cmd_token_revoke(api, args, out) -> int:
        row = api.call("DELETE", f"/api/tokens/{args.token_id}")
        print(f"token {row['token_id']} ({row['name']}) of {row['username']} revoked", file=out)
        return 0

    def cmd_password(api, args, out) -> int:
        current = os.environ.get("KIOSK_FLEET_PASSWORD") or getpass.getpass("current password: ")
        new = os.environ.get("KIOSK_FLEET_NEW_PASSWORD")
        if not new:
            new = getpass.getpass("new password: ")
            if getpass.getpass("again: ") != new:
                print("kiosk-fleet: the new passwords differ", file=out)
                return 2
        result = api.call("POST", "/api/me/password", json={"current_password": current, "new_password": new,
                                                           "revoke_tokens": args.revoke_tokens})
        print(f"password changed; {result['sessions']} other session(s) and {result['tokens']} token(s) revoked",
              file=out)
        return 0

    s = sub.add_parser("sessions", help="my live login sessions (admin: --all for everyone's)")
    s.add_argument("--all", action="store_true")
    s.set_defaults(run=cmd_sessions)
    session = sub.add_parser("session", help="revoke a login session").add_subparsers(dest="session_command",
                                                                                    required=True)
    s = session.add_parser("revoke", help="its cookie or token stops working at once")
    s.add_argument("session_id")
    s.set_defaults(run=cmd_session_revoke)

    token = sub.add_parser("token", help="API tokens: role-scoped, expiring").add_subparsers(dest="token_command",
                                                                                            required=True)
    s = token.add_parser("create", help="a new token (printed once)")
    s.add_argument("name")
    s.add_argument("--role", default="viewer", choices=["viewer", "operator", "admin"], help="at most my own role")
    s.add_argument("--days", type=float, default=30.0, help="lifetime in days (1 hour to 365 days)")
    s.set_defaults(run=cmd_token_create)
    s = token.add_parser("list", help="my live tokens (admin: --all)")
    s.add_argument("--all", action="store_true")
    s.set_defaults(run=cmd_token_list)
    s = token.add_parser("revoke", help="the token stops working at once")
    s.add_argument("token_id")
    s.set_defaults(run=cmd_token_revoke)

    s = sub.add_parser("password", help="change my password (logs out my other sessions)")
    s.add_argument("--revoke-tokens", action="store_true", help="also revoke my API tokens")
    s.set_defaults(run=cmd_password)
