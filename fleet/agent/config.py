"""Desired configuration → validated → written → app reloads → reported state."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError

from fleet.agent.control_client import ControlClient, ControlRequestFailed, ControlUnavailable
from fleet.protocol.control import FleetConfigFile, write_config_file
from fleet.protocol.messages import ConfigReported, ConfigStatus, KioskSettings
from fleet.protocol.privacy import redact

log = logging.getLogger(__name__)


def validation_summary(exc: ValidationError) -> str:
    """Which fields and why — never the offending values (they may be personal)."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors(include_input=False)]
    return redact("; ".join(parts))[:500]


class ConfigApplier:
    def __init__(self, kiosk_id: str, path: Path, control: ControlClient, applied_version: int = 0) -> None:
        self.kiosk_id = kiosk_id
        self.path = Path(path)
        self.control = control
        self.applied_version = applied_version

    def _report(self, version: int, status: ConfigStatus, reason: str = "") -> ConfigReported:
        return ConfigReported(
            kiosk_id=self.kiosk_id, version=version, status=status, reason=reason, applied_version=self.applied_version
        )

    def apply(self, version: int, settings: dict) -> ConfigReported:
        try:
            validated = KioskSettings.model_validate(settings)
        except ValidationError as exc:
            return self._report(version, ConfigStatus.REJECTED, validation_summary(exc))
        previous = self.path.read_bytes() if self.path.exists() else None
        write_config_file(self.path, FleetConfigFile(version=version, settings=validated))
        try:
            result = self.control.reload_config()
        except ControlUnavailable:
            self.applied_version = version
            return self._report(version, ConfigStatus.APPLIED, "written; the app is not running and reads it at start")
        except ControlRequestFailed as exc:
            self._restore(previous)
            return self._report(version, ConfigStatus.REJECTED, f"app: {exc.detail}")
        if not result.applied or result.config_version != version:
            self._restore(previous)
            return self._report(version, ConfigStatus.REJECTED, f"app did not apply it: {result.reason}")
        self.applied_version = version
        return self._report(version, ConfigStatus.APPLIED)

    def _restore(self, previous: bytes | None) -> None:
        """Put the last good file back so the next app start does not load a refused one."""
        if previous is None:
            self.path.unlink(missing_ok=True)
        else:
            tmp = self.path.with_name(f".{self.path.name}.restore")
            tmp.write_bytes(previous)
            tmp.replace(self.path)
