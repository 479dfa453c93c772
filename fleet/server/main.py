"""`kiosk-fleet-server`: the fleet server process (ingest + REST API + web console).

    kiosk-fleet-server --db sqlite:///fleet.db --mqtt broker:8883 --pki /etc/kiosk-fleet/pki \
        --http 8080 --admin-password-file /etc/kiosk-fleet/admin-password

--db takes any SQLAlchemy URL (SQLite by default, `postgresql+psycopg://user@host/db` at
scale); the schema is migrated at start. --pki DIR means DIR/ca.crt and
DIR/fleet-server.{crt,key} (the layout `python -m fleet.broker.certs` writes); --ca,
--cert and --key name the files one by one. --admin-password-file FILE (mode 0600), or the
systemd credential `admin-password` (LoadCredential=), creates the first admin when there is
no operator yet, and is ignored afterwards. No secret is ever taken from the command line.
--trusted-key (repeatable, or $FLEET_TRUSTED_KEYS) names the ed25519 keys an uploaded
update bundle must be signed by; --artifact-dir keeps the accepted bundles; --public-url
is this server as kiosks reach it, for the bundle URLs of rollouts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from fleet.protocol import SERVER_USERNAME
from fleet.server.db import DEFAULT_URL
from fleet.server.health_retention import RetentionSettings
from fleet.server.mqtt import MqttSettings
from fleet.server.notify import config as notify_config
from fleet.server.service import SERVER_VERSION, FleetServer, ServerSettings
from lifecycle.notify import SystemdNotifier
from lifecycle.secrets import SecretFileError, credential, read_secret_file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kiosk-fleet-server", description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)  # --admin-password must not pass for --admin-password-file
    p.add_argument("--db", default=os.environ.get("FLEET_DB_URL", DEFAULT_URL), help="SQLAlchemy database URL")
    p.add_argument("--mqtt", default="localhost:8883", metavar="HOST:PORT", help="the broker's TLS listener")
    p.add_argument("--pki", type=Path, help="directory with ca.crt and fleet-server.crt/.key")
    p.add_argument("--ca", type=Path, help="CA certificate that signed the broker's certificate")
    p.add_argument("--cert", type=Path, help="the server's client certificate (CN fleet-server)")
    p.add_argument("--key", type=Path, help="the server's private key")
    p.add_argument("--http", type=int, default=8080, metavar="PORT", help="port of the API and console")
    p.add_argument("--bind", default="127.0.0.1", help="address to serve HTTP on (default loopback)")
    p.add_argument("--admin-user", default="admin")
    p.add_argument("--admin-password-file", type=Path, metavar="FILE",
                   help="a 0600 file whose content creates the first admin on an empty database "
                        "(default: the systemd credential admin-password)")
    p.add_argument("--heartbeat-s", type=float, default=30.0,
                   help="heartbeat interval assumed for kiosks whose health does not say")
    p.add_argument("--missed-heartbeats", type=int, default=3, help="silent kiosks raise an offline alert after this many")
    p.add_argument("--artifact-dir", type=Path, default=Path(os.environ.get("FLEET_ARTIFACT_DIR", "fleet-artifacts")),
                   help="where uploaded update bundles are kept")
    p.add_argument("--trusted-key", action="append", default=[], metavar="KEY",
                   help="ed25519 public key (ed25519:<base64>, PEM or key file) uploads must be signed by; repeatable")
    p.add_argument("--public-url", default=os.environ.get("FLEET_PUBLIC_URL"),
                   help="this server's URL as kiosks reach it (bundle URLs); else kiosks resolve a relative URL "
                        "against their update_base_url")
    p.add_argument("--rollout-tick-s", type=float, default=1.0, help="how often rollouts look at reports and deadlines")
    p.add_argument("--notify-config", type=Path, default=os.environ.get("FLEET_NOTIFY_CONFIG"),
                   help="YAML/JSON file of alert notification channels and rules (docs/fleet-server.md)")
    p.add_argument("--ingest-workers", type=int, default=0, metavar="N",
                   help="run ingest in N processes on a shared subscription (PostgreSQL; needs --pki with "
                        "services/fleet-ingest.1..N certificates)")
    p.add_argument("--keep-raw-days", type=float, default=7.0, help="raw health samples are kept this long")
    p.add_argument("--keep-hourly-days", type=float, default=90.0, help="hourly health buckets are kept this long")
    p.add_argument("--keep-daily-days", type=float, default=0.0, help="daily health buckets: this long (0: for ever)")
    p.add_argument("--day-offset-hours", type=float, default=0.0,
                   help="daily buckets start at local midnight of UTC+this (8 for China); set it before data exists")
    p.add_argument("--retention-every-s", type=float, default=300.0,
                   help="how often the health downsampling/retention job runs (0: never; run it from cron)")
    p.add_argument("--secure-cookies", action="store_true", help="mark the session cookie Secure (HTTPS in front)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--version", action="version", version=SERVER_VERSION)
    return p.parse_args(argv)


def mqtt_settings(args: argparse.Namespace) -> MqttSettings:
    ca, cert, key = args.ca, args.cert, args.key
    if args.pki:
        ca = ca or args.pki / "ca.crt"
        cert = cert or args.pki / f"{SERVER_USERNAME}.crt"
        key = key or args.pki / f"{SERVER_USERNAME}.key"
    missing = [name for name, path in (("--ca", ca), ("--cert", cert), ("--key", key)) if path is None or not path.is_file()]
    if missing:
        raise SystemExit(f"kiosk-fleet-server: certificate files missing or not found: {', '.join(missing)} (or give --pki)")
    return MqttSettings.parse_address(args.mqtt, ca=str(ca), cert=str(cert), key=str(key))


def _env_keys() -> list[str]:
    """$FLEET_TRUSTED_KEYS: trusted update keys, separated by whitespace or commas."""
    return [k for k in os.environ.get("FLEET_TRUSTED_KEYS", "").replace(",", " ").split() if k]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    from fleet.server.webapp import create_app

    settings = ServerSettings(db_url=args.db, mqtt=mqtt_settings(args), default_heartbeat_s=args.heartbeat_s,
                              missed_heartbeats=args.missed_heartbeats, secure_cookies=args.secure_cookies,
                              artifact_dir=args.artifact_dir, artifact_base_url=args.public_url,
                              trusted_keys=args.trusted_key + _env_keys(), rollout_tick_s=args.rollout_tick_s)
    settings.ingest_workers, settings.pki_dir = args.ingest_workers, args.pki
    settings.retention = RetentionSettings(raw_days=args.keep_raw_days, hourly_days=args.keep_hourly_days,
                                           daily_days=args.keep_daily_days or None, every_s=args.retention_every_s,
                                           day_offset_hours=args.day_offset_hours)
    if args.notify_config:
        try:
            settings.notify = notify_config.load(args.notify_config)
        except (OSError, ValueError) as exc:
            print(f"kiosk-fleet-server: --notify-config {args.notify_config}: {exc}", file=sys.stderr)
            return 2
    try:
        server = FleetServer(settings)
    except (OSError, ValueError) as exc:  # unreadable certificates, bad database URL ...
        print(f"kiosk-fleet-server: cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        admin_password = read_secret_file(args.admin_password_file) if args.admin_password_file \
            else credential("admin-password")
    except SecretFileError as exc:
        print(f"kiosk-fleet-server: --admin-password-file {exc}", file=sys.stderr)
        server.close()
        return 2
    if admin_password:
        if server.auth.ensure_admin(args.admin_user, admin_password):
            logging.getLogger("fleet.server").info("created the first admin %r", args.admin_user)
    elif not server.auth.operators():
        print("kiosk-fleet-server: no operator exists; start once with --admin-password-file", file=sys.stderr)
        return 2
    server.start(wait=None)  # paho keeps trying; the console works while the broker is away
    try:
        # uvicorn turns SIGTERM / SIGINT into a graceful shutdown: open requests finish, then run() returns
        uvicorn.run(create_app(server), host=args.bind, port=args.http, log_level=args.log_level.lower())
    finally:
        SystemdNotifier().stopping("closing MQTT and the database")
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
