"""Bundles: build, sign, verify — and every way a bundle must be refused."""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from pathlib import Path

import pytest

from fleet.bundle import cli as bundle_cli
from fleet.updates import cli
from fleet.bundle.archive import build_bundle, inspect_bundle, read_manifest, sign_bundle, verify_bundle
from fleet.bundle.keys import TrustedKeys, generate_keypair, load_private_key, parse_public_key, public_key_text
from fleet.bundle.manifest import MANIFEST_NAME, SIGNATURE_NAME, sha256_file
from fleet.updates.models import ReasonCode, UpdateError
from fleet.updates.testing import fake_app_wheels


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("bundle")
    private, public = generate_keypair(base / "keys", "release")
    other_private, other_public = generate_keypair(base / "keys", "intruder")
    wheels = fake_app_wheels(base / "wheels", "2.0.0")
    signed = base / "signed.bundle"
    build_bundle(wheels, signed, package="fakekiosk", min_from_version="1.5")
    sign_bundle(signed, load_private_key(private))
    return {
        "base": base,
        "wheels": wheels,
        "signed": signed,
        "key": load_private_key(private),
        "trusted": TrustedKeys.from_texts([public.read_text()]),
        "other_key": load_private_key(other_private),
        "other_pub": other_public.read_text(),
    }


