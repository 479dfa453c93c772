"""A small certificate authority for the fleet broker (``cryptography``; ECDSA P-256).

    python -m fleet.broker.certs --dir PKI init [--host broker.example --host 10.0.0.5]
    python -m fleet.broker.certs --dir PKI issue-kiosk KIOSK_ID
    python -m fleet.broker.certs --dir PKI issue-server            # fleet-server's client cert
    python -m fleet.broker.certs --dir PKI issue-service fleet-ingest.1   # an ingest worker's cert
    python -m fleet.broker.certs --dir PKI issue-broker --host ...  # re-issue the broker's cert

Layout of PKI: ``ca.crt ca.key broker.crt broker.key fleet-server.crt fleet-server.key
kiosks/{id}.crt kiosks/{id}.key``. The broker turns a client certificate's CN into the
MQTT username (``use_identity_as_username``), so the CN *is* the kiosk id the ACL uses;
ids are checked with `fleet.protocol.topics.check_kiosk_id` (one topic level, never
``fleet-server``). Private keys are written 0600. The CA key belongs offline in
production; here it sits beside the certs for the virtual kiosk and tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fleet.protocol.topics import SERVER_USERNAME, check_kiosk_id

# Server-side identities besides fleet-server: ingest workers ("fleet-ingest.N") and, in
# tests only, watching probes ("fleet-probe.N"). The '.' keeps them out of the kiosk id
# space (KIOSK_ID_RE), so no kiosk certificate can ever carry one of these names.
SERVICE_NAME_RE = re.compile(r"^fleet-[a-z]+\.[0-9]{1,3}$")


def check_service_name(name: str) -> str:
    if not SERVICE_NAME_RE.match(name):
        raise ValueError(f"invalid service identity {name!r}: want {SERVICE_NAME_RE.pattern}")
    return name

CA_DAYS = 3650
LEAF_DAYS = 825
DEFAULT_BROKER_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Identity:
    """What a TLS client (or the broker) needs: the CA to trust, its cert and key."""

    ca: Path
    cert: Path
    key: Path
    name: str


class CertificateAuthority:
    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)

    # -- paths ----------------------------------------------------------------------
    @property
    def ca_cert_path(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key_path(self) -> Path:
        return self.dir / "ca.key"

    def broker_identity(self) -> Identity:
        return Identity(self.ca_cert_path, self.dir / "broker.crt", self.dir / "broker.key", "broker")

    def server_identity(self) -> Identity:
        return Identity(
            self.ca_cert_path, self.dir / f"{SERVER_USERNAME}.crt", self.dir / f"{SERVER_USERNAME}.key", SERVER_USERNAME
        )

    def service_identity(self, name: str) -> Identity:
        check_service_name(name)
        return Identity(self.ca_cert_path, self.dir / "services" / f"{name}.crt",
                        self.dir / "services" / f"{name}.key", name)

    def kiosk_identity(self, kiosk_id: str) -> Identity:
        check_kiosk_id(kiosk_id)
        return Identity(
            self.ca_cert_path, self.dir / "kiosks" / f"{kiosk_id}.crt", self.dir / "kiosks" / f"{kiosk_id}.key", kiosk_id
        )

    # -- operations -----------------------------------------------------------------
    def init(self, broker_hosts: tuple[str, ...] = DEFAULT_BROKER_HOSTS, *, force: bool = False) -> None:
        """Make the CA and the broker's certificate; refuses to overwrite an existing CA."""
        if self.ca_key_path.exists() and not force:
            raise FileExistsError(f"{self.ca_key_path} exists; pass force=True (--force) to replace the CA")
        self.dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kiosk fleet"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "kiosk fleet CA")])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(self.ca_key_path, key)
        self.ca_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.issue_broker(broker_hosts)

    def issue_broker(self, hosts: tuple[str, ...] = DEFAULT_BROKER_HOSTS) -> Identity:
        ident = self.broker_identity()
        self._issue(ident, common_name=hosts[0] if hosts else "broker", server=True, hosts=hosts)
        return ident

    def issue_server(self) -> Identity:
        """The fleet server's client certificate (CN ``fleet-server``)."""
        ident = self.server_identity()
        self._issue(ident, common_name=SERVER_USERNAME, server=False)
        return ident

    def issue_service(self, name: str) -> Identity:
        """A server-side client certificate (CN = `name`, e.g. ``fleet-ingest.1``)."""
        ident = self.service_identity(name)
        self._issue(ident, common_name=name, server=False)
        return ident

    def ensure_service(self, name: str) -> Identity:
        ident = self.service_identity(name)
        return ident if ident.cert.exists() else self.issue_service(name)

    def issue_kiosk(self, kiosk_id: str) -> Identity:
        ident = self.kiosk_identity(kiosk_id)
        self._issue(ident, common_name=kiosk_id, server=False)
        return ident

    # -- internals --------------------------------------------------------------------
    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if not self.ca_key_path.exists():
            raise FileNotFoundError(f"no CA in {self.dir}; run `python -m fleet.broker.certs --dir {self.dir} init`")
        cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.ca_key_path.read_bytes(), password=None)
        return cert, key  # type: ignore[return-value]

    def _issue(self, ident: Identity, *, common_name: str, server: bool, hosts: tuple[str, ...] = ()) -> None:
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, True, False, False, False, False), critical=True
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        ident.cert.parent.mkdir(parents=True, exist_ok=True)
        _write_key(ident.key, key)
        ident.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _write_key(path: Path, key) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleet.broker.certs", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=os.environ.get("KIOSK_FLEET_PKI", "pki"), help="PKI directory (default ./pki)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_init = sub.add_parser("init", help="make the CA and the broker certificate")
    p_init.add_argument("--host", action="append", help="broker host name / IP (repeat); default localhost")
    p_init.add_argument("--force", action="store_true", help="replace an existing CA")
    p_kiosk = sub.add_parser("issue-kiosk", help="issue a kiosk client certificate (CN = kiosk id)")
    p_kiosk.add_argument("kiosk_id")
    sub.add_parser("issue-server", help="issue the fleet server's client certificate")
    p_service = sub.add_parser("issue-service", help="issue an ingest worker's certificate (fleet-ingest.N)")
    p_service.add_argument("name")
    p_broker = sub.add_parser("issue-broker", help="re-issue the broker's TLS certificate")
    p_broker.add_argument("--host", action="append")
    args = parser.parse_args(argv)
    ca = CertificateAuthority(args.dir)
    try:
        if args.cmd == "init":
            ca.init(tuple(args.host or DEFAULT_BROKER_HOSTS), force=args.force)
            print(f"CA and broker certificate written to {ca.dir}")
        elif args.cmd == "issue-kiosk":
            ident = ca.issue_kiosk(args.kiosk_id)
            print(f"{ident.cert}\n{ident.key}")
        elif args.cmd == "issue-server":
            ident = ca.issue_server()
            print(f"{ident.cert}\n{ident.key}")
        elif args.cmd == "issue-service":
            ident = ca.issue_service(args.name)
            print(f"{ident.cert}\n{ident.key}")
        elif args.cmd == "issue-broker":
            ident = ca.issue_broker(tuple(args.host or DEFAULT_BROKER_HOSTS))
            print(f"{ident.cert}\n{ident.key}")
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
