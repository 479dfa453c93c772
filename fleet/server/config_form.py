"""The kiosk configuration as a form, generated from the JSON schema of the pydantic model
the fleet pushes (`fleet.protocol.KioskSettings`), so a new setting appears in the console
with its type, limits and choices without touching a template.

- `form_fields()` reads the schema: numbers and integers (minimum/maximum → input limits),
  strings (maxLength), enums / Literal (→ a select), arrays of strings (→ one line,
  comma-separated).
- `read_form()` turns posted text back into typed values and `check()` validates them with
  the model itself, so the messages are the model's, per field (plus the model-wide ones,
  e.g. the idle warning must come before the timeout).
- `diff()` is what a push would change against the current desired configuration;
  `history()` lists past pushes from the audit log (the dispatcher audits each push with
  its version and settings, bulk ones too), newest first, with who pushed and what changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.protocol import KioskSettings
from fleet.server.models import AuditEntry

PREFIX = "f."  # form field names: f.volume, ... (never clash with csrf and friends)


@dataclass
class FormField:
    name: str
    title: str
    kind: str  # number | integer | select | text | list
    description: str = ""
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    choices: list[str] = field(default_factory=list)

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    def display(self, value: Any) -> str:
        """The value as the form shows it."""
        if value is None:
            return ""
        if self.kind == "list":
            return ", ".join(str(v) for v in value)
        if self.kind == "number" and isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    @property
    def limits(self) -> str:
        """The limits in words, shown beside the input."""
        parts = []
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"{self.minimum:g}–{self.maximum:g}")
        elif self.minimum is not None:
            parts.append(f"≥ {self.minimum:g}")
        elif self.maximum is not None:
            parts.append(f"≤ {self.maximum:g}")
        if self.max_length is not None:
            parts.append(f"up to {self.max_length} characters")
        if self.kind == "list":
            parts.append("comma-separated")
        return ", ".join(parts)

    @property
    def hint(self) -> str:
        """Description, limits and default, as the line under the input."""
        parts = [self.description, self.limits]
        if self.default not in (None, "", []):
            parts.append(f"default {self.display(self.default)}")
        return " · ".join(p for p in parts if p)


def form_fields(model: type[BaseModel] = KioskSettings) -> list[FormField]:
    """One FormField per property of the model's JSON schema, in the model's order."""
    schema = model.model_json_schema()
    fields = []
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(schema, prop)
        kind = prop.get("type", "string")
        common = dict(name=name, title=prop.get("title", name), description=prop.get("description", ""),
                      default=prop.get("default"))
        if "enum" in prop:
            fields.append(FormField(kind="select", choices=[str(c) for c in prop["enum"]], **common))
        elif kind in ("number", "integer"):
            fields.append(FormField(kind=kind, minimum=prop.get("minimum", prop.get("exclusiveMinimum")),
                                    maximum=prop.get("maximum", prop.get("exclusiveMaximum")), **common))
        elif kind == "array":
            fields.append(FormField(kind="list", **common))
        else:
            fields.append(FormField(kind="text", max_length=prop.get("maxLength"), **common))
    return fields


def _resolve(schema: dict, prop: dict) -> dict:
    """Follow a $ref (an Enum class) or a one-type anyOf to the property's own schema."""
    if "$ref" in prop:
        target = schema.get("$defs", {}).get(prop["$ref"].rsplit("/", 1)[-1], {})
        return {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    if "allOf" in prop and len(prop["allOf"]) == 1:
        return _resolve(schema, {**prop["allOf"][0], **{k: v for k, v in prop.items() if k != "allOf"}})
    return prop


def read_form(form: dict[str, str], fields: list[FormField]) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted text as typed values; a field that is not even a number gets a message."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = (form.get(f.input_name) or "").strip()
        if f.kind == "list":
            values[f.name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif f.kind in ("number", "integer"):
            if raw == "":
                errors[f.name] = "enter a number"
                continue
            try:
                values[f.name] = int(raw) if f.kind == "integer" else float(raw)
            except ValueError:
                errors[f.name] = "enter a whole number" if f.kind == "integer" else "enter a number"
        else:
            values[f.name] = raw
    return values, errors


def check(values: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str], list[str]]:
    """Validate with the model: (settings as pushed, per-field messages, model-wide messages)."""
    try:
        return KioskSettings.model_validate(values).model_dump(mode="json"), {}, []
    except ValidationError as exc:
        per_field: dict[str, str] = {}
        overall: list[str] = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            message = err.get("msg", "invalid").removeprefix("Value error, ")
            if loc and loc[0] in KioskSettings.model_fields:
                per_field.setdefault(loc[0], message)
            elif loc:
                overall.append(f"{'.'.join(loc)}: {message}")
            else:
                overall.append(message)
        return None, per_field, overall


@dataclass
class Change:
    name: str
    old: Any
    new: Any


def diff(current: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """Fields whose value a push of `new` changes (against the defaults if none was pushed)."""
    base = current or KioskSettings().model_dump(mode="json")
    return [Change(name, base.get(name), value) for name, value in new.items() if base.get(name) != value]


@dataclass
class Push:
    at: dt.datetime
    operator: str
    version: int | None
    settings: dict[str, Any]
    changes: list[Change]
    source: str


def history(session: Session, kiosk_id: str, limit: int = 20) -> list[Push]:
    """The kiosk's configuration pushes, newest first, each with what it changed
    (index ix_audit_target: target, action, at)."""
    rows = list(session.scalars(select(AuditEntry).where(AuditEntry.target == kiosk_id, AuditEntry.action == "config",
                                                         AuditEntry.outcome == "ok")
                                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)))
    pushes = []
    for index, row in enumerate(rows[:limit]):
        settings = (row.detail or {}).get("settings") or {}
        before = (rows[index + 1].detail or {}).get("settings") if index + 1 < len(rows) else None
        pushes.append(Push(at=row.at, operator=row.operator, version=(row.detail or {}).get("version"),
                           settings=settings, changes=diff(before, settings), source=row.source))
    return pushes
