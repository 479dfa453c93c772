"""Test and bench helpers: tiny wheels, a fake kiosk app, an HTTP server with Range and cuts.

Used by tests/fleet/test_updates_*.py, bench/updates.py and the end-to-end fleet tests,
so they all exercise the real installer against real files, venvs, processes and HTTP.
Nothing here is imported by the installer itself.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# ---------------------------------------------------------------- wheels


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(dest: Path, name: str, version: str, files: dict[str, str], requires: list[str] | None = None) -> Path:
    """Write a pure-Python wheel by hand (a zip with METADATA, WHEEL, RECORD): fast and offline."""
    dest.mkdir(parents=True, exist_ok=True)
    dist = f"{name.replace('-', '_')}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires or [])
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{dist}.dist-info/METADATA"] = meta.encode()
    contents[f"{dist}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: fleet.updates.testing\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    path = dest / f"{dist}-py3-none-any.whl"
    lines = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in contents.items():
            info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            zf.writestr(info, data)
            lines.append(f"{member},{_record_hash(data)},{len(data)}")
        lines.append(f"{dist}.dist-info/RECORD,,")
        zf.writestr(zipfile.ZipInfo(f"{dist}.dist-info/RECORD", date_time=(2020, 1, 1, 0, 0, 0)), "\n".join(lines) + "\n")
    return path


FAKE_APP_MAIN = '''\
"""A stand-in for the kiosk app: writes its status file, then waits to be stopped."""
import json, os, signal, sys, time
import fakedep
from fakekiosk import HEALTHY, __version__

def main():
    status = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    time.sleep(0.05)  # "starting up"
    body = {"version": __version__, "healthy": HEALTHY, "pid": os.getpid(),
            "detail": "ok" if HEALTHY else "devices not supervised", "dep": fakedep.NAME}
    tmp = status + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(body, fh)
    os.replace(tmp, status)
    while True:
        time.sleep(1)

main()
'''


def fake_app_wheels(dest: Path, version: str, healthy: bool = True, padding: int = 0,
                    main: str = FAKE_APP_MAIN) -> list[Path]:
    """Wheels of ``fakekiosk==version`` (needs ``fakedep``): a whole release in two files.

    `padding` adds that many incompressible bytes, to make bundles of realistic size.
    `main` is the app's ``__main__`` (e.g. `fleet.agent.testing.CONTROL_APP_MAIN`); it is
    started as ``python -m fakekiosk <status file>`` and may read ``HEALTHY``/``__version__``.
    """
    files = {
        "fakekiosk/__init__.py": f"__version__ = {version!r}\nHEALTHY = {healthy!r}\n",
        "fakekiosk/__main__.py": main,
    }
    if padding:
        files["fakekiosk/padding.txt"] = base64.b64encode(os.urandom(padding))[:padding].decode()
    return [
        make_wheel(dest, "fakekiosk", version, files, requires=["fakedep>=1"]),
        make_wheel(dest, "fakedep", "1.0", {"fakedep/__init__.py": "NAME = 'fakedep'\n"}),
    ]


FAKE_SERVICE = '''\
"""Restart hook for tests: stop the running fake app (pid file), start the one in current/."""
import os, signal, subprocess, sys, time
root, run = sys.argv[1], sys.argv[2]
pidfile, status = os.path.join(run, "app.pid"), os.path.join(run, "status.json")
os.makedirs(run, exist_ok=True)
try:
    pid = int(open(pidfile).read())
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        with open(f"/proc/{pid}/stat") as fh:  # gone, or a zombie nobody reaps yet
            if fh.read().rsplit(")", 1)[1].split()[0] in "ZX":
                break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
except (OSError, ValueError):
    pass
for path in (status, pidfile):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
python = os.path.join(root, "current", "venv", "bin", "python")
proc = subprocess.Popen([python, "-m", "fakekiosk", status], start_new_session=True,
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open(pidfile + ".tmp", "w") as fh:
    fh.write(str(proc.pid))
os.replace(pidfile + ".tmp", pidfile)
'''


def tamper_bundle(bundle: Path, out: Path) -> Path:
    """A copy of `bundle` with one bit flipped inside its signed ``fakekiosk`` wheel: the
    signature still matches the manifest, the wheel's hash no longer does."""
    import tarfile

    data = bytearray(Path(bundle).read_bytes())
    with tarfile.open(bundle) as tar:
        wheel = next(m for m in tar.getmembers() if m.name.startswith("wheels/fakekiosk"))
    data[wheel.offset_data + wheel.size // 2] ^= 0x01
    Path(out).write_bytes(bytes(data))
    return Path(out)


def write_fake_service(path: Path) -> Path:
    path.write_text(FAKE_SERVICE)
    return path


def stop_fake_app(run_dir: Path) -> None:
    """Stop the fake app a test started (by the pid in its pid file)."""
    import signal

    try:
        pid = int((Path(run_dir) / "app.pid").read_text())
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------- HTTP


class RangeServer:
    """Serves files of `directory` on 127.0.0.1 with HTTP Range; records every request.

    ``cut_once[name] = n`` makes the next response for that file stop after n body bytes
    (the connection is closed), like a dropped link. ``requests`` holds
    (path, Range header or None, status).
    """

    def __init__(self, directory: Path, rate_bytes_s: float | None = None) -> None:
        self.directory = Path(directory)
        self.requests: list[tuple[str, str | None, int]] = []
        self.cut_once: dict[str, int] = {}
        self.bytes_sent = 0
        self.rate_bytes_s = rate_bytes_s
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "RangeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        name = handler.path.lstrip("/").split("?")[0]
        path = self.directory / name
        range_header = handler.headers.get("Range")
        if "/" in name or not path.is_file():
            self._record(name, range_header, 404)
            handler.send_error(404)
            return
        size = path.stat().st_size
        start, status = 0, 200
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match:
            start = int(match.group(1))
            if start >= size:
                self._record(name, range_header, 416)
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{size}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            status = 206
        self._record(name, range_header, status)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(size - start))
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        handler.end_headers()
        with self._lock:
            limit = self.cut_once.pop(name, None)
        remaining = size - start if limit is None else min(limit - start, size - start)
        with open(path, "rb") as fh:
            fh.seek(start)
            while remaining > 0:
                block = fh.read(min(64 * 1024, remaining))
                if not block:
                    break
                handler.wfile.write(block)
                remaining -= len(block)
                with self._lock:
                    self.bytes_sent += len(block)
                if self.rate_bytes_s:
                    import time

                    time.sleep(len(block) / self.rate_bytes_s)
        handler.wfile.flush()
        if limit is not None:
            handler.close_connection = True
            try:
                import socket

                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _record(self, name: str, range_header: str | None, status: int) -> None:
        with self._lock:
            self.requests.append((name, range_header, status))


