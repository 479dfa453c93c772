"""What the engine is told and what it answers: settings, step results, the session's outcome.

A step returns `Next`, `Done` or `Abort`; a session ends with a `FlowOutcome`. The control
signals (`_Cancelled`, `_IdleTimeout`, ...) are raised out of `ctx.ask` by the engine only.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SerializeAsAny

from flows.views import Error, Msg, Result


class EngineSettings(BaseModel):
    """Timing policy. The lower bounds are WCAG 2.2.1 (warn, ≥20 s to extend, ≥10 extensions)."""

    ask_timeout_s: float = Field(default=60.0, gt=0)  # idle time on a view before the warning
    elderly_factor: float = Field(default=2.0, ge=1.0)  # every ask timeout × this in elderly mode
    warning_s: float = Field(default=30.0, ge=20.0)  # how long the idle warning waits for "more time"
    extension_s: float = Field(default=60.0, ge=20.0)  # minimum time one extension grants
    max_extensions: int = Field(default=10, ge=10)  # per asked view
    call_timeout_s: float = Field(default=30.0, gt=0)  # default for device/service calls


class ResumePolicy(StrEnum):
    ASK = "ask"  # offer the citizen: resume or start over (the kiosk)
    ALWAYS = "always"  # resume without asking (headless runner after a crash)
    NEVER = "never"  # wipe any unfinished session


class AbortReason(StrEnum):
    CANCELLED = "cancelled"
    IDLE_TIMEOUT = "idle_timeout"
    STEP_TIMEOUT = "step_timeout"
    DEVICE_FAULT = "device_fault"
    SERVICE_FAILED = "service_failed"
    NOT_ELIGIBLE = "not_eligible"
    CONSENT_DECLINED = "consent_declined"
    STAFF_NEEDED = "staff_needed"
    JOURNAL_FAILED = "journal_failed"
    INTERNAL_ERROR = "internal_error"


class Next(BaseModel):
    """Go to `step` (a member of the flow's Step enum). `allow_back=False` makes it a barrier."""

    model_config = ConfigDict(frozen=True)

    step: str
    allow_back: bool = True


class Done(BaseModel):
    """The errand finished; `outcome` is what the runner reports (submission id, tracking number)."""

    model_config = ConfigDict(frozen=True)

    outcome: SerializeAsAny[BaseModel] | None = None
    message: Msg = Field(default_factory=lambda: Msg(key="result.done"))
    details: tuple[Msg, ...] = ()


class Abort(BaseModel):
    """The errand ends unfinished; `error` is the view shown (a default per reason otherwise)."""

    model_config = ConfigDict(frozen=True)

    reason: AbortReason
    code: str = ""  # finer cause: a device/service error code
    error: Error | None = None


StepResult = Next | Done | Abort


class OutcomeStatus(StrEnum):
    COMPLETED = "completed"
    ABORTED = "aborted"


class FlowOutcome(BaseModel):
    status: OutcomeStatus
    flow: str
    session_id: str
    reason: AbortReason | None = None
    code: str = ""
    outcome: dict[str, JsonValue] | None = None
    steps_run: int = 0
    resumed: bool = False
    final_view: Result | Error
    # The step the session ended on and its place in the flow (1 = first; 0 = before the
    # first step, e.g. on the resume offer): the fleet's funnel of where citizens give up.
    last_step: str = ""
    last_step_no: int = 0


# Control signals raised out of `ctx.ask`. BaseException, so a step's `except Exception`
# around a device call cannot swallow the citizen's Cancel.
class _Signal(BaseException):
    pass


class _Cancelled(_Signal):
    pass


class _IdleTimeout(_Signal):
    pass


class _GoBack(_Signal):
    pass


class _JournalFailed(_Signal):
    pass
