"""The agent's update worker: retained ``update/desired`` → `fleet.updates.Updater` → ``update/reported``.

The installer blocks for minutes (download, pip, restart, health wait), so it runs on a
thread of its own; the agent's work thread only hands desired messages over
(`UpdateWorker.desired`), so commands and config keep flowing during an install and
paho's network loop is never blocked.

Rules (docs/updates.md, "Agent integration"):

- on start, `Updater.resume()` runs first and its outcome is reported; a desired message
  that arrives meanwhile waits;
- each (rollout_id, version, sha256) gets one final report (committed, rolled_back,
  failed, refused), stored with the report in the same outbox transaction. The retained
  desired message delivered again at every connect is then left alone;
- ``deferred`` (outside the maintenance window, a citizen session) is retried every
  ``update_retry_s``; the gate is checked before calling the installer again, so a
  kiosk waiting for its window says nothing until the window opens. A failed download
  is retried the same way, up to ``update_download_attempts`` times, before ``failed``;
- a cleared desired message (empty retained payload) withdraws an update not yet
  started; a newer desired replaces a waiting one (an install in progress finishes first).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin

from fleet.agent.control_client import ControlClient, ControlUnavailable
from fleet.agent.settings import AgentSettings
from fleet.protocol.messages import UpdateDesired, UpdateReported, UpdateState
from fleet.protocol.privacy import redact
from fleet.updates.download import DownloadOptions
from fleet.updates.gating import install_blocker
from fleet.updates.health import ControlStatusProbe
from fleet.updates.installer import Updater, UpdaterConfig
from fleet.updates.models import ReasonCode, UpdateOutcome, UpdateProgress, UpdateRequest

log = logging.getLogger(__name__)

ANSWERED_KEY = "update_answered"  # agent kv: JSON {desired key: final state}, newest last
REMEMBER_ANSWERS = 50
NOT_CONFIGURED = "not_configured"  # reason: the agent has no trusted update keys
MALFORMED_DESIRED = "malformed_desired"  # reason: the desired message could not be read
AGENT_ERROR = "agent_error"  # reason: the installer raised something unexpected

# fleet.updates progress phases and outcome statuses → protocol states
PHASE_STATE: dict[str, UpdateState] = {
    "downloading": UpdateState.DOWNLOADING,
    "verifying": UpdateState.VERIFYING,
    "installing": UpdateState.INSTALLING,
    "switching": UpdateState.INSTALLING,
    "restarting": UpdateState.RESTARTING,
    "health_check": UpdateState.PENDING_COMMIT,
    "rolling_back": UpdateState.ROLLING_BACK,
    "committed": UpdateState.COMMITTED,
    "noop": UpdateState.COMMITTED,
    "rolled_back": UpdateState.ROLLED_BACK,
    "refused": UpdateState.REFUSED,
    "failed": UpdateState.FAILED,
    "deferred": UpdateState.DEFERRED,
    "aborted": UpdateState.IDLE,
}
_TERMINAL_PHASES = {"committed", "rolled_back", "refused", "failed", "deferred"}  # reported from the outcome

Emit = Callable[[UpdateReported, dict[str, str] | None], None]


def desired_key(rollout_id: str, version: str, sha256: str | None) -> str:
    """What one final answer is about: a new rollout id (or a new bundle) is a new question."""
    return f"{rollout_id}|{version}|{sha256 or ''}"


def updater_config(settings: AgentSettings) -> UpdaterConfig:
    return UpdaterConfig(
        root=settings.update_root,
        trusted_keys=settings.update_trusted_keys,
        restart_command=settings.update_restart_command or settings.restart_app_command,
        restart_timeout_s=settings.update_restart_timeout_s,
        health_deadline_s=settings.update_health_deadline_s,
        health_interval_s=settings.update_health_interval_s,
        maintenance_windows=settings.update_maintenance_windows,
        python=settings.update_python,
        venv_with_pip=settings.update_venv_with_pip,
        download=DownloadOptions(ca_file=str(settings.update_ca_file) if settings.update_ca_file else None),
    )


def make_clock(clock_file: Path | None) -> Callable[[], datetime]:
    """Local wall-clock time; from `clock_file` (ISO 8601) when set, for tests."""

    def now() -> datetime:
        if clock_file is not None:
            try:
                return datetime.fromisoformat(Path(clock_file).read_text().strip())
            except (OSError, ValueError):
                log.warning("update clock file %s unreadable; using the real clock", clock_file)
        return datetime.now().astimezone()

    return now


def app_session_gate(client: ControlClient) -> Callable[[], bool]:
    """True while a citizen session is on screen.

    An app that answers decides. One that is not running at all (no socket, connection
    refused) cannot have a citizen in front of it, so an update — which may be what
    brings it back — may go ahead. One that is there but does not answer (hung) raises,
    which the installer counts as "a session may be active".
    """

    def active() -> bool:
        try:
            return bool(client.status().session_active)
        except ControlUnavailable:
            if not _app_listening(Path(client.path)):
                return False
            raise

    return active


def _app_listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        except OSError:
            return True  # something is there but unwell
    return True


class UpdateWorker:
    def __init__(
        self,
        settings: AgentSettings,
        *,
        answered: str | None,
        emit: Emit,
        app_version: Callable[[], str] = lambda: "",
    ) -> None:
        self.settings = settings
        self.kiosk_id = settings.kiosk_id
        self._emit = emit
        self._app_version = app_version
        self._answered: dict[str, str] = _load_answers(answered)
        self.updater: Updater | None = None
        self._not_configured = "this agent has no trusted update keys (update_trusted_keys)"
        control = ControlClient(settings.control_socket, timeout=5.0)
        self._clock = make_clock(settings.update_clock_file)
        self._session_active = app_session_gate(control)
        if settings.update_trusted_keys:
            try:
                self.updater = Updater(
                    updater_config(settings),
                    probe=ControlStatusProbe(control, required_devices=set(settings.update_required_devices)),
                    session_active=self._session_active,
                    clock=self._clock,
                    progress=self._on_progress,
                )
            except ValueError as exc:  # a bad key must not stop presence, health and commands
                log.error("updates disabled: %s", exc)
                self._not_configured = f"update settings unusable: {type(exc).__name__}: {exc}"[:300]
        self._cond = threading.Condition()
        self._pending: UpdateDesired | None = None
        self._fresh = False  # a desired message arrived since the worker last looked
        self._retry_at: float | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="agent-update", daemon=True)
        # per request being worked on (worker thread only)
        self._waiting_key: str | None = None  # deferred or download retry pending for this key
        self._waiting_reason: str = ""
        self._download_failures: dict[str, int] = {}
        self._last_sent: tuple | None = None
        self._last_progress_at = 0.0
        self._send_lock = threading.Lock()  # the agent's work thread reports malformed messages

    # ------------------------------------------------------------ called by the agent
    def start(self) -> "UpdateWorker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to end; an install in progress is left to `resume()` at next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def desired(self, desired: UpdateDesired | None) -> None:
        """A (retained) desired update arrived; None = it was cleared. Never blocks."""
        with self._cond:
            self._pending = desired
            self._fresh = True
            self._cond.notify_all()

    def malformed(self, version: str, rollout_id: str) -> None:
        """A desired message that does not decode: refused once, so the server hears of it."""
        key = desired_key(rollout_id, version, "malformed")
        if key not in self._answered:
            self._send(UpdateState.REFUSED, version, rollout_id, reason=MALFORMED_DESIRED,
                       detail="undecodable update/desired message", final_key=key)

    # ------------------------------------------------------------ the worker thread
    def _run(self) -> None:
        if self.updater is not None:
            try:
                self._report_resume(self.updater.resume())
            except Exception:
                log.exception("resuming an interrupted update failed")
        while True:
            with self._cond:
                while not self._stopping and not self._fresh and not self._retry_due():
                    self._cond.wait(self._wait_s())
                if self._stopping:
                    return
                desired, self._fresh = self._pending, False
                if self._retry_due():
                    self._retry_at = None
            if desired is None:
                self._waiting_key, self._retry_at = None, None
                continue
            try:
                self._handle(desired)
            except Exception:  # the worker must outlive any single request
                log.exception("handling desired update %s failed", desired.version)

    def _retry_due(self) -> bool:
        return self._retry_at is not None and time.monotonic() >= self._retry_at

    def _wait_s(self) -> float | None:
        return None if self._retry_at is None else max(0.0, self._retry_at - time.monotonic())

    def _retry_later(self, key: str, reason: str) -> None:
        self._waiting_key, self._waiting_reason = key, reason
        with self._cond:
            self._retry_at = time.monotonic() + self.settings.update_retry_s

    def _handle(self, desired: UpdateDesired) -> None:
        if desired.kiosk_id != self.kiosk_id:
            return
        key = desired_key(desired.rollout_id, desired.version, desired.sha256)
        if key in self._answered:
            log.debug("desired update %s already answered (%s)", desired.version, self._answered[key])
            return
        if self.updater is None:
            self._send(UpdateState.REFUSED, desired.version, desired.rollout_id, reason=NOT_CONFIGURED,
                       detail=self._not_configured, final_key=key)
            return
        if key != self._waiting_key:
            self._waiting_key, self._waiting_reason = None, ""
        elif self._waiting_reason in (ReasonCode.OUTSIDE_MAINTENANCE_WINDOW, ReasonCode.SESSION_ACTIVE):
            # Still waiting for the gate? Ask it before the installer re-verifies the bundle.
            blocker = install_blocker(self.settings.update_maintenance_windows, self._clock, self._session_active)
            if blocker is not None:
                reason, detail = blocker
                if reason != self._waiting_reason:
                    self._send(UpdateState.DEFERRED, desired.version, desired.rollout_id, reason=reason, detail=detail)
                self._retry_later(key, reason)
                return
        request = UpdateRequest.from_desired(desired)
        if self.settings.update_base_url and not request.url.startswith(("http://", "https://")):
            request.url = urljoin(self.settings.update_base_url, request.url)
        self._last_sent = None
        try:
            outcome = self.updater.apply(request)
        except Exception as exc:
            log.exception("the installer raised")
            outcome = UpdateOutcome(status="failed", version=request.version, rollout_id=request.rollout_id,
                                    current_version=self._current(), detail=f"{AGENT_ERROR}: {type(exc).__name__}")
        self._report_outcome(outcome, key)

    # ------------------------------------------------------------ reporting
    def _report_outcome(self, outcome: UpdateOutcome, key: str) -> None:
        reason = outcome.reason.value if outcome.reason else ""
        if outcome.status == "deferred":
            if not (key == self._waiting_key and reason == self._waiting_reason):
                self._send_outcome(outcome)
            self._retry_later(key, reason)
            return
        retryable = outcome.status == "failed" and (
            outcome.reason is ReasonCode.DOWNLOAD_FAILED or outcome.detail.startswith(AGENT_ERROR)
        )
        if retryable:
            failures = self._download_failures.get(key, 0) + 1
            self._download_failures[key] = failures
            if failures < self.settings.update_download_attempts:
                left = self.settings.update_download_attempts - failures
                self._send(UpdateState.DOWNLOADING, outcome.version, outcome.rollout_id, reason=reason or AGENT_ERROR,
                           detail=f"{outcome.detail}; retrying in {self.settings.update_retry_s:g} s ({left} left)")
                self._retry_later(key, reason)
                return
        self._waiting_key, self._waiting_reason = None, ""
        self._download_failures.pop(key, None)
        self._send_outcome(outcome, final_key=key)

    def _report_resume(self, outcome: UpdateOutcome | None) -> None:
        if outcome is None:
            return
        log.warning("resume after restart: %s %s (%s)", outcome.status, outcome.version, outcome.reason)
        request = self.updater.status().request if self.updater else None
        if outcome.status == "aborted" or request is None:
            self._send_outcome(outcome)  # idle/interrupted: the retained desired re-applies it
            return
        self._send_outcome(outcome, final_key=desired_key(request.rollout_id, request.version, request.sha256))

    def _send_outcome(self, outcome: UpdateOutcome, final_key: str | None = None) -> None:
        self._send(PHASE_STATE[outcome.status], outcome.version, outcome.rollout_id,
                   reason=outcome.reason.value if outcome.reason else "", detail=outcome.detail,
                   current=outcome.current_version, final_key=final_key)

    def _on_progress(self, progress: UpdateProgress) -> None:
        """The installer's progress (worker thread). Final states come from the outcome instead."""
        if progress.phase in _TERMINAL_PHASES:
            return
        state = PHASE_STATE[progress.phase]
        if state is UpdateState.DOWNLOADING and progress.percent not in (None, 0.0, 100.0):
            if time.monotonic() - self._last_progress_at < self.settings.update_progress_interval_s:
                return
        self._send(state, progress.version, progress.rollout_id, progress=progress.percent,
                   reason=progress.reason.value if progress.reason else "", detail=progress.detail)

    def _current(self) -> str:
        current = self.updater.current_version() if self.updater else None
        return current or self._app_version() or ""

    def _send(
        self,
        state: UpdateState,
        version: str,
        rollout_id: str,
        *,
        reason: str = "",
        detail: str = "",
        progress: float | None = None,
        current: str | None = None,
        final_key: str | None = None,
    ) -> None:
        with self._send_lock:
            signature = (state, version, rollout_id, reason, progress)
            if final_key is None and signature == self._last_sent:
                return  # e.g. "switching" after "installing": same protocol state, nothing new
            self._last_sent = signature
            if state is UpdateState.DOWNLOADING:
                self._last_progress_at = time.monotonic()
            self._send_locked(state, version, rollout_id, reason, detail, progress, current, final_key)

    def _send_locked(self, state, version, rollout_id, reason, detail, progress, current, final_key) -> None:
        fields = dict(kiosk_id=self.kiosk_id, version=version, state=state, rollout_id=rollout_id, reason=reason[:64],
                      progress=progress, current_version=current or self._current())
        try:
            report = UpdateReported(detail=redact(detail)[:500], **fields)
        except ValueError:  # the personal-data check refused the detail: send the rest
            try:
                report = UpdateReported(detail="detail withheld", **fields)
            except ValueError:  # a version or rollout id that looks personal: nothing to send
                log.error("update report withheld: it looked like personal data")
                return
        kv = None
        if final_key is not None:
            self._answered.pop(final_key, None)
            self._answered[final_key] = state.value
            while len(self._answered) > REMEMBER_ANSWERS:
                self._answered.pop(next(iter(self._answered)))
            kv = {ANSWERED_KEY: json.dumps(self._answered)}
        log.info("update %s %s%s", version, state.value, f" ({reason})" if reason else "")
        self._emit(report, kv)


def _load_answers(text: str | None) -> dict[str, str]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