# ---------------------------------------------------------------- a whole lab


class UpdateLab:
    """Signing key, signed bundles of the fake app served over HTTP, kiosk configs.

    ``with UpdateLab(tmp) as lab: lab.add_release("2.0.0"); updater = lab.updater(root, run)``
    """

    package = "fakekiosk"
    app_main = FAKE_APP_MAIN  # the releases' ``fakekiosk/__main__.py``

    def __init__(self, base: Path, rate_bytes_s: float | None = None) -> None:
        from fleet.bundle.keys import generate_keypair, load_private_key

        self.base = Path(base)
        self.serve_dir = self.base / "srv"
        self.serve_dir.mkdir(parents=True, exist_ok=True)
        private, public = generate_keypair(self.base / "keys", "release")
        self.private_key_path = private
        self.private_key = load_private_key(private)
        self.public_key = public.read_text().strip()
        self.service_script = write_fake_service(self.base / "fake_service.py")
        self.server = RangeServer(self.serve_dir, rate_bytes_s=rate_bytes_s)

    def __enter__(self) -> "UpdateLab":
        self.server.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    def bundle_name(self, version: str) -> str:
        return f"{self.package}-{version}.bundle"

    def add_release(
        self, version: str, healthy: bool = True, min_from: str | None = None, sign: bool = True, padding: int = 0,
        key=None,
    ) -> Path:
        """Build (and sign with `key`, default the lab's own) the bundle of `version`."""
        from fleet.bundle.archive import build_bundle, sign_bundle

        wheels = fake_app_wheels(self.base / "wheels" / version, version, healthy=healthy, padding=padding,
                                 main=self.app_main)
        out = self.serve_dir / self.bundle_name(version)
        build_bundle(wheels, out, package=self.package, version=version, min_from_version=min_from)
        if sign:
            sign_bundle(out, key or self.private_key)
        return out

    def request(self, version: str, **fields):
        from fleet.bundle.manifest import sha256_file
        from fleet.updates.models import UpdateRequest

        size, digest = sha256_file(self.serve_dir / self.bundle_name(version))
        values = {"version": version, "url": f"{self.server.url}/{self.bundle_name(version)}", "sha256": digest, "size": size}
        values.update(fields)
        return UpdateRequest(**values)

    def config(self, root: Path, run_dir: Path, **overrides) -> dict:
        """Fields of `UpdaterConfig` (plus ``health_status_file`` for the CLI)."""
        import sys

        values = {
            "root": str(root),
            "trusted_keys": [self.public_key],
            "restart_command": [sys.executable, str(self.service_script), str(root), str(run_dir)],
            "health_status_file": str(Path(run_dir) / "status.json"),
            "health_deadline_s": 10.0,
            "health_interval_s": 0.05,
            "download": {"backoff_s": 0.01, "timeout_s": 5.0},
            "venv_with_pip": False,  # ensurepip costs seconds per venv; one test keeps it
        }
        values.update(overrides)
        return values

    def updater(self, root: Path, run_dir: Path, **kwargs):
        from fleet.updates.health import StatusFileProbe
        from fleet.updates.installer import Updater, UpdaterConfig

        overrides = kwargs.pop("config", {})
        config = UpdaterConfig.model_validate(self.config(root, run_dir, **overrides))
        kwargs.setdefault("probe", StatusFileProbe(Path(run_dir) / "status.json"))
        return Updater(config, **kwargs)
