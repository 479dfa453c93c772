"""What each fleet command does on the kiosk. Returns an `Outcome`; never raises.

Idempotency, expiry and the accepted → final result sequence live in `fleet.agent.agent`;
this module only runs one command.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import ValidationError

from fleet.agent.config import ConfigApplier
from fleet.agent.control_client import ControlClient, ControlRequestFailed, ControlUnavailable
from fleet.agent.logs import logs_from_command, redact_lines
from fleet.protocol.messages import (
    ApplyConfigArgs,
    Command,
    CommandName,
    CommandStatus,
    ConfigReported,
    ConfigStatus,
    FetchLogsArgs,
    OutOfServiceArgs,
    SelfTestArgs,
)
from fleet.protocol.privacy import find_personal_data, redact

log = logging.getLogger(__name__)

MAX_SCREENSHOT_BYTES = 3 * 1024 * 1024  # the broker's max_packet_size is 4 MiB; base64 grows by 4/3


@dataclass
class Outcome:
    status: CommandStatus
    detail: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    data: bytes | None = None
    data_type: str = ""


class CommandRunner:
    def __init__(
        self,
        control: ControlClient,
        config: ConfigApplier,
        *,
        reboot_command: list[str],
        restart_app_command: list[str],
        logs_command: list[str],
        hook_timeout_s: float = 60.0,
        on_config_reported: Callable[[ConfigReported], None] = lambda report: None,
    ) -> None:
        self.control = control
        self.config = config
        self.reboot_command = reboot_command
        self.restart_app_command = restart_app_command
        self.logs_command = logs_command
        self.hook_timeout_s = hook_timeout_s
        self.on_config_reported = on_config_reported

    def run(self, cmd: Command) -> Outcome:
        try:
            args = cmd.parsed_args()
        except ValidationError as exc:
            return Outcome(CommandStatus.REFUSED, f"bad arguments: {exc.error_count()} errors")
        handler = {
            CommandName.REBOOT: lambda: self._hook(self.reboot_command),
            CommandName.RESTART_APP: lambda: self._hook(self.restart_app_command),
            CommandName.SELF_TEST: lambda: self._self_test(args),
            CommandName.FETCH_LOGS: lambda: self._fetch_logs(args),
            CommandName.SCREENSHOT: self._screenshot,
            CommandName.SET_OUT_OF_SERVICE: lambda: self._out_of_service(args),
            CommandName.APPLY_CONFIG: lambda: self._apply_config(args),
        }[cmd.name]
        try:
            return handler()
        except ControlUnavailable:
            return Outcome(CommandStatus.FAILED, "the kiosk app is not answering on its control socket")
        except ControlRequestFailed as exc:
            status = CommandStatus.REFUSED if exc.refused else CommandStatus.FAILED
            return Outcome(status, redact(exc.detail))
        except Exception as exc:  # a command must always get a final result
            log.exception("command %s failed", cmd.name)
            return Outcome(CommandStatus.FAILED, redact(f"{type(exc).__name__}: {exc}")[:500])

    # -- commands -------------------------------------------------------------------------
    def _hook(self, argv: list[str]) -> Outcome:
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.hook_timeout_s, text=True, errors="replace")
        except FileNotFoundError:
            return Outcome(CommandStatus.FAILED, f"{argv[0]}: not found")
        except subprocess.TimeoutExpired:
            return Outcome(CommandStatus.FAILED, f"{argv[0]}: no exit within {self.hook_timeout_s:g} s")
        if done.returncode != 0:
            tail = redact((done.stderr or done.stdout).strip()[-300:])
            return Outcome(CommandStatus.FAILED, f"exit {done.returncode}: {tail}")
        return Outcome(CommandStatus.SUCCEEDED, f"{argv[0]} exited 0")

    def _self_test(self, args: SelfTestArgs) -> Outcome:
        results = self.control.self_test(args.device)
        failed = [r.kind.value for r in results.results if not r.passed]
        payload = results.model_dump(mode="json")
        if not results.results:
            return Outcome(CommandStatus.FAILED, "no devices to test", payload)
        if failed:
            return Outcome(CommandStatus.FAILED, f"failed: {', '.join(failed)}", payload)
        return Outcome(CommandStatus.SUCCEEDED, f"{len(results.results)} passed", payload)

    def _fetch_logs(self, args: FetchLogsArgs) -> Outcome:
        try:
            lines = self.control.recent_logs(args.lines).lines
            source = "app"
        except ControlUnavailable:
            lines = logs_from_command(self.logs_command, args.lines)
            source = "journal"
        lines = redact_lines(lines)
        if any(find_personal_data(line) for line in lines):  # belt and braces
            return Outcome(CommandStatus.FAILED, "log redaction incomplete; nothing sent")
        return Outcome(CommandStatus.SUCCEEDED, f"{len(lines)} lines from the {source}", {"lines": lines})

    def _screenshot(self) -> Outcome:
        if self.control.status().session_active:
            return Outcome(CommandStatus.REFUSED, "a citizen session is on screen")
        shot = self.control.screenshot()
        if len(shot.png) > MAX_SCREENSHOT_BYTES:
            return Outcome(CommandStatus.FAILED, f"screenshot too large ({len(shot.png)} bytes)")
        return Outcome(
            CommandStatus.SUCCEEDED,
            f"{shot.width}x{shot.height}",
            {"width": shot.width, "height": shot.height},
            data=shot.png,
            data_type="image/png",
        )

    def _out_of_service(self, args: OutOfServiceArgs) -> Outcome:
        status = self.control.set_out_of_service(args.enabled, args.reason)
        return Outcome(
            CommandStatus.SUCCEEDED,
            "out of service" if status.out_of_service else "in service",
            {"out_of_service": status.out_of_service},
        )

    def _apply_config(self, args: ApplyConfigArgs) -> Outcome:
        report = self.config.apply(args.version, args.settings.model_dump(mode="json"))
        self.on_config_reported(report)
        if report.status is ConfigStatus.APPLIED:
            return Outcome(CommandStatus.SUCCEEDED, f"config v{report.version} applied {report.reason}".strip(),
                           {"applied_version": report.applied_version})
        return Outcome(CommandStatus.FAILED, f"config v{report.version} rejected: {report.reason}",
                       {"applied_version": report.applied_version})
