"""`Flow`: the base class every flow subclasses (Home Assistant config-flow shape).

A flow is a `Step` enum, a pydantic `State` and one `async def step_<name>(self, ctx)` per
step; the class checks its own definition when it is declared, so a flow with a missing
step fails at import, not in front of a citizen.
"""

from __future__ import annotations

import inspect
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from flows.errors import FlowDefinitionError, UnknownStep
from flows.views import StepProgress


S = TypeVar("S", bound=BaseModel)
D = TypeVar("D")

RESUME_STEP = "resume"  # the pseudo-step name of the resume offer




class Flow(Generic[S, D]):
    """Base of every flow. Subclasses set `name`, `State`, `Step` and write `step_<value>` methods.

    `first` defaults to the first member of `Step`; "step i of n" follows `Step` order
    (override `progress`). `version` must change when the State or the steps change shape,
    so an old journaled session is wiped instead of resumed.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    State: ClassVar[type[BaseModel]]
    Step: ClassVar[type[StrEnum]]
    first: ClassVar[StrEnum | None] = None
    ask_timeouts: ClassVar[dict[str, float]] = {}  # step value -> idle seconds, overriding the default

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not (hasattr(cls, "Step") and hasattr(cls, "State")):
            return  # an intermediate base class
        if not cls.name:
            raise FlowDefinitionError(f"{cls.__name__}: set `name`")
        if not (isinstance(cls.Step, type) and issubclass(cls.Step, StrEnum)) or not list(cls.Step):
            raise FlowDefinitionError(f"{cls.__name__}: `Step` must be a non-empty StrEnum")
        if not (isinstance(cls.State, type) and issubclass(cls.State, BaseModel)):
            raise FlowDefinitionError(f"{cls.__name__}: `State` must be a pydantic model")
        if RESUME_STEP in {s.value for s in cls.Step}:
            raise FlowDefinitionError(f"{cls.__name__}: step name {RESUME_STEP!r} is reserved")
        for s in cls.Step:
            fn = getattr(cls, f"step_{s.value}", None)
            if fn is None or not inspect.iscoroutinefunction(fn):
                raise FlowDefinitionError(f"{cls.__name__}: missing `async def step_{s.value}(self, ctx)`")
        unknown = set(cls.ask_timeouts) - {s.value for s in cls.Step}
        if unknown:
            raise FlowDefinitionError(f"{cls.__name__}: ask_timeouts for unknown steps {sorted(unknown)}")
        if cls.first is None:
            cls.first = next(iter(cls.Step))
        elif cls.first not in set(cls.Step):
            raise FlowDefinitionError(f"{cls.__name__}: `first` is not a member of Step")

    def initial_state(self) -> S:
        return self.State()  # type: ignore[return-value]

    def progress(self, step: StrEnum) -> StepProgress | None:
        members = list(self.Step)
        return StepProgress(index=members.index(step) + 1, total=len(members))

    def step_for(self, name: str) -> StrEnum:
        try:
            return self.Step(name)
        except ValueError:
            raise UnknownStep(f"{self.name}: no step {name!r}") from None

    def help_key(self, step: str) -> str:
        return f"help.{self.name}.{step}"
