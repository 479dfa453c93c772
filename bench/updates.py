"""Update figures: install time of a real release, and what a resumed download costs.

    .venv/bin/python bench/updates.py [--wheelhouse DIR] [--rate-mb-s 0] [--cuts 0.1,0.5,0.9]

1. Builds the real kiosk-controller wheel from this checkout plus its dependency wheels
   (``pip wheel .`` through the configured package index / pip cache; if that fails, the
   project wheel alone with ``--no-deps``, and says so), bundles and signs them.
2. Installs that bundle as a kiosk would (`Updater.apply`): HTTP download from a loopback
   server, signature + per-file sha256 verification with extraction, a fresh venv and
   ``pip install --no-index``, the atomic switch, a no-op restart hook and a health probe
   that imports the installed app in its new venv. Prints the time of each phase.
3. Downloads the bundle uninterrupted, then cut at each fraction of --cuts (the
   connection drops, the downloader gives up, a new one resumes): bytes the server sent
   beyond the bundle size, and wall time relative to the uninterrupted download.

`--rate-mb-s` throttles the server to emulate a real link (default 50 MB/s; 0 = loopback
speed, where the disk dominates and times are noisy).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.bundle.archive import build_bundle, sign_bundle  # noqa: E402
from fleet.updates.download import Downloader, DownloadOptions  # noqa: E402
from fleet.updates.health import CallableProbe, HealthReport  # noqa: E402
from fleet.updates.installer import Updater, UpdaterConfig  # noqa: E402
from fleet.bundle.keys import generate_keypair, load_private_key  # noqa: E402
from fleet.bundle.manifest import sha256_file  # noqa: E402
from fleet.updates.models import UpdateError, UpdateRequest  # noqa: E402
from fleet.updates.testing import RangeServer  # noqa: E402


def build_wheels(dest: Path) -> tuple[list[Path], str]:
    dest.mkdir(parents=True, exist_ok=True)
    have = sorted(dest.glob("*.whl"))
    if any(w.name.startswith("kiosk_controller-") for w in have):
        return have, f"reused wheelhouse {dest}"
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), str(ROOT)]
    if subprocess.run(cmd, capture_output=True).returncode == 0:
        return sorted(dest.glob("*.whl")), "project wheel + dependency wheels (pip wheel)"
    cmd.insert(4, "--no-deps")
    subprocess.run(cmd, check=True, capture_output=True)
    return sorted(dest.glob("*.whl")), "PROJECT WHEEL ONLY: dependency wheels were not available offline"


def import_probe(root: Path) -> CallableProbe:
    """Healthy when the new release's venv imports the app and its heavy dependencies."""

    def check(version: str) -> HealthReport:
        python = root / "releases" / version / "venv" / "bin" / "python"
        code = "import peripherals, flows, fleet.updates, pydantic, serial; import cv2, numpy"
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
        return HealthReport(healthy=done.returncode == 0, version=version, detail=done.stderr.strip()[-200:])

    return CallableProbe(check)


def bench_install(work: Path, bundle: Path, public_key: str, server: RangeServer, version: str) -> None:
    root = work / "kiosk"
    size, digest = sha256_file(bundle)
    marks: list[tuple[str, float]] = []

    def progress(p) -> None:
        if not marks or marks[-1][0] != p.phase:
            marks.append((p.phase, time.perf_counter()))

    config = UpdaterConfig(root=root, trusted_keys=[public_key], health_deadline_s=30, health_interval_s=0.2)
    updater = Updater(config, probe=import_probe(root), restart=lambda release, v: None, progress=progress)
    start = time.perf_counter()
    outcome = updater.apply(UpdateRequest(version=version, url=f"{server.url}/{bundle.name}", sha256=digest, size=size))
    end = time.perf_counter()
    print(f"install: outcome {outcome.status} {outcome.reason or ''} {outcome.detail[:120]}")
    marks.append(("end", end))
    for (phase, t0), (_, t1) in zip(marks, marks[1:]):
        print(f"  {phase:<13} {t1 - t0:7.2f} s")
    before_health = dict(marks).get("health_check", end)
    print(f"  download+verify+install+switch {before_health - start:.2f} s   (total with restart/health {end - start:.2f} s)")
    venv_mb = sum(f.stat().st_size for f in (root / "releases" / version).rglob("*") if f.is_file()) / 1e6
    print(f"  release on disk: {venv_mb:.0f} MB")


def bench_resume(work: Path, bundle: Path, server: RangeServer, cuts: list[float]) -> None:
    size, digest = sha256_file(bundle)
    url = f"{server.url}/{bundle.name}"
    opts = DownloadOptions(attempts=1, backoff_s=0)

    def timed(dest: Path) -> float:
        t = time.perf_counter()
        try:
            Downloader(opts).fetch(url, dest, size=size, sha256=digest)
        except UpdateError:
            pass
        return time.perf_counter() - t

    sent = server.bytes_sent
    runs = [timed(work / "full1.bundle"), timed(work / "full2.bundle")]
    assert server.bytes_sent - sent == 2 * size
    base = sum(runs) / len(runs)
    rate = f"server throttled to {server.rate_bytes_s / 1e6:g} MB/s" if server.rate_bytes_s else "loopback, unthrottled (disk-bound, noisy)"
    print(f"resume: uninterrupted download of {size / 1e6:.1f} MB: {base:.3f} s (mean of {len(runs)}; {rate})")
    for fraction in cuts:
        dest = work / f"cut{fraction}.bundle"
        server.cut_once[bundle.name] = int(size * fraction)
        sent = server.bytes_sent
        first = timed(dest)  # stops at the cut
        second = timed(dest)  # a new downloader resumes from the .part file
        assert dest.exists() and sha256_file(dest)[1] == digest
        extra = server.bytes_sent - sent - size
        ranges = [r[1] for r in server.requests[-2:]]
        print(
            f"  cut at {fraction:4.0%}: re-fetched {extra} bytes, {first + second:.3f} s "
            f"({(first + second) / base:.2f}x uninterrupted), requests {ranges}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheelhouse", type=Path, help="reuse/keep wheels here (default: a temp dir)")
    parser.add_argument("--rate-mb-s", type=float, default=50.0, help="server throttle; 0 = unthrottled loopback")
    parser.add_argument("--cuts", default="0.1,0.5,0.9")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-updates-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        wheels, source = build_wheels(args.wheelhouse or work / "wheelhouse")
        print(f"wheels: {len(wheels)} ({source}), {sum(w.stat().st_size for w in wheels) / 1e6:.1f} MB, {time.perf_counter() - t:.1f} s")
        private, public = generate_keypair(work / "keys", "bench")
        serve = work / "srv"
        serve.mkdir()
        bundle = serve / "kiosk-controller.bundle"
        t = time.perf_counter()
        manifest = build_bundle(wheels, bundle, package="kiosk-controller")
        sign_bundle(bundle, load_private_key(private))
        print(f"bundle: kiosk-controller {manifest.version}, {bundle.stat().st_size / 1e6:.1f} MB, build+sign {time.perf_counter() - t:.2f} s")
        with RangeServer(serve, rate_bytes_s=args.rate_mb_s * 1e6 or None) as server:
            bench_install(work, bundle, public.read_text().strip(), server, manifest.version)
            bench_resume(work, bundle, server, [float(c) for c in args.cuts.split(",") if c])


if __name__ == "__main__":
    main()
