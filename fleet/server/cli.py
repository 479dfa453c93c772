"""`kiosk-fleet`: the operator CLI, over the fleet server's REST API.

    kiosk-fleet --url http://fleet:8080 login [--username NAME]   (password: prompt or $KIOSK_FLEET_PASSWORD)
    kiosk-fleet kiosks
    kiosk-fleet kiosk ID
    kiosk-fleet command ID NAME [key=value ...| JSON]   (waits for the result; --no-wait)
    kiosk-fleet config ID FILE                          (JSON or YAML settings; waits for reported)
    kiosk-fleet alerts [--all]
    kiosk-fleet audit [--limit N]
    kiosk-fleet label ID [--group G] [--tags a,b]          (groups and tags, for targeting rollouts)
    kiosk-fleet artifact upload BUNDLE | list [--all] | delete ARTIFACT_ID
    kiosk-fleet rollout create --artifact ID (--kiosks a,b | --group G | --tag T ...) [--stages 1,10%,50%,100%]
                               [--approve 2,3] [--success-percent 95] [--deadline-s S]
                               [--max-failures N] [--max-failure-percent P] [--min-finished N] [--allow-downgrade]
    kiosk-fleet rollout list | show ID [--wait] | pause ID | resume ID | cancel ID | approve ID [--stage N]
    kiosk-fleet sessions | session revoke ID | token create|list|revoke | password   (fleet.server.cli_security)
    kiosk-fleet keys generate ... | bundle build|sign|verify|inspect ...   (offline; fleet.bundle.cli)
    kiosk-fleet logout

`login` keeps the URL and token in $KIOSK_FLEET_TOKEN_FILE (default
~/.config/kiosk-fleet/session.json, mode 0600); $KIOSK_FLEET_URL and $KIOSK_FLEET_TOKEN
override them. `--json` prints what the API returned. Exit status: 0 done, 1 the
command or configuration failed on the kiosk, 2 usage or API error, 3 timed out.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

FINAL = {"succeeded", "failed", "refused", "expired", "timed_out"}


class CliError(Exception):
    pass


def session_file() -> Path:
    env = os.environ.get("KIOSK_FLEET_TOKEN_FILE")
    return Path(env) if env else Path.home() / ".config" / "kiosk-fleet" / "session.json"


def load_session() -> dict[str, str]:
    try:
        return json.loads(session_file().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def save_session(url: str, token: str, username: str) -> None:
    path = session_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token, "username": username}, f)


class Api:
    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=15)

    def call(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the fleet server at {self.client.base_url}: {exc}") from None
        if response.status_code == 401:
            raise CliError("not logged in (or the session expired): run `kiosk-fleet login`")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise CliError(f"{method} {path}: {response.status_code} {detail}")
        return response.json() if response.content else None


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _parse_args_words(words: list[str]) -> dict[str, Any]:
    """`key=value` words (values parsed as JSON when they are JSON) or one JSON object."""
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        parsed = json.loads(words[0])
        if not isinstance(parsed, dict):
            raise CliError("arguments must be a JSON object")
        return parsed
    args: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise CliError(f"argument {word!r}: want key=value")
        try:
            args[key] = json.loads(value)
        except ValueError:
            args[key] = value
    return args


def _load_settings(path: str) -> dict[str, Any]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CliError(f"{path}: settings must be a mapping")
    return data


def cmd_login(api: Api, args, out) -> int:
    username = args.username or os.environ.get("KIOSK_FLEET_USERNAME") or input("username: ")
    password = os.environ.get("KIOSK_FLEET_PASSWORD") or getpass.getpass("password: ")
    result = api.call("POST", "/api/login", json={"username": username, "password": password})
    save_session(str(api.client.base_url), result["token"], username)
    print(f"logged in as {username} ({result['role']})", file=out)
    return 0


def cmd_logout(api: Api, args, out) -> int:
    api.call("POST", "/api/logout")
    session_file().unlink(missing_ok=True)
    print("logged out", file=out)
    return 0


def cmd_kiosks(api: Api, args, out) -> int:
    kiosks = api.call("GET", "/api/kiosks")
    if args.json:
        return _dump(kiosks, out)
    rows = [[k["kiosk_id"], k["status"], k["last_seen"] or "-",
             " ".join(f"{d['kind']}:{d['state']}" for d in k["devices"]) or "-",
             str(k["open_alerts"]), _pct(k["cpu_percent"]), _pct(k["memory_percent"]), _pct(k["disk_percent"]),
             k["app_version"] or "-", k["config_state"]] for k in kiosks]
    print(_table(rows, ["KIOSK", "STATUS", "LAST SEEN", "DEVICES", "ALERTS", "CPU", "MEM", "DISK", "VERSION", "CONFIG"]), file=out)
    return 0


def cmd_kiosk(api: Api, args, out) -> int:
    k = api.call("GET", f"/api/kiosks/{args.kiosk_id}")
    if args.json:
        return _dump(k, out)
    print(f"{k['kiosk_id']}: {k['status']} (session {k['session']}, last seen {k['last_seen']}, version {k['app_version']})", file=out)
    print("devices:", file=out)
    for d in k["devices"]:
        extra = ", ".join(f"{c} {v}" for c, v in d["consumables"].items())
        print(f"  {d['kind']:8} {d['state']:7} {d['reason']} {extra}".rstrip(), file=out)
    print("open alerts:", file=out)
    for a in k["alerts"]:
        if not a["cleared_at"]:
            print(f"  [{a['severity']}] {a['kind']} {a['device']}: {a['message']}", file=out)
    c = k["config"]
    print(f"config: desired v{c['desired_version']}, reported v{c['reported_version']} ({c['state']})", file=out)
    print("recent commands:", file=out)
    for cmd in k["commands"][:10]:
        print(f"  {cmd['created_at']} {cmd['name']} by {cmd['operator']}: {cmd['status']}", file=out)
    return 0


def cmd_command(api: Api, args, out) -> int:
    body = {"name": args.name, "args": _parse_args_words(args.args), "ttl_s": args.ttl}
    command = api.call("POST", f"/api/kiosks/{args.kiosk_id}/commands", json=body)
    if not args.no_wait:
        deadline = time.monotonic() + args.timeout
        while command["status"] not in FINAL and time.monotonic() < deadline:
            time.sleep(0.2)
            command = api.call("GET", f"/api/commands/{command['command_id']}")
    if args.json:
        _dump(command, out)
    else:
        result = command.get("result") or {}
        print(f"{command['command_id']} {command['name']} on {command['kiosk_id']}: {command['status']}"
              + (f" — {result.get('detail')}" if result.get("detail") else ""), file=out)
        if result.get("payload"):
            print(json.dumps(result["payload"], indent=2, ensure_ascii=False), file=out)
    if command["status"] == "succeeded" or (args.no_wait and command["status"] in ("sent", "accepted")):
        return 0
    return 3 if command["status"] not in FINAL else 1


def cmd_config(api: Api, args, out) -> int:
    settings = _load_settings(args.file)
    version = api.call("PUT", f"/api/kiosks/{args.kiosk_id}/config", json=settings)["version"]
    config = api.call("GET", f"/api/kiosks/{args.kiosk_id}/config")
    if not args.no_wait:
        deadline = time.monotonic() + args.timeout
        while config["reported_version"] != version and time.monotonic() < deadline:
            time.sleep(0.2)
            config = api.call("GET", f"/api/kiosks/{args.kiosk_id}/config")
    if args.json:
        return _dump(config, out)
    reported = config.get("reported") or {}
    print(f"{args.kiosk_id}: desired v{version}, reported v{config['reported_version']} — {config['state']}"
          + (f" ({reported.get('reason')})" if reported.get("reason") else ""), file=out)
    if config["state"] == "applied" or (args.no_wait and config["state"] == "pending"):
        return 0
    return 3 if config["state"] == "pending" else 1


def cmd_alerts(api: Api, args, out) -> int:
    alerts = api.call("GET", "/api/alerts", params={"open_only": not args.all})
    if args.json:
        return _dump(alerts, out)
    rows = [[a["opened_at"], a["kiosk_id"], a["severity"], a["kind"], a["device"], a["message"],
             "cleared" if a["cleared_at"] else "open"] for a in alerts]
    print(_table(rows, ["OPENED", "KIOSK", "SEVERITY", "KIND", "DEVICE", "MESSAGE", "STATE"]), file=out)
    return 0


def cmd_audit(api: Api, args, out) -> int:
    entries = api.call("GET", "/api/audit", params={"limit": args.limit})
    if args.json:
        return _dump(entries, out)
    rows = [[e["at"], e["operator"], e["action"], e["target"], e["outcome"], json.dumps(e["detail"], ensure_ascii=False)]
            for e in entries]
    print(_table(rows, ["AT", "OPERATOR", "ACTION", "TARGET", "OUTCOME", "DETAIL"]), file=out)
    return 0


def cmd_label(api: Api, args, out) -> int:
    current = {label["kiosk_id"]: label for label in api.call("GET", "/api/labels")}.get(args.kiosk_id, {})
    body = {"group": args.group if args.group is not None else current.get("group"),
            "tags": _words(args.tags) if args.tags is not None else current.get("tags", [])}
    if body["group"] == "":
        body["group"] = None
    label = api.call("PUT", f"/api/kiosks/{args.kiosk_id}/labels", json=body)
    if args.json:
        return _dump(label, out)
    print(f"{label['kiosk_id']}: group {label['group'] or '-'}, tags {', '.join(label['tags']) or '-'}", file=out)
    return 0


def _words(text: str | None) -> list[str]:
    return [w.strip() for w in (text or "").replace(" ", ",").split(",") if w.strip()]


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def cmd_artifact_upload(api: Api, args, out) -> int:
    with open(args.bundle, "rb") as fh:
        art = api.call("POST", "/api/artifacts", content=fh, headers={"Content-Type": "application/octet-stream"})
    if args.json:
        return _dump(art, out)
    print(f"artifact {art['artifact_id']}: {art['package']} {art['version']}, {_size(art['size'])}, "
          f"sha256 {art['sha256']}, signed by {art['key_id']}", file=out)
    return 0


def cmd_artifact_list(api: Api, args, out) -> int:
    arts = api.call("GET", "/api/artifacts", params={"include_deleted": args.all})
    if args.json:
        return _dump(arts, out)
    rows = [[a["artifact_id"], a["package"], a["version"], _size(a["size"]), a["sha256"][:16], a["uploaded_by"],
             a["uploaded_at"], "deleted" if a["deleted_at"] else ""] for a in arts]
    print(_table(rows, ["ARTIFACT", "PACKAGE", "VERSION", "SIZE", "SHA256", "BY", "UPLOADED", ""]), file=out)
    return 0


def cmd_artifact_delete(api: Api, args, out) -> int:
    api.call("DELETE", f"/api/artifacts/{args.artifact_id}")
    print(f"artifact {args.artifact_id} deleted", file=out)
    return 0


def cmd_rollout_create(api: Api, args, out) -> int:
    approve = {int(n) for n in _words(args.approve)}
    stages = [{"size": int(s) if s.isdigit() else s, "approval": i + 1 in approve}
              for i, s in enumerate(_words(args.stages))]
    abort: dict[str, Any] = {"min_finished": args.min_finished}  # the rest: the server's defaults
    if args.max_failures is not None:
        abort["max_failures"] = args.max_failures
    if args.no_percent:
        abort["max_failure_percent"] = None
    elif args.max_failure_percent is not None:
        abort["max_failure_percent"] = args.max_failure_percent
    body = {"artifact_id": args.artifact, "name": args.name or "", "stages": stages,
            "target": {"kiosks": _words(args.kiosks), "groups": args.group or [], "tags": args.tag or []},
            "success_percent": args.success_percent, "deadline_s": args.deadline_s, "abort": abort,
            "allow_downgrade": args.allow_downgrade}
    rollout = api.call("POST", "/api/rollouts", json=body)
    return _show_rollout(rollout, args, out)


def cmd_rollout_list(api: Api, args, out) -> int:
    rollouts = api.call("GET", "/api/rollouts", params={"limit": args.limit})
    if args.json:
        return _dump(rollouts, out)
    rows = [[r["rollout_id"], r["name"] or "-", r["version"], r["status"],
             "-" if r["current_stage"] is None else f"{r['current_stage'] + 1}/{r['stage_count']}",
             f"{r['committed']}/{r['total']}", str(r["failed"]), r["created_by"], r["created_at"]] for r in rollouts]
    print(_table(rows, ["ROLLOUT", "NAME", "VERSION", "STATUS", "STAGE", "COMMITTED", "FAILED", "BY", "CREATED"]), file=out)
    return 0


def cmd_rollout_show(api: Api, args, out) -> int:
    rollout = api.call("GET", f"/api/rollouts/{args.rollout_id}")
    if args.wait:
        deadline = time.monotonic() + args.timeout
        while rollout["status"] in ("running", "paused", "waiting_approval") and time.monotonic() < deadline:
            time.sleep(0.5)
            rollout = api.call("GET", f"/api/rollouts/{args.rollout_id}")
    code = _show_rollout(rollout, args, out)
    if args.wait:
        return {"completed": 0, "aborted": 1, "cancelled": 1}.get(rollout["status"], 3)
    return code


def _rollout_action(action: str):
    def run(api: Api, args, out) -> int:
        params = {"stage": args.stage} if getattr(args, "stage", None) else None
        return _show_rollout(api.call("POST", f"/api/rollouts/{args.rollout_id}/{action}", params=params), args, out)
    return run


def _show_rollout(r: dict[str, Any], args, out) -> int:
    if args.json:
        return _dump(r, out)
    print(f"rollout {r['rollout_id']} {r['name'] or ''}: {r['version']} (artifact {r['artifact_id']}) — {r['status']}"
          + (f": {r['status_reason']}" if r["status_reason"] else ""), file=out)
    print(f"  {r['committed']} of {r['total']} committed, {r['failed']} failed, {r['in_progress']} in progress, "
          f"{r['not_asked']} not asked{' (downgrade allowed)' if r['allow_downgrade'] else ''}", file=out)
    for s in r["stages"]:
        gate = " approval" + (f" by {s['approved_by']}" if s["approved_by"] else " needed") if s["requires_approval"] else ""
        print(f"  stage {s['index'] + 1} ({s['spec']}, {s['size']} kiosks, needs {s['needed']}{gate}): {s['status']}"
              f" — {s['committed']} committed, {s['failed']} failed", file=out)
    rows = [[k["kiosk_id"], str(k["stage"] + 1), k["state"] + (f" {k['progress']:.0f}%" if k["progress"] is not None
                                                                 and k["state"] == "downloading" else ""),
             k["reason"] or "-", k["current_version"] or "-", (k["detail"] or "")[:60]] for k in r["kiosks"]]
    print(_table(rows, ["KIOSK", "STAGE", "STATE", "REASON", "RUNS", "DETAIL"]), file=out)
    return 0


def _dump(data: Any, out) -> int:
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk-fleet", description="Operate the kiosk fleet through the fleet server's API.")
    p.add_argument("--url", help="fleet server URL (default: from login, $KIOSK_FLEET_URL, http://127.0.0.1:8080)")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("login", help="log in and keep the session")
    s.add_argument("--username")
    s.set_defaults(run=cmd_login)
    sub.add_parser("logout", help="end the session").set_defaults(run=cmd_logout)
    sub.add_parser("kiosks", help="every kiosk with its health at a glance").set_defaults(run=cmd_kiosks)
    s = sub.add_parser("kiosk", help="one kiosk in detail")
    s.add_argument("kiosk_id")
    s.set_defaults(run=cmd_kiosk)
    s = sub.add_parser("command", help="send a command and wait for its result")
    s.add_argument("kiosk_id")
    s.add_argument("name", help="reboot, restart_app, self_test, fetch_logs, screenshot, set_out_of_service")
    s.add_argument("args", nargs="*", help="key=value ... or one JSON object")
    s.add_argument("--ttl", type=float, default=300.0, help="seconds before the command expires")
    s.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the result")
    s.add_argument("--no-wait", action="store_true")
    s.set_defaults(run=cmd_command)
    s = sub.add_parser("config", help="push desired configuration from a JSON or YAML file ('-': stdin)")
    s.add_argument("kiosk_id")
    s.add_argument("file")
    s.add_argument("--timeout", type=float, default=30.0)
    s.add_argument("--no-wait", action="store_true")
    s.set_defaults(run=cmd_config)
    s = sub.add_parser("alerts", help="open alerts")
    s.add_argument("--all", action="store_true", help="include cleared ones")
    s.set_defaults(run=cmd_alerts)
    s = sub.add_parser("audit", help="the audit log (operators and admins)")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(run=cmd_audit)
    s = sub.add_parser("label", help="set a kiosk's group and tags (for targeting rollouts)")
    s.add_argument("kiosk_id")
    s.add_argument("--group", help="the kiosk's group ('' for none)")
    s.add_argument("--tags", help="comma-separated tags, replacing the old ones ('' for none)")
    s.set_defaults(run=cmd_label)

    artifact = sub.add_parser("artifact", help="signed update bundles on the server").add_subparsers(
        dest="artifact_command", required=True)
    s = artifact.add_parser("upload", help="upload a signed bundle (the server verifies it first)")
    s.add_argument("bundle")
    s.set_defaults(run=cmd_artifact_upload)
    s = artifact.add_parser("list", help="artifacts on the server")
    s.add_argument("--all", action="store_true", help="include deleted ones")
    s.set_defaults(run=cmd_artifact_list)
    s = artifact.add_parser("delete", help="delete an artifact no active rollout uses")
    s.add_argument("artifact_id")
    s.set_defaults(run=cmd_artifact_delete)

    rollout = sub.add_parser("rollout", help="staged rollouts of an artifact").add_subparsers(
        dest="rollout_command", required=True)
    s = rollout.add_parser("create", help="start a staged rollout")
    s.add_argument("--artifact", required=True, help="artifact id (kiosk-fleet artifact list)")
    s.add_argument("--name")
    s.add_argument("--kiosks", help="comma-separated kiosk ids, canary first")
    s.add_argument("--group", action="append", help="every kiosk of this group (repeatable)")
    s.add_argument("--tag", action="append", help="every kiosk with this tag (repeatable)")
    s.add_argument("--stages", default="1,10%,50%,100%", help="cumulative sizes: counts or percentages")
    s.add_argument("--approve", default="", help="stage numbers that wait for an operator's approval, e.g. 2,3")
    s.add_argument("--success-percent", type=float, default=95.0, help="committed share of a stage to go on")
    s.add_argument("--deadline-s", type=float, help="a kiosk without a final report this long after its stage "
                                                     "started counts as failed")
    s.add_argument("--max-failures", type=int, help="abort at this many failed kiosks")
    s.add_argument("--max-failure-percent", type=float, help="abort at this %% of finished kiosks failed (default 10)")
    s.add_argument("--no-percent", action="store_true", help="no percentage rule (needs --max-failures)")
    s.add_argument("--min-finished", type=int, default=1, help="the percentage applies after this many finished")
    s.add_argument("--allow-downgrade", action="store_true")
    s.set_defaults(run=cmd_rollout_create)
    s = rollout.add_parser("list", help="rollouts, newest first")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(run=cmd_rollout_list)
    s = rollout.add_parser("show", help="a rollout: stages and every kiosk's state")
    s.add_argument("rollout_id")
    s.add_argument("--wait", action="store_true", help="until it completes (0), aborts/is cancelled (1) or --timeout (3)")
    s.add_argument("--timeout", type=float, default=3600.0)
    s.set_defaults(run=cmd_rollout_show)
    for action, text in (("pause", "stop asking further kiosks (those at work finish)"),
                         ("resume", "go on after a pause"),
                         ("cancel", "stop for good; withdraw updates not started yet"),
                         ("approve", "let the stage waiting for approval start")):
        s = rollout.add_parser(action, help=text)
        s.add_argument("rollout_id")
        if action == "approve":
            s.add_argument("--stage", type=int, help="stage number (default: the next one waiting)")
        s.set_defaults(run=_rollout_action(action))

    from fleet.bundle.cli import register  # keys generate, bundle build|sign|verify|inspect (offline)
    from fleet.server.cli_security import register as register_credentials

    register_credentials(sub, _table, _dump)
    register(sub)
    return p


def main(argv: list[str] | None = None, out=None) -> int:
    args = parser().parse_args(argv)
    out = out or sys.stdout
    if not hasattr(args, "run"):  # an offline command of fleet.bundle.cli (keys, bundle)
        from fleet.bundle.cli import run_command

        return run_command(args, "kiosk-fleet")
    saved = load_session()
    url = args.url or os.environ.get("KIOSK_FLEET_URL") or saved.get("url") or "http://127.0.0.1:8080"
    token = os.environ.get("KIOSK_FLEET_TOKEN") or (saved.get("token") if args.command != "login" else None)
    try:
        return args.run(Api(url, token), args, out)
    except (CliError, OSError, ValueError) as exc:
        print(f"kiosk-fleet: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
