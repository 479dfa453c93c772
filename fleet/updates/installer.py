"""Kiosk-side install: download → verify → install beside → switch → restart → commit or roll back.

Layout under ``root`` (e.g. /opt/kiosk):

    current -> releases/<version>    the symlink kiosk.service runs from
    releases/<version>/venv/         one virtual environment per release
    releases/<version>/INSTALLED     written last (sha256 of the manifest): release complete
    downloads/<version>.bundle       (.part + .part.json while downloading)
    staging/<version>/               verified files extracted from the bundle
    update-state.json                `UpdateRecord`, written atomically before each step

Every step is idempotent and the state file says which step was reached, so a power cut
anywhere leaves a bootable `current`, and `resume()` on agent start finishes the job:

- before the switch (downloading … installed): the running release was never touched;
  the half-built release and staging are removed (the partial download is kept, so the
  next apply() resumes it) → outcome ``aborted``;
- after the switch (switching, restarting, health check): `current` is pointed at the
  new release again, the app restarted and its health checked again — at most
  ``max_health_attempts`` times across power cuts (a release that takes the machine down
  with it is rolled back), then commit or roll back;
- while rolling back: the rollback is finished.

`Updater` is blocking; the (asyncio) agent runs it in a thread. `KIOSK_UPDATE_CRASH_AFTER`
= a name from `CHECKPOINTS` makes the process SIGKILL itself right after that step: the
power-cut tests use it on a real installer subprocess.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from pydantic import BaseModel, Field

from fleet.bundle.archive import verify_bundle
from fleet.bundle.durable import atomic_write_bytes, fsync_dir
from fleet.bundle.keys import TrustedKeys
from fleet.bundle.manifest import MANIFEST_NAME, WHEELS_DIR, Manifest, parse_version
from fleet.updates.download import Downloader, DownloadOptions
from fleet.updates.gating import MaintenanceWindow, install_blocker
from fleet.updates.health import HealthProbe, wait_healthy
from fleet.updates.models import (
    ReasonCode,
    UpdateError,
    UpdateOutcome,
    UpdateProgress,
    UpdateRequest,
    utcnow,
)
from fleet.updates.state import (
    POST_SWITCH,
    PRE_SWITCH,
    SETTLED,
    Phase,
    StateStore,
    UpdateRecord,
)

log = logging.getLogger("fleet.updates")

CRASH_ENV = "KIOSK_UPDATE_CRASH_AFTER"
FORWARD_CHECKPOINTS = (
    "downloaded",
    "verified",
    "venv_created",
    "packages_installed",
    "installed",
    "switching",
    "switched",
    "restarted",
    "healthy",
    "committed",
)
ROLLBACK_CHECKPOINTS = ("rollback_started", "rollback_switched", "rollback_restarted")
CHECKPOINTS = FORWARD_CHECKPOINTS + ROLLBACK_CHECKPOINTS

_VERIFY_REASONS = {
    ReasonCode.MALFORMED_BUNDLE,
    ReasonCode.UNSIGNED,
    ReasonCode.UNTRUSTED_KEY,
    ReasonCode.BAD_SIGNATURE,
    ReasonCode.MISSING_FILE,
    ReasonCode.UNEXPECTED_FILE,
    ReasonCode.SIZE_MISMATCH,
    ReasonCode.HASH_MISMATCH,
    ReasonCode.VERSION_MISMATCH,
    ReasonCode.DOWNGRADE,
    ReasonCode.FROM_VERSION_TOO_OLD,
    ReasonCode.DOWNLOAD_CORRUPT,
}


class UpdaterConfig(BaseModel):
    root: Path
    trusted_keys: list[str]  # "ed25519:<base64>" lines (see fleet.bundle.keys)
    restart_command: list[str] | None = None  # e.g. ["systemctl", "restart", "kiosk.service"]; {release} {version}
    restart_timeout_s: float = 120.0
    health_deadline_s: float = 180.0
    health_interval_s: float = 2.0
    max_health_attempts: int = Field(default=2, ge=1)  # restarts into a new release, across power cuts
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)  # empty: any time
    keep_releases: int = Field(default=2, ge=2)  # current + previous at least
    python: str | None = None  # interpreter for new releases' venvs; default: the agent's
    # Give each release venv its own pip (ensurepip, offline) so that the agent running
    # from the next release can install the one after. Tests turn it off for speed.
    venv_with_pip: bool = True
    pip_timeout_s: float = 900.0
    download: DownloadOptions = Field(default_factory=DownloadOptions)


ProgressCallback = Callable[[UpdateProgress], None]
RestartHook = Callable[[Path, str], None]  # (release dir, version); raise UpdateError(RESTART_FAILED)


class Updater:
    def __init__(
        self,
        config: UpdaterConfig,
        *,
        probe: HealthProbe,
        restart: RestartHook | None = None,
        session_active: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] | None = None,
        progress: ProgressCallback | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.root = Path(config.root)
        self.trusted = TrustedKeys.from_texts(config.trusted_keys)
        self.probe = probe
        self._restart = restart or self._restart_command
        self._session_active = session_active
        self._clock = clock or (lambda: datetime.now().astimezone())
        self._progress_cb = progress
        self._monotonic, self._sleep = monotonic, sleep
        self.store = StateStore(self.root / "update-state.json")
        self.downloader = Downloader(config.download, sleep=sleep)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ layout

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    def release_dir(self, version: str) -> Path:
        parse_version(version)  # never a path component we did not validate
        return self.root / "releases" / version

    def _staging(self, version: str) -> Path:
        return self.root / "staging" / version

    def _bundle_path(self, version: str) -> Path:
        return self.root / "downloads" / f"{version}.bundle"

    def is_installed(self, version: str) -> bool:
        return (self.release_dir(version) / "INSTALLED").is_file()

    def current_version(self) -> str | None:
        """The version `current` points at, or None before the first install."""
        try:
            target = os.readlink(self.current_link)
        except OSError:
            return None
        return Path(target).name

    def status(self) -> UpdateRecord:
        return self.store.load()

    # ------------------------------------------------------------ public steps

    def apply(self, request: UpdateRequest) -> UpdateOutcome:
        """Bring the kiosk to `request.version` (or explain why not). Blocking."""
        with self._exclusive():
            record = self.store.load()
            if record.phase not in SETTLED:
                self._resume(record)
                record = self.store.load()
            current = self.current_version()
            record = UpdateRecord(  # what the state file says about *this* request from now on
                request=request, version=request.version, previous_version=current, failed_attempts=record.failed_attempts
            )
            try:
                wanted = parse_version(request.version)
            except ValueError:
                return self._refuse(request, ReasonCode.VERSION_MISMATCH, f"not a version: {request.version!r}", record)
            running = parse_version(current) if current is not None else None
            if running == wanted and self.is_installed(current):
                return self._outcome("noop", request, detail="already running this version")
            if request.attempt_key in record.failed_attempts:
                return self._refuse(
                    request, ReasonCode.PREVIOUSLY_FAILED, "this bundle was rolled back here before; start a new rollout to retry", record
                )
            if running is not None and wanted < running and not request.allow_downgrade:
                # cheap early refusal (no download); repeated against the signed manifest later
                return self._refuse(request, ReasonCode.DOWNGRADE, f"{request.version} is older than the running {current}", record)
            return self._install_new(request, current, record)

    def resume(self) -> UpdateOutcome | None:
        """On agent start: finish or undo an install a crash or power cut interrupted."""
        with self._exclusive():
            return self._resume(self.store.load())

    # ------------------------------------------------------------ the forward path

    def _install_new(self, request: UpdateRequest, current: str | None, record: UpdateRecord) -> UpdateOutcome:
        version = request.version
        record.phase, record.started_at = Phase.DOWNLOADING, utcnow()
        self.store.save(record)
        self._drop_stale_downloads(version)
        try:
            bundle = self._download(request)
            _checkpoint("downloaded")
            self._report("verifying", request)
            verified = verify_bundle(
                bundle,
                self.trusted,
                current_version=current,
                allow_downgrade=request.allow_downgrade,
                expected_version=version,
                extract_to=self._staging(version),
            )
        except UpdateError as exc:
            if exc.reason in _VERIFY_REASONS:
                self._bundle_path(version).unlink(missing_ok=True)
                return self._refuse(request, exc.reason, exc.detail, record)
            return self._fail(request, exc.reason, exc.detail, record)
        record.phase, record.manifest_sha256 = Phase.VERIFIED, verified.manifest_sha256
        self.store.save(record)
        _checkpoint("verified")

        blocker = install_blocker(self.config.maintenance_windows, self._clock, self._session_active)
        if blocker:
            shutil.rmtree(self._staging(version), ignore_errors=True)
            return self._defer(request, *blocker, record)

        record.phase = Phase.INSTALLING
        self.store.save(record)
        self._report("installing", request)
        try:
            self._install_release(verified.manifest, verified.manifest_sha256)
        except UpdateError as exc:
            return self._fail(request, exc.reason, exc.detail, record)
        shutil.rmtree(self._staging(version), ignore_errors=True)
        record.phase = Phase.INSTALLED
        self.store.save(record)
        _checkpoint("installed")

        blocker = install_blocker([], self._clock, self._session_active)  # a citizen may have arrived meanwhile
        if blocker:
            return self._defer(request, *blocker, record)
        return self._switch_and_check(record)

    def _download(self, request: UpdateRequest) -> Path:
        last = [-1.0]

        def on_bytes(have: int, total: int | None) -> None:
            percent = round(100.0 * have / total, 1) if total else None
            if percent is None or percent - last[0] >= 1.0 or percent == 100.0 and last[0] != 100.0:
                last[0] = percent if percent is not None else last[0]
                self._report("downloading", request, percent=percent, bytes_done=have, bytes_total=total)

        return self.downloader.fetch(
            request.url, self._bundle_path(request.version), size=request.size, sha256=request.sha256, progress=on_bytes
        )

    def _install_release(self, manifest: Manifest, manifest_sha256: str) -> None:
        """Build releases/<version> with its own venv from the staged wheels; idempotent."""
        release = self.release_dir(manifest.version)
        marker = release / "INSTALLED"
        if marker.is_file() and marker.read_text().strip() == manifest_sha256:
            return  # built before (an earlier apply deferred after install)
        if manifest.version == self.current_version():
            raise UpdateError(ReasonCode.INSTALL_FAILED, "refusing to rebuild the running release")
        shutil.rmtree(release, ignore_errors=True)
        release.mkdir(parents=True)
        staging = self._staging(manifest.version)
        python = self.config.python or sys.executable
        venv = release / "venv"
        venv_python = str(venv / "bin" / "python")
        with_pip = [] if self.config.venv_with_pip else ["--without-pip"]
        self._run([python, "-m", "venv", *with_pip, str(venv)], "create the venv")
        _checkpoint("venv_created")
        # The new venv's own pip when it has one, else ours pointed at it (pip >= 22.3).
        pip = [venv_python, "-m", "pip"] if self.config.venv_with_pip else [sys.executable, "-m", "pip", "--python", venv_python]
        self._run(
            [
                *pip, "install", "--no-index", "--find-links", str(staging / WHEELS_DIR),
                "--no-cache-dir", "--disable-pip-version-check", "--no-input", "--quiet",
                manifest.requirement,
            ],
            "install the wheels",
        )
        _checkpoint("packages_installed")
        shutil.copyfile(staging / MANIFEST_NAME, release / MANIFEST_NAME)
        atomic_write_bytes(marker, manifest_sha256.encode() + b"\n")

    def _run(self, argv: list[str], what: str) -> None:
        # pip must see only the bundle: no site pip.conf, no PIP_* (find-links, index…).
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=self.config.pip_timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpdateError(ReasonCode.INSTALL_FAILED, f"could not {what}: {type(exc).__name__}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise UpdateError(ReasonCode.INSTALL_FAILED, f"could not {what}: {' | '.join(tail)[-400:]}")

    def _switch_and_check(self, record: UpdateRecord) -> UpdateOutcome:
        request, version = record.request, record.version
        assert request is not None and version is not None
        record.phase = Phase.SWITCHING
        record.health_attempts += 1
        self.store.save(record)
        _checkpoint("switching")
        self._report("switching", request)
        self._point_current(version, previous=record.previous_version)
        _checkpoint("switched")
        record.phase = Phase.RESTARTING
        self.store.save(record)
        self._report("restarting", request)
        try:
            self._restart(self.release_dir(version), version)
        except UpdateError as exc:
            return self._rollback(record, exc.reason, exc.detail)
        _checkpoint("restarted")
        record.phase = Phase.HEALTH_CHECK
        self.store.save(record)
        self._report("health_check", request)
        report = wait_healthy(
            self.probe,
            version,
            self.config.health_deadline_s,
            self.config.health_interval_s,
            monotonic=self._monotonic,
            sleep=self._sleep,
        )
        if not report.healthy:
            reason = ReasonCode.UNHEALTHY if report.answered else ReasonCode.HEALTH_TIMEOUT
            detail = f"not healthy within {self.config.health_deadline_s:g} s: {report.detail or 'no answer'}"
            return self._rollback(record, reason, detail)
        _checkpoint("healthy")
        record.phase, record.reason, record.detail = Phase.COMMITTED, None, report.detail
        self.store.save(record)
        _checkpoint("committed")
        self._tidy(record)
        self._report("committed", request)
        return self._outcome("committed", request, previous=record.previous_version)

    # ------------------------------------------------------------ rollback and resume

    def _rollback(self, record: UpdateRecord, reason: ReasonCode, detail: str) -> UpdateOutcome:
        request, version, previous = record.request, record.version, record.previous_version
        assert request is not None and version is not None
        record.phase, record.reason, record.detail = Phase.ROLLING_BACK, reason, detail
        self.store.save(record)
        _checkpoint("rollback_started")
        self._report("rolling_back", request, reason=reason, detail=detail)
        if previous is None or not self.is_installed(previous):
            # First install: nothing older to go back to; keep what we have and say so.
            record.phase = Phase.FAILED
            self.store.save(record)
            self._report("failed", request, reason=reason, detail=detail)
            return self._outcome("failed", request, reason=reason, detail=detail + "; no previous release to roll back to")
        self._point_current(previous)
        _checkpoint("rollback_switched")
        (self.root / "previous").unlink(missing_ok=True)  # it named the release removed below
        fsync_dir(self.root)
        try:
            self._restart(self.release_dir(previous), previous)
        except UpdateError as exc:
            detail = f"{detail}; restarting {previous} failed too: {exc.detail}"
            log.error("rollback restart of %s failed: %s", previous, exc.detail)
        _checkpoint("rollback_restarted")
        self._remove_release(version)
        shutil.rmtree(self._staging(version), ignore_errors=True)
        self._drop_stale_downloads(None)
        if request.attempt_key not in record.failed_attempts:
            record.failed_attempts = (record.failed_attempts + [request.attempt_key])[-20:]
        record.phase, record.detail = Phase.ROLLED_BACK, detail
        self.store.save(record)
        self._report("rolled_back", request, reason=reason, detail=detail)
        return self._outcome("rolled_back", request, reason=reason, detail=detail, previous=version)

    def _resume(self, record: UpdateRecord) -> UpdateOutcome | None:
        request, version = record.request, record.version
        if record.phase in SETTLED or request is None or version is None:
            self._tidy(record)
            return None
        log.warning("resuming an update to %s interrupted in phase %s", version, record.phase)
        if record.phase in PRE_SWITCH:
            shutil.rmtree(self._staging(version), ignore_errors=True)
            self._remove_release(version)
            record.phase, record.reason = Phase.IDLE, ReasonCode.INTERRUPTED
            record.detail = "interrupted before the switch; the running release was not touched"
            self.store.save(record)
            self._tidy(record)
            return self._outcome("aborted", request, reason=ReasonCode.INTERRUPTED, detail=record.detail)
        if record.phase in POST_SWITCH:
            if record.health_attempts >= self.config.max_health_attempts:
                return self._rollback(
                    record,
                    ReasonCode.INTERRUPTED,
                    f"interrupted {record.health_attempts} times between switch and commit",
                )
            return self._switch_and_check(record)
        # ROLLING_BACK
        return self._rollback(record, record.reason or ReasonCode.INTERRUPTED, record.detail)

    # ------------------------------------------------------------ helpers

    def _point_current(self, version: str, previous: str | None = None) -> None:
        """Atomic switch: a new symlink beside `current`, renamed over it.

        `previous` (the link scripts/install-kiosk.sh keeps too) is set first, so that it
        never names a release older than the one `current` just left.
        """
        if previous is not None and previous != version:
            self._link("previous", previous)
        self._link("current", version)

    def _link(self, name: str, version: str) -> None:
        tmp = self.root / f"{name}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.join("releases", version), tmp)
        os.replace(tmp, self.root / name)
        fsync_dir(self.root)

    def _remove_release(self, version: str) -> None:
        if version == self.current_version():
            return
        shutil.rmtree(self.release_dir(version), ignore_errors=True)

    def _drop_stale_downloads(self, keep_version: str | None) -> None:
        folder = self.root / "downloads"
        if not folder.is_dir():
            return
        keep = f"{keep_version}.bundle" if keep_version else None
        for item in folder.iterdir():
            if keep is None or not item.name.startswith(keep):
                item.unlink(missing_ok=True)

    def _tidy(self, record: UpdateRecord) -> None:
        """Idempotent clean-up of what a settled state no longer needs."""
        for leftover in ("current.tmp", "previous.tmp"):
            (self.root / leftover).unlink(missing_ok=True)
        previous = self.root / "previous"
        if previous.is_symlink() and not previous.exists():
            previous.unlink()
        if record.phase != Phase.COMMITTED:
            return
        shutil.rmtree(self.root / "staging", ignore_errors=True)
        self._drop_stale_downloads(None)
        releases = self.root / "releases"
        keep = {self.current_version(), record.previous_version}
        if releases.is_dir():
            others = sorted(
                (p for p in releases.iterdir() if p.name not in keep),
                key=lambda p: p.stat().st_mtime,
                reverse=True,
            )
            room = max(0, self.config.keep_releases - len(keep - {None}))
            for stale in others[room:]:
                shutil.rmtree(stale, ignore_errors=True)

    def _restart_command(self, release: Path, version: str) -> None:
        argv = self.config.restart_command
        if not argv:
            return
        argv = [a.replace("{release}", str(release)).replace("{version}", version) for a in argv]
        env = dict(os.environ, KIOSK_RELEASE_DIR=str(release), KIOSK_RELEASE_VERSION=version)
        env.pop(CRASH_ENV, None)
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=self.config.restart_timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpdateError(ReasonCode.RESTART_FAILED, f"restart command: {type(exc).__name__}") from None
        if done.returncode != 0:
            raise UpdateError(ReasonCode.RESTART_FAILED, f"restart command exited {done.returncode}: {done.stderr.strip()[-200:]}")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One installer at a time, across threads and processes (agent and CLI)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.root / ".update.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _report(self, phase: str, request: UpdateRequest, **fields) -> None:
        if self._progress_cb is None:
            return
        try:
            self._progress_cb(UpdateProgress(phase=phase, version=request.version, rollout_id=request.rollout_id, **fields))
        except Exception:  # a broken reporter must not break an install
            log.exception("progress callback failed")

    def _outcome(self, status: str, request: UpdateRequest, *, reason: ReasonCode | None = None, detail: str = "", previous: str | None = None) -> UpdateOutcome:
        return UpdateOutcome(
            status=status,
            version=request.version,
            rollout_id=request.rollout_id,
            current_version=self.current_version(),
            previous_version=previous,
            reason=reason,
            detail=detail,
        )

    def _settle(self, record: UpdateRecord, phase: Phase, reason: ReasonCode, detail: str) -> None:
        record.phase, record.reason, record.detail = phase, reason, detail
        self.store.save(record)

    def _refuse(self, request: UpdateRequest, reason: ReasonCode, detail: str, record: UpdateRecord) -> UpdateOutcome:
        shutil.rmtree(self._staging(request.version), ignore_errors=True)
        self._settle(record, Phase.IDLE, reason, detail)
        self._report("refused", request, reason=reason, detail=detail)
        return self._outcome("refused", request, reason=reason, detail=detail)

    def _fail(self, request: UpdateRequest, reason: ReasonCode, detail: str, record: UpdateRecord) -> UpdateOutcome:
        shutil.rmtree(self._staging(request.version), ignore_errors=True)
        self._remove_release(request.version)
        self._settle(record, Phase.IDLE, reason, detail)
        self._report("failed", request, reason=reason, detail=detail)
        return self._outcome("failed", request, reason=reason, detail=detail)

    def _defer(self, request: UpdateRequest, reason: ReasonCode, detail: str, record: UpdateRecord) -> UpdateOutcome:
        self._settle(record, Phase.IDLE, reason, detail)
        self._report("deferred", request, reason=reason, detail=detail)
        return self._outcome("deferred", request, reason=reason, detail=detail)


def _checkpoint(name: str) -> None:
    """Test hook: SIGKILL this process right after step `name` (simulates a power cut)."""
    if os.environ.get(CRASH_ENV) == name:
        log.warning("%s=%s: killing myself", CRASH_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)
