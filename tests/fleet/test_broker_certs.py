"""The fleet CA tool (`python -m fleet.broker.certs`) and the rendered Mosquitto config."""

from __future__ import annotations

import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fleet.broker.certs import CertificateAuthority, main
from fleet.broker.runner import render_config


def load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def cn(cert: x509.Certificate) -> str:
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_cli_makes_a_ca_and_issues_kiosk_server_and_broker_certificates(tmp_path, capsys):
    pki = tmp_path / "pki"
    assert main(["--dir", str(pki), "init", "--host", "broker.example", "--host", "10.0.0.5"]) == 0
    assert main(["--dir", str(pki), "issue-kiosk", "gz-tianhe-001"]) == 0
    assert main(["--dir", str(pki), "issue-server"]) == 0
    ca = CertificateAuthority(pki)
    ca_cert = load(ca.ca_cert_path)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    kiosk = load(ca.kiosk_identity("gz-tianhe-001").cert)
    server = load(ca.server_identity().cert)
    broker = load(ca.broker_identity().cert)
    for cert in (kiosk, server, broker):
        cert.verify_directly_issued_by(ca_cert)
    assert cn(kiosk) == "gz-tianhe-001" and cn(server) == "fleet-server"
    eku = lambda c: list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)  # noqa: E731
    assert eku(kiosk) == [ExtendedKeyUsageOID.CLIENT_AUTH] and eku(broker) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "broker.example" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    for key in (ca.ca_key_path, ca.kiosk_identity("gz-tianhe-001").key, ca.server_identity().key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


@pytest.mark.parametrize("bad", ["fleet-server", "a/b", "+", "#", "Upper"])
def test_cli_refuses_kiosk_ids_that_would_break_the_acl(tmp_path, bad, capsys):
    pki = tmp_path / "pki"
    main(["--dir", str(pki), "init"])
    assert main(["--dir", str(pki), "issue-kiosk", bad]) == 2
    assert "invalid kiosk id" in capsys.readouterr().err


def test_cli_will_not_replace_a_ca_by_accident(tmp_path, capsys):
    pki = tmp_path / "pki"
    assert main(["--dir", str(pki), "init"]) == 0
    first = (pki / "ca.crt").read_bytes()
    assert main(["--dir", str(pki), "init"]) == 2
    assert (pki / "ca.crt").read_bytes() == first
    assert main(["--dir", str(pki), "init", "--force"]) == 0 and (pki / "ca.crt").read_bytes() != first


def test_issuing_without_a_ca_says_how_to_make_one(tmp_path, capsys):
    assert main(["--dir", str(tmp_path / "none"), "issue-server"]) == 2
    assert "init" in capsys.readouterr().err


def test_rendered_config_requires_client_certificates_and_the_acl(tmp_path):
    conf = render_config(port=8883, certs=tmp_path / "pki", acl_file=tmp_path / "acl",
                         persistence_dir=tmp_path / "data", bind="0.0.0.0")
    lines = [line.strip() for line in conf.splitlines() if line.strip() and not line.startswith("#")]
    assert "listener 8883 0.0.0.0" in lines and sum(line.startswith("listener") for line in lines) == 1
    for required in ("allow_anonymous false", "require_certificate true", "use_identity_as_username true",
                     f"acl_file {tmp_path / 'acl'}", f"cafile {tmp_path / 'pki'}/ca.crt"):
        assert required in lines
    assert "$" not in "\n".join(lines)  # every placeholder filled
