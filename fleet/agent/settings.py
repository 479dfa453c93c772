"""Agent settings: a TOML file (``--config`` / ``KIOSK_AGENT_CONFIG``, else
``/etc/kiosk-agent/agent.toml``) with ``KIOSK_AGENT_*`` environment overrides
(lists as JSON, e.g. ``KIOSK_AGENT_RESTART_APP_COMMAND='["systemctl","restart","kiosk"]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from fleet.protocol.topics import check_kiosk_id
from fleet.updates.gating import MaintenanceWindow
from peripherals.settings_files import TomlFileSettings

CONFIG_ENV = "KIOSK_AGENT_CONFIG"
DEFAULT_CONFIG = Path("/etc/kiosk-agent/agent.toml")
AGENT_VERSION = "0.1.0"


class AgentSettings(TomlFileSettings):
    model_config = SettingsConfigDict(env_prefix="KIOSK_AGENT_", extra="ignore")
    config_env: ClassVar[str] = CONFIG_ENV
    config_defaults: ClassVar[tuple[Path, ...]] = (DEFAULT_CONFIG,)

    kiosk_id: str
    broker_host: str = "localhost"
    broker_port: int = 8883
    ca_file: Path = Path("/etc/kiosk-agent/pki/ca.crt")
    cert_file: Path = Path("/etc/kiosk-agent/pki/kiosk.crt")
    key_file: Path = Path("/etc/kiosk-agent/pki/kiosk.key")

    state_dir: Path = Path("/var/lib/kiosk-agent")  # agent.db: outbox, sessions, seen commands
    control_socket: Path = Path("/run/kiosk/control.sock")
    kiosk_config_path: Path = Path("/var/lib/kiosk/fleet-config.json")  # written by apply_config

    health_interval_s: float = Field(default=30.0, gt=0)  # publish at least this often
    poll_interval_s: float = Field(default=2.0, gt=0)  # ask the app for status/events this often
    keepalive_s: int = Field(default=30, ge=5)
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    session_expiry_s: int = Field(default=86400, ge=0)  # broker keeps our subscriptions/commands this long
    outbox_window: int = Field(default=20, ge=1)  # outbox messages in flight at once

    reboot_command: list[str] = ["systemctl", "reboot"]
    restart_app_command: list[str] = ["systemctl", "restart", "kiosk.service"]
    logs_command: list[str] = ["journalctl", "-u", "kiosk.service", "-n", "{lines}", "--no-pager", "-o", "short-iso"]
    hook_timeout_s: float = 60.0
    remember_commands_s: float = 7 * 86400  # idempotency horizon for command ids

    app_version_fallback: str = ""  # reported when the app cannot be asked

    # -- signed updates (fleet.agent.updates; docs/updates.md "Agent integration") ----------
    # No trusted key = updates disabled: every desired update is refused (not_configured).
    update_trusted_keys: list[str] = []  # "ed25519:<base64>", bare base64, PEM or a key file path
    update_root: Path = Path("/opt/kiosk")  # current -> releases/<version>, downloads/, update-state.json
    update_restart_command: list[str] | None = None  # {release} {version}; None: restart_app_command
    update_restart_timeout_s: float = Field(default=120.0, gt=0)
    update_health_deadline_s: float = Field(default=180.0, gt=0)  # new release must be healthy by then
    update_health_interval_s: float = Field(default=2.0, gt=0)
    update_required_devices: list[str] = []  # device kinds that must not be absent after an update
    update_maintenance_windows: list[MaintenanceWindow] = []  # ["02:00-05:00"], local time; none: any time
    update_retry_s: float = Field(default=60.0, gt=0)  # re-check a deferred or failed download this often
    update_download_attempts: int = Field(default=5, ge=1)  # apply() calls per request before `failed`
    update_progress_interval_s: float = Field(default=5.0, ge=0)  # download percent at most this often
    update_ca_file: Path | None = None  # CA for the artifact server's HTTPS; None: system store
    update_base_url: str | None = None  # resolves a relative UpdateDesired.url, e.g. "https://fleet.example/"
    update_python: str | None = None  # interpreter for release venvs; None: the agent's
    update_venv_with_pip: bool = True  # each release venv gets its own pip (the next agent needs it)
    # Tests only: read local wall-clock time (ISO 8601) from this file for the maintenance
    # window, so a test can move a real agent process into and out of the window.
    update_clock_file: Path | None = None

    @field_validator("kiosk_id")
    @classmethod
    def _kiosk_id(cls, value: str) -> str:
        return check_kiosk_id(value)

    @property
    def db_path(self) -> Path:
        return self.state_dir / "agent.db"
