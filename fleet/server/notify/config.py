"""The notification configuration: channels, rules, quiet hours, escalation.

Loaded from a YAML or JSON file (`kiosk-fleet-server --notify-config FILE`). Secrets
(an SMTP password) are never in the file: `password_env` names an environment variable.

    channels:
      ops-hook: {type: webhook, url: "https://ops.example/hooks/kiosk"}
      duty-mail: {type: email, host: smtp.example, port: 587, starttls: true,
                  sender: fleet@example, to: [duty@example], username: fleet, password_env: FLEET_SMTP_PASSWORD}
      lead-mail: {type: email, host: smtp.example, sender: fleet@example, to: [lead@example]}
    rules:
      - {name: offline-10min, kinds: [offline], min_open_s: 600, channels: [ops-hook, duty-mail],
         escalate_after_s: 1800, escalate_to: [lead-mail],
         quiet_hours: {start: "22:00", end: "07:00", utc_offset_h: 8}}
      - {name: paper, kinds: [paper_low, paper_out], channels: [duty-mail]}
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet.server import alerts
from fleet.server.broker_watch import SECURITY_KINDS

# The alert kinds the server opens (fleet/server/alerts.py, broker_watch.py, ingest.py).
ALERT_KINDS = alerts.HEALTH_KINDS | alerts.EVENT_ALERTS | SECURITY_KINDS | {"offline", "update_failed"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookChannel(_Strict):
    type: Literal["webhook"]
    url: str
    timeout_s: float = Field(default=5.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


class EmailChannel(_Strict):
    type: Literal["email"]
    host: str
    port: int = 25
    sender: str
    to: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None  # name of the environment variable holding the password
    timeout_s: float = Field(default=10.0, gt=0)


Channel = Annotated[WebhookChannel | EmailChannel, Field(discriminator="type")]


class QuietHours(_Strict):
    """Deliveries that fall in [start, end) local time are held and sent when it ends
    (if the alert is still open); severities in `let_through` are sent anyway."""

    start: dt.time
    end: dt.time
    utc_offset_h: float = 8.0  # China Standard Time
    let_through: list[str] = Field(default_factory=list)

    def active(self, now: dt.datetime) -> bool:
        local = (now.astimezone(dt.timezone.utc) + dt.timedelta(hours=self.utc_offset_h)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # over midnight


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=64)
    kinds: list[str] = Field(min_length=1)
    severities: list[str] | None = None  # None: any
    min_open_s: float = Field(default=0.0, ge=0)  # e.g. offline for more than N minutes
    channels: list[str] = Field(min_length=1)
    escalate_after_s: float | None = Field(default=None, gt=0)  # open and unacknowledged this long
    escalate_to: list[str] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    notify_resolved: bool = False

    def matches(self, kind: str, severity: str) -> bool:
        return kind in self.kinds and (self.severities is None or severity in self.severities)


class NotifyConfig(_Strict):
    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    tick_s: float = Field(default=5.0, gt=0)
    # An alert that clears and reopens within this window is not notified again (flapping).
    dedupe_window_s: float = Field(default=900.0, ge=0)
    max_attempts: int = Field(default=5, ge=1)
    console_url: str | None = None  # for links in the messages

    @model_validator(mode="after")
    def _check(self) -> NotifyConfig:
        for rule in self.rules:
            unknown_kinds = set(rule.kinds) - ALERT_KINDS
            if unknown_kinds:
                raise ValueError(f"rule {rule.name!r}: unknown alert kinds {sorted(unknown_kinds)}")
            missing = [c for c in rule.channels + rule.escalate_to if c not in self.channels]
            if missing:
                raise ValueError(f"rule {rule.name!r}: no channel named {missing[0]!r}")
            if rule.escalate_to and rule.escalate_after_s is None:
                raise ValueError(f"rule {rule.name!r}: escalate_to without escalate_after_s")
        names = [r.name for r in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        return self


def load(path: Path | str) -> NotifyConfig:
    """Read a YAML (or JSON) file; ValueError (pydantic's) names what is wrong."""
    text = Path(path).read_text()
    if str(path).endswith(".json"):
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text) or {}
    return NotifyConfig.model_validate(data)
