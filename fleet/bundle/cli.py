"""The operator's offline bundle commands: `keys generate`, `bundle build|sign|verify|inspect`.

Mounted into ``kiosk-fleet`` and ``kiosk-updates`` with `register(subparsers)`; both run the
parsed command through `run_command`. Every command prints one JSON object on stdout.
Exit 0 = done, 2 = refused (the JSON says why, with a reason code), 64 = usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fleet.bundle.archive import build_bundle, inspect_bundle, sign_bundle, verify_bundle, wheels_from_project
from fleet.bundle.errors import UpdateError
from fleet.bundle.keys import TrustedKeys, generate_keypair, load_private_key, public_key_text
from fleet.bundle.manifest import sha256_file

EXIT_REFUSED = 2
EXIT_USAGE = 64


def print_json(obj: object) -> None:
    print(json.dumps(obj, default=str))
    sys.stdout.flush()


# ---------------------------------------------------------------- operator


def cmd_keys_generate(args: argparse.Namespace) -> int:
    private, public = generate_keypair(Path(args.out), args.name, overwrite=args.force)
    key = load_private_key(private)
    print_json({"private_key": str(private), "public_key_file": str(public), "public_key": public_key_text(key.public_key())})
    return 0


def cmd_bundle_build(args: argparse.Namespace) -> int:
    wheels: list[Path] = []
    for folder in args.wheels or []:
        wheels += sorted(Path(folder).glob("*.whl"))
    if args.project:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            wheels += wheels_from_project(Path(args.project), Path(tmp), with_deps=not args.no_deps)
            return _build(args, wheels)
    return _build(args, wheels)


def _build(args: argparse.Namespace, wheels: list[Path]) -> int:
    if not wheels:
        print("bundle build: no wheels found (give --wheels DIR or --project PATH)", file=sys.stderr)
        return EXIT_USAGE
    manifest = build_bundle(
        wheels,
        Path(args.out),
        package=args.package,
        version=args.version,
        min_from_version=args.min_from,
        requirement=args.requirement,
    )
    size, digest = sha256_file(Path(args.out))
    print_json({"bundle": args.out, "version": manifest.version, "files": len(manifest.files), "size": size, "sha256": digest, "signed": False})
    return 0


def cmd_bundle_sign(args: argparse.Namespace) -> int:
    out = Path(args.output or args.bundle)
    signature = sign_bundle(Path(args.bundle), load_private_key(Path(args.key)), out)
    size, digest = sha256_file(out)
    print_json({"bundle": str(out), "key_id": signature.key_id, "size": size, "sha256": digest})
    return 0


def cmd_bundle_verify(args: argparse.Namespace) -> int:
    try:
        verified = verify_bundle(
            Path(args.bundle),
            TrustedKeys.from_texts(args.trusted),
            current_version=args.current,
            allow_downgrade=args.allow_downgrade,
        )
    except UpdateError as exc:
        print_json({"ok": False, "reason": exc.reason.value, "detail": exc.detail})
        return EXIT_REFUSED
    print_json({"ok": True, "version": verified.manifest.version, "key_id": verified.key_id})
    return 0


def cmd_bundle_inspect(args: argparse.Namespace) -> int:
    manifest = inspect_bundle(Path(args.bundle))
    size, digest = sha256_file(Path(args.bundle))
    print_json({"size": size, "sha256": digest, "manifest": manifest.model_dump(mode="json")})
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``keys`` and ``bundle`` command groups to another CLI (kiosk-fleet)."""
    keys = subparsers.add_parser("keys", help="update signing keys").add_subparsers(dest="keys_command", required=True)
    gen = keys.add_parser("generate", help="make an ed25519 key pair (offline)")
    gen.add_argument("--out", required=True, help="directory for NAME.key and NAME.pub")
    gen.add_argument("--name", default="release-signing")
    gen.add_argument("--force", action="store_true", help="overwrite existing key files")
    gen.set_defaults(func=cmd_keys_generate)

    bundle = subparsers.add_parser("bundle", help="update bundles").add_subparsers(dest="bundle_command", required=True)
    build = bundle.add_parser("build", help="bundle wheels and a manifest (unsigned)")
    build.add_argument("--wheels", nargs="+", metavar="DIR", help="directories of .whl files")
    build.add_argument("--project", help="build the wheels from this project with pip wheel")
    build.add_argument("--no-deps", action="store_true", help="with --project: only the project's own wheel")
    build.add_argument("--package", required=True, help="distribution name of the app, e.g. kiosk-controller")
    build.add_argument("--version", help="default: the version of the package's wheel")
    build.add_argument("--min-from", help="oldest running version allowed to take this bundle")
    build.add_argument("--requirement", help="what pip installs; default PACKAGE==VERSION")
    build.add_argument("-o", "--out", required=True)
    build.set_defaults(func=cmd_bundle_build)

    sign = bundle.add_parser("sign", help="sign a bundle's manifest with an ed25519 private key")
    sign.add_argument("bundle")
    sign.add_argument("--key", required=True)
    sign.add_argument("-o", "--output", help="default: sign in place")
    sign.set_defaults(func=cmd_bundle_sign)

    verify = bundle.add_parser("verify", help="check a bundle as a kiosk would")
    verify.add_argument("bundle")
    verify.add_argument("--trusted", action="append", required=True, help="public key text or file (repeatable)")
    verify.add_argument("--current", help="running version, for the downgrade check")
    verify.add_argument("--allow-downgrade", action="store_true")
    verify.set_defaults(func=cmd_bundle_verify)

    inspect = bundle.add_parser("inspect", help="print the manifest and the bundle's size and sha256")
    inspect.add_argument("bundle")
    inspect.set_defaults(func=cmd_bundle_inspect)


def run_command(args: argparse.Namespace, prog: str) -> int:
    """Run a parsed subcommand: a refusal is printed as JSON (exit 2), a bad file or
    value as one line on stderr (exit 64). `kiosk-fleet` runs its offline commands
    (keys, bundle) through this too."""
    try:
        return args.func(args)
    except UpdateError as exc:
        print_json({"ok": False, "reason": exc.reason.value, "detail": exc.detail})
        return EXIT_REFUSED
    except (OSError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