def rewrite(src: Path, dst: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> Path:
    """Copy a bundle, replacing (bytes) or dropping (None) members, appending `add`."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read()
            if member.name in change:
                if change[member.name] is None:
                    continue
                data = change[member.name]
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
        for name, data in (add or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
    return dst


def member(bundle: Path, name: str) -> bytes:
    with tarfile.open(bundle) as tar:
        return tar.extractfile(name).read()


def refused(bundle: Path, trusted: TrustedKeys, **kwargs) -> UpdateError:
    with pytest.raises(UpdateError) as info:
        verify_bundle(bundle, trusted, **kwargs)
    return info.value


def test_good_bundle_verifies_and_extracts_every_file(lab, tmp_path):
    verified = verify_bundle(lab["signed"], lab["trusted"], current_version="1.5", extract_to=tmp_path / "x")
    assert verified.manifest.version == "2.0.0"
    assert verified.manifest.requirement == "fakekiosk==2.0.0"
    for wheel in lab["wheels"]:
        assert (tmp_path / "x" / "wheels" / wheel.name).read_bytes() == wheel.read_bytes()
    assert (tmp_path / "x" / MANIFEST_NAME).read_bytes() == member(lab["signed"], MANIFEST_NAME)


def test_manifest_lists_size_and_sha256_of_every_file(lab):
    manifest = inspect_bundle(lab["signed"])
    assert manifest.min_from_version == "1.5" and manifest.created.tzinfo is not None
    listed = {f.path: (f.size, f.sha256) for f in manifest.files}
    assert listed == {f"wheels/{w.name}": sha256_file(w) for w in lab["wheels"]}


def test_tampered_wheel_is_refused(lab, tmp_path):
    name = f"wheels/{lab['wheels'][0].name}"
    data = bytearray(member(lab["signed"], name))
    data[100] ^= 0xFF
    bad = rewrite(lab["signed"], tmp_path / "t.bundle", {name: bytes(data)})
    err = refused(bad, lab["trusted"], extract_to=tmp_path / "x")
    assert err.reason is ReasonCode.HASH_MISMATCH and name in err.detail
    assert not (tmp_path / "x").exists()  # partial extraction removed


def test_tampered_manifest_breaks_the_signature(lab, tmp_path):
    raw = json.loads(member(lab["signed"], MANIFEST_NAME))
    raw["min_from_version"] = "0.1"
    bad = rewrite(lab["signed"], tmp_path / "m.bundle", {MANIFEST_NAME: json.dumps(raw).encode()})
    assert refused(bad, lab["trusted"]).reason is ReasonCode.BAD_SIGNATURE


def test_signature_claiming_a_trusted_key_id_but_made_by_another_key_is_refused(lab, tmp_path):
    sigs = json.loads(member(lab["signed"], SIGNATURE_NAME))
    forged = lab["other_key"].sign(member(lab["signed"], MANIFEST_NAME))
    import base64

    sigs["signatures"][0]["sig"] = base64.b64encode(forged).decode()
    bad = rewrite(lab["signed"], tmp_path / "f.bundle", {SIGNATURE_NAME: json.dumps(sigs).encode()})
    assert refused(bad, lab["trusted"]).reason is ReasonCode.BAD_SIGNATURE


def test_wrong_key_is_refused(lab, tmp_path):
    other = sign_bundle(lab["signed"], lab["other_key"], tmp_path / "o.bundle")
    with_only_other = rewrite(
        tmp_path / "o.bundle",
        tmp_path / "o2.bundle",
        {SIGNATURE_NAME: json.dumps({"signatures": [json.loads(member(tmp_path / "o.bundle", SIGNATURE_NAME))["signatures"][-1]]}).encode()},
    )
    err = refused(with_only_other, lab["trusted"])
    assert err.reason is ReasonCode.UNTRUSTED_KEY and other.key_id in err.detail


def test_second_signature_supports_key_rotation(lab, tmp_path):
    both = tmp_path / "both.bundle"
    sign_bundle(lab["signed"], lab["other_key"], both)
    _, sigs = read_manifest(both)
    assert len(sigs.signatures) == 2
    only_new = TrustedKeys.from_texts([lab["other_pub"]])
    assert verify_bundle(both, only_new).key_id == sigs.signatures[1].key_id
    assert verify_bundle(both, lab["trusted"]).key_id == sigs.signatures[0].key_id


def test_unsigned_is_refused(lab, tmp_path):
    unsigned = build_bundle(lab["wheels"], tmp_path / "u.bundle", package="fakekiosk")
    assert unsigned.version == "2.0.0"
    assert refused(tmp_path / "u.bundle", lab["trusted"]).reason is ReasonCode.UNSIGNED
    stripped = rewrite(lab["signed"], tmp_path / "s.bundle", {SIGNATURE_NAME: None})
    assert refused(stripped, lab["trusted"]).reason is ReasonCode.UNSIGNED


def test_downgrade_is_refused_unless_allowed(lab):
    err = refused(lab["signed"], lab["trusted"], current_version="2.1.0")
    assert err.reason is ReasonCode.DOWNGRADE and "2.1.0" in err.detail
    assert verify_bundle(lab["signed"], lab["trusted"], current_version="2.1.0", allow_downgrade=True)


def test_minimum_from_version_and_expected_version(lab):
    assert refused(lab["signed"], lab["trusted"], current_version="1.4").reason is ReasonCode.FROM_VERSION_TOO_OLD
    assert refused(lab["signed"], lab["trusted"], expected_version="2.0.1").reason is ReasonCode.VERSION_MISMATCH
    assert verify_bundle(lab["signed"], lab["trusted"], current_version="1.5", expected_version="2.0")


def test_extra_and_missing_files_are_refused(lab, tmp_path):
    extra = rewrite(lab["signed"], tmp_path / "e.bundle", {}, add={"wheels/evil-1.0-py3-none-any.whl": b"x"})
    assert refused(extra, lab["trusted"]).reason is ReasonCode.UNEXPECTED_FILE
    missing = rewrite(lab["signed"], tmp_path / "m.bundle", {f"wheels/{lab['wheels'][1].name}": None})
    assert refused(missing, lab["trusted"]).reason is ReasonCode.MISSING_FILE
    dup = rewrite(lab["signed"], tmp_path / "d.bundle", {}, add={MANIFEST_NAME: b"{}"})
    assert refused(dup, lab["trusted"]).reason is ReasonCode.MALFORMED_BUNDLE


def test_garbage_and_path_tricks_are_malformed(lab, tmp_path):
    (tmp_path / "g.bundle").write_bytes(b"not a tar file at all" * 40)
    assert refused(tmp_path / "g.bundle", lab["trusted"]).reason is ReasonCode.MALFORMED_BUNDLE
    raw = json.loads(member(lab["signed"], MANIFEST_NAME))
    raw["files"][0]["path"] = "wheels/../../etc/x.whl"
    body = json.dumps(raw).encode()
    sig = lab["key"].sign(body)  # even correctly signed, the path is refused
    import base64

    sigs = {"signatures": [{"alg": "ed25519", "key_id": json.loads(member(lab["signed"], SIGNATURE_NAME))["signatures"][0]["key_id"], "sig": base64.b64encode(sig).decode()}]}
    bad = rewrite(lab["signed"], tmp_path / "p.bundle", {MANIFEST_NAME: body, SIGNATURE_NAME: json.dumps(sigs).encode()})
    assert refused(bad, lab["trusted"]).reason is ReasonCode.MALFORMED_BUNDLE


def test_sign_refuses_a_bundle_whose_files_do_not_match(lab, tmp_path):
    name = f"wheels/{lab['wheels'][0].name}"
    bad = rewrite(lab["signed"], tmp_path / "t.bundle", {name: b"changed after build"})
    with pytest.raises(UpdateError) as info:
        sign_bundle(bad, lab["key"])
    assert info.value.reason is ReasonCode.SIZE_MISMATCH


def test_public_key_forms(lab):
    pub = lab["key"].public_key()
    text = public_key_text(pub)
    assert text.startswith("ed25519:")
    assert public_key_text(parse_public_key(text)) == text
    assert public_key_text(parse_public_key(text.removeprefix("ed25519:"))) == text
    with pytest.raises(ValueError):
        parse_public_key("ed25519:AAAA")


def test_cli_keys_build_sign_verify(lab, tmp_path, capsys):
    def run(*argv: str) -> tuple[int, dict]:
        code = cli.main(list(argv))
        return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    code, keys = run("keys", "generate", "--out", str(tmp_path / "k"), "--name", "ops")
    assert code == 0 and keys["public_key"].startswith("ed25519:")
    assert (tmp_path / "k" / "ops.key").stat().st_mode & 0o777 == 0o600
    assert cli.main(["keys", "generate", "--out", str(tmp_path / "k"), "--name", "ops"]) == cli.EXIT_USAGE  # no overwrite
    capsys.readouterr()
    wheel_dir = lab["wheels"][0].parent
    out = tmp_path / "b.bundle"
    code, built = run("bundle", "build", "--wheels", str(wheel_dir), "--package", "fakekiosk", "--min-from", "1.0", "-o", str(out))
    assert code == 0 and built["version"] == "2.0.0" and built["files"] == 2
    code, result = run("bundle", "verify", str(out), "--trusted", str(tmp_path / "k" / "ops.pub"))
    assert code == cli.EXIT_REFUSED and result["reason"] == "unsigned"
    code, signed = run("bundle", "sign", str(out), "--key", str(tmp_path / "k" / "ops.key"))
    assert code == 0 and signed["sha256"] == sha256_file(out)[1]
    code, result = run("bundle", "verify", str(out), "--trusted", keys["public_key"], "--current", "1.0")
    assert code == 0 and result == {"ok": True, "version": "2.0.0", "key_id": signed["key_id"]}
    code, result = run("bundle", "verify", str(out), "--trusted", keys["public_key"], "--current", "3.0")
    assert code == cli.EXIT_REFUSED and result["reason"] == "downgrade"
    code, info = run("bundle", "inspect", str(out))
    assert info["size"] == out.stat().st_size and info["manifest"]["min_from_version"] == "1.0"


def test_register_mounts_into_another_cli():
    parser = argparse.ArgumentParser(prog="kiosk-fleet")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("kiosks")  # somebody else's command
    bundle_cli.register(sub)
    args = parser.parse_args(["bundle", "sign", "x.bundle", "--key", "k.key"])
    assert args.func is bundle_cli.cmd_bundle_sign and args.bundle == "x.bundle"
    assert parser.parse_args(["keys", "generate", "--out", "d"]).func is bundle_cli.cmd_keys_generate


def test_version_order_matches_pep440_reference():
    """Our small parser (the app does not depend on `packaging`) agrees with `packaging`."""
    import itertools

    from packaging.version import Version as Reference

    from fleet.bundle.manifest import parse_version

    versions = ["0.9.9", "1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b1", "1.0rc1", "1.0", "1.0.0",
                "1.0.post1.dev2", "1.0.post1", "1.0.1", "1.1", "2", "10.0"]
    for a, b in itertools.product(versions, versions):
        assert (parse_version(a) < parse_version(b)) == (Reference(a) < Reference(b)), (a, b)
        assert (parse_version(a) == parse_version(b)) == (Reference(a) == Reference(b)), (a, b)
    for bad in ["../1.0", "1.0/x", "", "v1", "1.0-1", "1..0", "1.0+local"]:
        with pytest.raises(ValueError):
            parse_version(bad)
