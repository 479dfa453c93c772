"""What a flow shows the citizen, and what comes back.

A view is a pydantic model that any front end can render: the Kivy UI, the headless
runner (one JSON line per view) or a test. Every citizen-facing text is an i18n key with
parameters (`Msg`), never a sentence and never raw exception text, so one flow serves
every language and personal data stays out of strings the UI might log.

The engine stamps each published view with `view_id`, `step`, `progress` ("step 3 of 9"),
`awaits_answer`, `timeout_s` and `can_back`; flows leave those at their defaults.
Answers are checked by the view itself (`parse_answer`), so a step receives a value that
already fits: an option key, a dict of validated form values, a `ConsentAnswer`.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, field_validator

from flows.errors import AnswerInvalid

Param = str | int | float | bool


class Msg(BaseModel):
    """An i18n key and its parameters, e.g. Msg(key="renewal.place_id_card")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    params: dict[str, Param] = Field(default_factory=dict)


def msg(key: str, **params: Param) -> Msg:
    """Shorthand: msg("vision.cover_eye", eye="left")."""
    return Msg(key=key, params=params)


class ViewKind(StrEnum):
    PROMPT = "prompt"
    CHOICE = "choice"
    FORM = "form"
    CONSENT = "consent"
    MEASURING = "measuring"
    RESULT = "result"
    ERROR = "error"
    BUSY = "busy"
    HELP = "help"
    IDLE_WARNING = "idle_warning"


class StepProgress(BaseModel):
    """"Step `index` of `total`" (1-based)."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=1)
    total: int = Field(ge=1)


class ViewBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ViewKind
    title: Msg | None = None
    help_key: str | None = None  # i18n key of this view's help; default help.<flow>.<step>
    errors: dict[str, str] = Field(default_factory=dict)  # field name ("" = whole view) -> i18n key
    can_back: bool | None = None  # None: the engine decides (a previous step exists); False: never
    # Stamped by the engine:
    view_id: int = 0
    flow: str = ""
    step: str = ""
    progress: StepProgress | None = None
    awaits_answer: bool = False
    timeout_s: float | None = None
    final: bool = False

    def parse_answer(self, value: JsonValue) -> Any:
        """Check an answer against this view; raise AnswerInvalid with i18n error keys."""
        return value


class Prompt(ViewBase):
    """Tell the citizen to do something ("place your ID card"); asked, it has a Continue button."""

    kind: Literal[ViewKind.PROMPT] = ViewKind.PROMPT
    message: Msg
    illustration: str | None = None  # asset key of a picture/animation

    def parse_answer(self, value: JsonValue) -> None:
        return None


class ChoiceOption(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    label: Msg
    icon: str | None = None


class Choice(ViewBase):
    kind: Literal[ViewKind.CHOICE] = ViewKind.CHOICE
    message: Msg
    options: tuple[ChoiceOption, ...] = Field(min_length=1)
    image: str | None = None  # asset key, e.g. a colour-vision plate

    @field_validator("options")
    @classmethod
    def _unique_keys(cls, v: tuple[ChoiceOption, ...]) -> tuple[ChoiceOption, ...]:
        keys = [o.key for o in v]
        if len(set(keys)) != len(keys):
            raise ValueError("option keys must be unique")
        return v

    def parse_answer(self, value: JsonValue) -> str:
        if not isinstance(value, str) or value not in {o.key for o in self.options}:
            raise AnswerInvalid({"": "error.choice.unknown_option"})
        return value


class FieldKind(StrEnum):
    TEXT = "text"
    DIGITS = "digits"
    PHONE = "phone"  # mainland mobile number, 11 digits starting 1[3-9]
    NUMBER = "number"
    DATE = "date"  # ISO YYYY-MM-DD


_PHONE = re.compile(r"1[3-9]\d{9}")


class FormField(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    label: Msg
    kind: FieldKind = FieldKind.TEXT
    required: bool = True
    min_length: int | None = None
    max_length: int | None = 200
    pattern: str | None = None  # full-match regular expression for TEXT/DIGITS
    minimum: float | None = None
    maximum: float | None = None
    personal: bool = False  # a hint to front ends: mask in screenshots, no autofill history
    secret: bool = False  # a PIN: front ends show dots, never the digits (a citizen stands beside staff)

    def check(self, raw: JsonValue) -> tuple[Any, str | None]:
        """(value, None) or (None, i18n error key)."""
        if raw is None or raw == "":
            return (None, "error.form.required") if self.required else (None, None)
        if self.kind is FieldKind.NUMBER:
            if isinstance(raw, bool):
                return None, "error.form.not_a_number"
            try:
                num = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return None, "error.form.not_a_number"
            if self.minimum is not None and num < self.minimum:
                return None, "error.form.too_small"
            if self.maximum is not None and num > self.maximum:
                return None, "error.form.too_large"
            return num, None
        if not isinstance(raw, str):
            return None, "error.form.not_text"
        text = raw.strip()
        if self.kind is FieldKind.DATE:
            try:
                return date.fromisoformat(text), None
            except ValueError:
                return None, "error.form.bad_date"
        if self.min_length is not None and len(text) < self.min_length:
            return None, "error.form.too_short"
        if self.max_length is not None and len(text) > self.max_length:
            return None, "error.form.too_long"
        if self.kind is FieldKind.DIGITS and not text.isdigit():
            return None, "error.form.digits_only"
        if self.kind is FieldKind.PHONE and not _PHONE.fullmatch(text):
            return None, "error.form.bad_phone"
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            return None, "error.form.pattern"
        return text, None


class Form(ViewBase):
    kind: Literal[ViewKind.FORM] = ViewKind.FORM
    message: Msg
    fields: tuple[FormField, ...] = Field(min_length=1)
    values: dict[str, JsonValue] = Field(default_factory=dict)  # prefill (e.g. after an error)

    def parse_answer(self, value: JsonValue) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise AnswerInvalid({"": "error.form.not_a_form"})
        known = {f.name for f in self.fields}
        errors = {k: "error.form.unknown_field" for k in value if k not in known}
        out: dict[str, Any] = {}
        for f in self.fields:
            v, err = f.check(value.get(f.name))
            if err:
                errors[f.name] = err
            else:
                out[f.name] = v
        if errors:
            raise AnswerInvalid(errors)
        return out


class ConsentItem(BaseModel):
    """One purpose the citizen agrees to on its own (PIPL Art. 29 单独同意)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    text: Msg
    required: bool = True  # the errand cannot go on without it (the step decides what follows)


class ConsentAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    accepted: frozenset[str]
    declined: frozenset[str]

    def ok(self, key: str) -> bool:
        return key in self.accepted


class Consent(ViewBase):
    """Separate consent items; each must be answered explicitly (no pre-ticked boxes)."""

    kind: Literal[ViewKind.CONSENT] = ViewKind.CONSENT
    message: Msg
    items: tuple[ConsentItem, ...] = Field(min_length=1)

    def parse_answer(self, value: JsonValue) -> ConsentAnswer:
        if not isinstance(value, dict):
            raise AnswerInvalid({"": "error.consent.not_answered"})
        errors = {i.key: "error.consent.unanswered" for i in self.items if not isinstance(value.get(i.key), bool)}
        errors |= {k: "error.consent.unknown_item" for k in value if k not in {i.key for i in self.items}}
        if errors:
            raise AnswerInvalid(errors)
        return ConsentAnswer(
            accepted=frozenset(i.key for i in self.items if value[i.key] is True),
            declined=frozenset(i.key for i in self.items if value[i.key] is False),
        )

    def required_accepted(self, answer: ConsentAnswer) -> bool:
        return all(answer.ok(i.key) for i in self.items if i.required)


class Measuring(ViewBase):
    """A device is working; shown (not asked) and re-shown as progress changes."""

    kind: Literal[ViewKind.MEASURING] = ViewKind.MEASURING
    instruction: Msg
    progress_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    device: str | None = None
    detail: Msg | None = None  # a line under the instruction (which liveness action, of how many)
    pictogram: str | None = None  # a picture more specific than the device's (the action asked)


class Busy(ViewBase):
    """Waiting for the back office or a slow operation; no citizen action needed."""

    kind: Literal[ViewKind.BUSY] = ViewKind.BUSY
    message: Msg = Field(default_factory=lambda: Msg(key="busy.please_wait"))


class Result(ViewBase):
    kind: Literal[ViewKind.RESULT] = ViewKind.RESULT
    message: Msg
    details: tuple[Msg, ...] = ()

    def parse_answer(self, value: JsonValue) -> None:
        return None


class Error(ViewBase):
    """What happened and what to do next; `code` is stable (device/service error code)."""

    kind: Literal[ViewKind.ERROR] = ViewKind.ERROR
    code: str = "error"
    what: Msg
    next: Msg
    options: tuple[ChoiceOption, ...] = ()  # e.g. retry / call staff, when asked

    def parse_answer(self, value: JsonValue) -> str | None:
        if not self.options:
            return None
        if not isinstance(value, str) or value not in {o.key for o in self.options}:
            raise AnswerInvalid({"": "error.choice.unknown_option"})
        return value


class Help(ViewBase):
    """Help for the step the citizen was on; any answer returns to it."""

    kind: Literal[ViewKind.HELP] = ViewKind.HELP
    topic: Msg

    def parse_answer(self, value: JsonValue) -> None:
        return None


class IdleWarning(ViewBase):
    """WCAG 2.2.1: warn before the time limit ends and let the citizen extend it."""

    kind: Literal[ViewKind.IDLE_WARNING] = ViewKind.IDLE_WARNING
    message: Msg = Field(default_factory=lambda: Msg(key="idle.are_you_there"))
    seconds: float
    extensions_left: int
    can_extend: bool = True


View = Annotated[
    Prompt | Choice | Form | Consent | Measuring | Busy | Result | Error | Help | IdleWarning,
    Field(discriminator="kind"),
]
view_adapter: TypeAdapter[View] = TypeAdapter(View)


def view_from_json(data: str | bytes) -> ViewBase:
    """Parse a view printed by a runner (one JSON line) back into its model."""
    return view_adapter.validate_json(data)


class ActionKind(StrEnum):
    ANSWER = "answer"
    CANCEL = "cancel"
    HELP = "help"
    MORE_TIME = "more_time"
    BACK = "back"


class Action(BaseModel):
    """The citizen's action on the current view. `view_id`, when given, drops stale answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActionKind
    value: JsonValue = None
    view_id: int | None = None

    @classmethod
    def answer(cls, value: JsonValue = None, view_id: int | None = None) -> "Action":
        return cls(kind=ActionKind.ANSWER, value=value, view_id=view_id)

    @classmethod
    def cancel(cls) -> "Action":
        return cls(kind=ActionKind.CANCEL)

    @classmethod
    def help(cls) -> "Action":
        return cls(kind=ActionKind.HELP)

    @classmethod
    def more_time(cls) -> "Action":
        return cls(kind=ActionKind.MORE_TIME)

    @classmethod
    def back(cls) -> "Action":
        return cls(kind=ActionKind.BACK)
