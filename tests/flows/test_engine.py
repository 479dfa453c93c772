"""Flow engine: step sequencing, Help/Cancel/Back, timeouts, idle warning and extensions."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum

import pytest
from pydantic import BaseModel, ValidationError

from flows.clock import ManualClock
from flows.demo import DemoDeps, DemoFlow
from flows.driver import IDLE, ScriptExhausted, drive
from flows.engine import (
    AbortReason,
    Done,
    EngineSettings,
    Flow,
    FlowContext,
    FlowRunner,
    Next,
    OutcomeStatus,
)
from flows.errors import FlowDefinitionError, FlowFinished
from flows.views import Action, ActionKind, Choice, ChoiceOption, Measuring, Prompt, ViewKind, msg, view_from_json
from peripherals.errors import DeviceTimeout

ID_NUMBER = "11010519491231002X"
NAME = "张三"
PHONE = "13800138000"

CONSENT_YES = Action.answer({"identity": True, "contact": True})
PHONE_OK = Action.answer({"phone": PHONE})
SUBMIT = Action.answer("submit")


class Reader:
    def __init__(self, *, hang: bool = False, error: Exception | None = None):
        self.hang, self.error, self.calls, self.cancelled = hang, error, 0, False

    async def read(self) -> tuple[str, str]:
        self.calls += 1
        if self.error:
            raise self.error
        if self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        return ID_NUMBER, NAME


class BackOffice:
    """Deduplicates by idempotency key, like the reference back office."""

    def __init__(self) -> None:
        self.by_key: dict[str, str] = {}
        self.calls: list[tuple[str, str, str]] = []

    async def submit(self, *, id_number: str, phone: str, idempotency_key: str) -> str:
        self.calls.append((id_number, phone, idempotency_key))
        return self.by_key.setdefault(idempotency_key, f"SUB-{len(self.by_key) + 1}")


class Empty(BaseModel):
    pass


def deps(reader: Reader | None = None, bo: BackOffice | None = None) -> DemoDeps:
    return DemoDeps(reader=reader or Reader(), backoffice=bo or BackOffice())


def test_happy_path_runs_every_step_in_order_with_progress():
    bo = BackOffice()
    r = drive(DemoFlow(), [CONSENT_YES, PHONE_OK, SUBMIT], deps=deps(bo=bo))
    assert r.outcome.status is OutcomeStatus.COMPLETED
    assert r.outcome.outcome == {"submission_id": "SUB-1"}
    assert r.steps() == ["read_id", "consent", "contact", "confirm", "submit"]
    progress = [(v.step, v.progress.index, v.progress.total) for v in r.views if not v.final]
    assert progress == [("read_id", 1, 5), ("consent", 2, 5), ("contact", 3, 5), ("confirm", 4, 5), ("submit", 5, 5)]
    assert [v.kind for v in r.views] == [ViewKind.PROMPT, ViewKind.CONSENT, ViewKind.FORM, ViewKind.CHOICE,
                                         ViewKind.BUSY, ViewKind.RESULT]
    assert r.views[-1].final and r.views[-1].message.key == "demo.done"
    assert len(bo.calls) == 1 and bo.calls[0][:2] == (ID_NUMBER, PHONE)
    assert len({v.view_id for v in r.views}) == len(r.views)


def test_views_round_trip_as_json_lines():
    r = drive(DemoFlow(), [CONSENT_YES, PHONE_OK, SUBMIT], deps=deps())
    for v in r.views:
        line = v.model_dump_json()
        assert view_from_json(line) == v
        json.loads(line)


def test_help_shows_help_and_returns_to_the_same_step():
    r = drive(DemoFlow(), [Action.help(), Action.answer(), CONSENT_YES, PHONE_OK, SUBMIT], deps=deps())
    kinds = [(v.kind, v.step) for v in r.views]
    i = kinds.index((ViewKind.HELP, "consent"))
    assert kinds[i - 1] == (ViewKind.CONSENT, "consent") and kinds[i + 1] == (ViewKind.CONSENT, "consent")
    assert r.views[i].topic.key == "help.demo.consent"
    assert r.outcome.status is OutcomeStatus.COMPLETED


def test_cancel_aborts_with_a_result_view():
    bo = BackOffice()
    r = drive(DemoFlow(), [CONSENT_YES, Action.cancel()], deps=deps(bo=bo))
    assert r.outcome.status is OutcomeStatus.ABORTED and r.outcome.reason is AbortReason.CANCELLED
    assert r.views[-1].kind is ViewKind.RESULT and r.views[-1].message.key == "result.cancelled"
    assert bo.calls == []


async def test_cancel_during_a_device_call_stops_the_call():
    reader = Reader(hang=True)
    runner = FlowRunner(DemoFlow(), None, deps(reader=reader), clock=ManualClock())
    view = await runner.next_view()
    assert view.kind is ViewKind.PROMPT and not view.awaits_answer
    await runner.act(Action.cancel())
    final = await runner.next_view()
    assert final.final and runner.outcome.reason is AbortReason.CANCELLED
    assert reader.cancelled
    with pytest.raises(FlowFinished):
        await runner.next_view()


async def test_help_during_a_device_call_then_back_to_the_working_view():
    reader = Reader(hang=True)
    clock = ManualClock()
    runner = FlowRunner(DemoFlow(), None, deps(reader=reader), clock=clock)
    working = await runner.next_view()
    await runner.act(Action.help())
    help_view = await runner.next_view()
    assert help_view.kind is ViewKind.HELP and help_view.awaits_answer
    await runner.act(Action.answer(view_id=help_view.view_id))
    again = await runner.next_view()
    assert again.kind is ViewKind.PROMPT and again.message == working.message
    clock.advance(60)  # the reader never answers: the call times out
    final = await runner.next_view()
    assert runner.outcome.reason is AbortReason.STEP_TIMEOUT and final.kind is ViewKind.ERROR


def test_back_returns_to_the_previous_step_and_a_barrier_stops_it():
    bo = BackOffice()
    r = drive(DemoFlow(), [CONSENT_YES, PHONE_OK, Action.back(), Action.answer({"phone": "13900139000"}), SUBMIT],
              deps=deps(bo=bo))
    assert r.steps() == ["read_id", "consent", "contact", "confirm", "contact", "confirm", "submit"]
    assert bo.calls[0][1] == "13900139000"
    by_step = {v.step: v for v in r.views if v.awaits_answer}
    assert by_step["confirm"].can_back is True
    first = next(v for v in r.views if v.step == "read_id")
    assert first.can_back is False  # nothing before the first step
    busy = next(v for v in r.views if v.step == "submit")
    assert busy.can_back is False  # Next(allow_back=False) is a barrier


def test_back_is_ignored_where_there_is_nothing_to_go_back_to():
    class One(Flow[Empty, None]):
        name = "one"
        State = Empty

        class Step(StrEnum):
            ONLY = "only"

        async def step_only(self, ctx):
            await ctx.ask(Prompt(message=msg("x")))
            return Done()

    r = drive(One(), [Action.back(), Action.answer()])
    assert r.outcome.status is OutcomeStatus.COMPLETED
    assert [v.step for v in r.asked()] == ["only", "only"]  # Back is acknowledged by re-showing the step


def test_idle_warning_then_timeout_aborts_idle():
    r = drive(DemoFlow(), [IDLE, IDLE], deps=deps())
    kinds = [v.kind for v in r.views]
    assert kinds[-3:] == [ViewKind.CONSENT, ViewKind.IDLE_WARNING, ViewKind.ERROR]
    warning = r.views[-2]
    assert warning.can_extend and warning.extensions_left == 10 and warning.timeout_s >= 20
    assert r.outcome.reason is AbortReason.IDLE_TIMEOUT
    assert r.views[-1].code == "idle_timeout"


def test_ask_timeout_is_per_step_and_longer_in_elderly_mode():
    normal = drive(DemoFlow(), [IDLE, IDLE], deps=deps(), settings=EngineSettings(ask_timeout_s=45))
    elderly = drive(DemoFlow(), [IDLE, IDLE], deps=deps(), settings=EngineSettings(ask_timeout_s=45), elderly=True)
    assert normal.asked()[0].timeout_s == 45
    assert elderly.asked()[0].timeout_s == 90


def test_at_least_ten_extensions_then_idle_abort():
    settings = EngineSettings(ask_timeout_s=30, warning_s=20, extension_s=20)
    script = [IDLE, Action.more_time()] * 10 + [IDLE, Action.more_time(), IDLE]
    r = drive(DemoFlow(), script, deps=deps(), settings=settings)
    warnings = [v for v in r.views if v.kind is ViewKind.IDLE_WARNING]
    # the 11th warning offers no extension; "more time" there is refused (the warning is re-shown)
    assert [w.extensions_left for w in warnings] == [*range(10, -1, -1), 0]
    assert all(w.can_extend for w in warnings[:10]) and not any(w.can_extend for w in warnings[10:])
    assert warnings[11].timeout_s <= warnings[10].timeout_s  # the deadline is not moved
    consent_views = [v for v in r.views if v.kind is ViewKind.CONSENT]
    assert len(consent_views) == 11 and all(v.timeout_s >= 20 for v in consent_views)
    assert r.outcome.reason is AbortReason.IDLE_TIMEOUT


def test_extension_then_answer_continues():
    r = drive(DemoFlow(), [IDLE, Action.more_time(), CONSENT_YES, IDLE, Action.answer(), PHONE_OK, SUBMIT],
              deps=deps())
    assert r.outcome.status is OutcomeStatus.COMPLETED


def test_wcag_bounds_are_enforced_in_settings():
    with pytest.raises(ValidationError):
        EngineSettings(max_extensions=9)
    with pytest.raises(ValidationError):
        EngineSettings(warning_s=10)
    with pytest.raises(ValidationError):
        EngineSettings(extension_s=19)


async def test_device_call_timeout_aborts_with_an_error_view():
    clock = ManualClock()
    runner = FlowRunner(DemoFlow(), None, deps(reader=Reader(hang=True)), clock=clock)
    await runner.next_view()
    clock.advance(59)
    await asyncio.sleep(0)
    assert runner.outcome is None
    clock.advance(1)
    final = await runner.next_view()
    assert final.kind is ViewKind.ERROR and final.code == "operation_timeout"
    assert runner.outcome.reason is AbortReason.STEP_TIMEOUT


def test_device_error_becomes_an_error_view_without_exception_text():
    r = drive(DemoFlow(), [], deps=deps(reader=Reader(error=DeviceTimeout("secret 11010519491231002X detail"))))
    assert r.outcome.reason is AbortReason.DEVICE_FAULT and r.outcome.code == "timeout"
    final = r.views[-1]
    assert final.kind is ViewKind.ERROR and final.what.key == "error.device_fault.what"
    assert ID_NUMBER not in final.model_dump_json() and "secret" not in final.model_dump_json()


def test_invalid_form_answer_is_shown_again_with_error_keys():
    r = drive(DemoFlow(), [CONSENT_YES, Action.answer({"phone": "12345"}), PHONE_OK, SUBMIT], deps=deps())
    forms = [v for v in r.views if v.kind is ViewKind.FORM]
    assert len(forms) == 2 and forms[1].errors == {"phone": "error.form.bad_phone"}
    assert r.outcome.status is OutcomeStatus.COMPLETED


def test_consent_needs_every_item_answered_and_declining_aborts():
    r = drive(DemoFlow(), [Action.answer({"identity": True}), Action.answer({"identity": True, "contact": False})],
              deps=deps())
    consents = [v for v in r.views if v.kind is ViewKind.CONSENT]
    assert consents[1].errors == {"contact": "error.consent.unanswered"}
    assert r.outcome.reason is AbortReason.CONSENT_DECLINED


async def test_stale_answers_for_an_old_view_are_dropped():
    runner = FlowRunner(DemoFlow(), None, deps(), clock=ManualClock())
    await runner.next_view()  # prompt (reader answers at once)
    consent = await runner.next_view()
    await runner.act(Action.answer("submit", view_id=consent.view_id - 1))  # meant for an older view
    await runner.act(CONSENT_YES.model_copy(update={"view_id": consent.view_id}))
    form = await runner.next_view()
    assert form.kind is ViewKind.FORM
    await runner.aclose()


def test_a_step_catching_exception_cannot_swallow_cancel():
    class Greedy(Flow[Empty, None]):
        name = "greedy"
        State = Empty

        class Step(StrEnum):
            ASK = "ask"

        async def step_ask(self, ctx: FlowContext) -> Done:
            try:
                await ctx.ask(Prompt(message=msg("x")))
            except Exception:  # noqa: BLE001 - the point of the test
                pass
            return Done()

    r = drive(Greedy(), [Action.cancel()])
    assert r.outcome.reason is AbortReason.CANCELLED


def test_unknown_next_step_aborts_internally():
    class Wrong(Flow[Empty, None]):
        name = "wrong"
        State = Empty

        class Step(StrEnum):
            A = "a"

        async def step_a(self, ctx):
            return Next(step="nowhere")

    r = drive(Wrong(), [])
    assert r.outcome.reason is AbortReason.INTERNAL_ERROR


def test_flow_definitions_are_checked_when_the_class_is_made():
    with pytest.raises(FlowDefinitionError):
        class Missing(Flow[Empty, None]):  # noqa: F841
            name = "missing"
            State = Empty

            class Step(StrEnum):
                A = "a"
                B = "b"

            async def step_a(self, ctx):
                return Next(step=self.Step.B)


def test_script_exhausted_is_reported():
    with pytest.raises(ScriptExhausted):
        drive(DemoFlow(), [CONSENT_YES], deps=deps())


def test_choice_rejects_unknown_options():
    view = Choice(message=msg("q"), options=(ChoiceOption(key="a", label=msg("a")),))
    assert view.parse_answer("a") == "a"
    r = drive(DemoFlow(), [CONSENT_YES, PHONE_OK, Action.answer("maybe"), SUBMIT], deps=deps())
    choices = [v for v in r.views if v.kind is ViewKind.CHOICE]
    assert choices[1].errors == {"": "error.choice.unknown_option"}
    assert Action.more_time().kind is ActionKind.MORE_TIME


def test_logs_carry_no_personal_data(caplog: pytest.LogCaptureFixture, tmp_path):
    from flows.journal import Journal

    caplog.set_level("DEBUG")
    drive(DemoFlow(), [CONSENT_YES, PHONE_OK, Action.back(), PHONE_OK, SUBMIT], deps=deps(), journal=Journal(tmp_path))
    drive(DemoFlow(), [], deps=deps(reader=Reader(error=DeviceTimeout(f"card {ID_NUMBER} {NAME}"))))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "flow demo" in text  # something was logged
    for secret in (ID_NUMBER, NAME, PHONE):
        assert secret not in text


def test_no_kivy_import_anywhere_in_flows():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "flows"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "kivy" for n in names), path


class MeasureState(BaseModel):
    reading: float | None = None


class Measure(Flow[MeasureState, None]):
    """A device reports progress from its worker thread while the step awaits it."""

    name = "measure"
    State = MeasureState
    ask_timeouts = {"confirm": 90.0}

    class Step(StrEnum):
        MEASURE = "measure"
        CONFIRM = "confirm"

    async def step_measure(self, ctx: FlowContext[MeasureState, None]) -> Next:
        def blocking_device() -> float:
            for i in (1, 2, 3):
                ctx.show_threadsafe(Measuring(instruction=msg("bp.keep_still"), progress_fraction=i / 4))
            return 120.0

        ctx.state.reading = await ctx.run_blocking(blocking_device, view=Measuring(instruction=msg("bp.keep_still")))
        return Next(step=self.Step.CONFIRM)

    async def step_confirm(self, ctx: FlowContext[MeasureState, None]) -> Done:
        await ctx.ask(Prompt(message=msg("bp.result", systolic=ctx.state.reading)))
        return Done()


def test_progress_from_a_device_thread_and_per_step_ask_timeout():
    r = drive(Measure(), [Action.answer()], settings=EngineSettings(ask_timeout_s=40), elderly=True)
    measuring = [v for v in r.views if v.kind is ViewKind.MEASURING]
    assert [v.progress_fraction for v in measuring] == [0.0, 0.25, 0.5, 0.75]
    assert not any(v.awaits_answer for v in measuring)
    asked = r.asked()[0]
    assert asked.timeout_s == 180.0  # the step's own 90 s, doubled in elderly mode
    assert asked.message.params == {"systolic": 120.0}
    with pytest.raises(FlowDefinitionError):
        class Bad(Measure):  # noqa: F841
            name = "bad"
            ask_timeouts = {"nope": 1.0}
