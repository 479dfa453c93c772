"""The command-line secret scan itself (used on every process of the virtual kiosk in
test_stop_signals.py): it must catch a secret passed as a value or as an option, and
leave alone options that name the file holding a secret."""

from __future__ import annotations

from fleet.broker.certs import CertificateAuthority
from lifecycle.secrets import write_secret_file

from .argv_secrets import scan_argv, secret_values


def test_scan_finds_secrets_and_accepts_secret_files(tmp_path):
    ca = CertificateAuthority(tmp_path / "fleet" / "pki")
    ca.init()
    server = ca.issue_server()
    write_secret_file(tmp_path / "fleet" / "admin-password", "s3cret-Admin-pw")
    secrets = secret_values(tmp_path)
    assert "s3cret-Admin-pw" in secrets and len(secrets) >= 3  # the password, and lines of two private keys
    key_line = next(v for v in secrets if v != "s3cret-Admin-pw")

    good = ["python", "-m", "fleet.server.main", "--admin-password-file", str(tmp_path / "fleet" / "admin-password"),
            "--key", str(server.key), "--token-file=/run/credentials/x", "--db", "sqlite:///x.db"]
    assert scan_argv(good, secrets) == []
    for bad in (["kiosk-fleet-server", "--admin-password", "whatever"], ["x", "--api-token=abc"],
                ["mosquitto_pub", "-P", "pw"], ["x", "--staff-pin", "123456"], ["x", "s3cret-Admin-pw"],
                ["x", f"--cert-data={key_line}"], ["x", "-----BEGIN PRIVATE KEY-----..."]):
        assert scan_argv(bad, secrets), bad
