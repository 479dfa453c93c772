"""The face check: quality gate → liveness challenges in a random order → 1:1 comparison with
the card holder, with the non-biometric alternative (a staff check) offered at every turn.

One attempt (`_attempt`):
1. frames until one passes the quality gate (one face, size, centred, pose, eyes open,
   sharpness, exposure, nothing covering it) — each failure is shown and spoken;
2. liveness: `draw_challenges` picks the order for THIS attempt; each challenge is
   shown (and passed to the camera driver's `show_prompt`, for a guide light — and for
   the simulator's citizen), then judged from landmarks over the frames within its time
   limit (peripherals.face.liveness);
3. a fresh neutral frame that passes the gate again is compared with the card holder
   (`FaceVerifier`: the back office's identity service, or a local portrait source).
After `face_attempts` failed attempts only the staff check is offered. Staff confirm the
citizen with their PIN (`FlowDeps.staff_pin`) and the check is recorded as method
"staff"; a kiosk without the PIN store sends the citizen to the counter.

No frame, landmark or template leaves this module: the result carries the decision, the
score, the method and the liveness reason only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from pydantic import BaseModel

from flows.common_steps import RETRY, STAFF, Ctx, error_view, staff_needed
from flows.offline_steps import is_offline
from flows.services.models import RealNameCheck
from flows.views import Choice, ChoiceOption, FieldKind, Form, FormField, Measuring, msg


class FaceResult(BaseModel):
    """The outcome of one face check. No image, no template."""

    passed: bool
    score: float | None = None
    frames: int = 0
    method: Literal["face", "staff"] = "face"
    failure: str | None = None  # face_check_failed | face_not_live | face_mismatch
    liveness: str | None = None  # the liveness reason (passed, rigid_motion, wrong_action, ...)


async def _gated_frame(ctx: Ctx) -> tuple[Any, Any, int]:
    """A frame that passes the quality gate (or None after `face_frames` tries), its check, frames read."""
    s, devices = ctx.deps.settings, ctx.deps.devices
    for i in range(s.face_frames):
        frame = await devices.frame()
        check = await devices.check_face(frame)
        reason = check.reasons[0].value if check.reasons else "ok"
        await ctx.show(Measuring(instruction=msg(f"face.issue.{reason}"), progress_fraction=(i + 1) / s.face_frames,
                                 device="camera"))
        if check.passed:
            return frame, check, i + 1
        if s.face_frame_interval_s:
            await asyncio.sleep(s.face_frame_interval_s)
    return None, None, s.face_frames


async def _liveness(ctx: Ctx) -> Any:
    from peripherals.face.liveness import LivenessJudge, PromptTiming, draw_challenges
    from peripherals.face.track import FaceTracker

    s, devices = ctx.deps.settings, ctx.deps.devices
    judge = LivenessJudge(challenges=draw_challenges(s.face_challenges), time_limit_s=s.face_challenge_time_s,
                          timing=PromptTiming() if s.face_reaction_timing else None)
    tracker = await asyncio.to_thread(FaceTracker)  # loads the models on first use (≈1 s, once per process)
    shown: Any = False  # what the screen shows: a challenge, or None while the citizen holds still
    started = time.monotonic()
    try:
        while judge.result is None:
            if judge.ready and judge.prompt is not shown:
                shown = judge.prompt
                step = judge.challenges.index(judge.current) if judge.current else 0
                if shown is None:  # a random hold before the next prompt (PromptTiming)
                    await devices.prompt_camera(None)
                    await ctx.show(Measuring(instruction=msg("face.hold_still"), device="camera",
                                             progress_fraction=step / len(judge.challenges)))
                else:
                    await ctx.show(Measuring(instruction=msg(f"face.challenge.{shown.value}"),
                                             detail=msg("face.challenge.step", index=step + 1,
                                                        total=len(judge.challenges)),
                                             pictogram=f"face.{shown.value}", device="face",
                                             progress_fraction=(step + 0.5) / len(judge.challenges)))
                    await devices.prompt_camera(shown.value)
            frame = await devices.frame()
            landmarks, faces, _box = await asyncio.to_thread(tracker.update, frame)
            del frame
            judge.add(time.monotonic() - started, landmarks, faces)
    finally:
        await devices.prompt_camera(None)
    return judge.result


async def _attempt(ctx: Ctx, verify_card: Any, liveness: bool) -> FaceResult:
    s = ctx.deps.settings
    frame, _check, frames = await _gated_frame(ctx)
    if frame is None:
        return FaceResult(passed=False, frames=frames, failure="face_check_failed")
    live_reason = None
    if liveness:
        del frame
        result = await _liveness(ctx)
        live_reason = result.reason.value
        if not result.live:
            return FaceResult(passed=False, frames=frames + result.frames, failure="face_not_live", liveness=live_reason)
        frame, _check, more = await _gated_frame(ctx)
        frames += result.frames + more
        if frame is None:
            return FaceResult(passed=False, frames=frames, failure="face_check_failed", liveness=live_reason)
    score = None
    if verify_card is not None:
        assert ctx.deps.face_verifier is not None
        score = round(float(await ctx.deps.face_verifier.verify(verify_card, frame)), 4)
        if score < s.face_match_threshold:
            return FaceResult(passed=False, score=score, frames=frames, failure="face_mismatch", liveness=live_reason)
    return FaceResult(passed=True, score=score, frames=frames, liveness=live_reason)


def _verifier_usable(ctx: Ctx) -> bool:
    """A verifier that can answer now: the back office's identity service cannot while it is unreachable."""
    verifier = ctx.deps.face_verifier
    return verifier is not None and not (getattr(verifier, "needs_network", False) and is_offline(ctx))


STAFF_PIN = FormField(name="staff_pin", label=msg("face.staff_pin.label"), kind=FieldKind.DIGITS, min_length=6,
                      max_length=12, personal=True, secret=True)


async def staff_identity_check(ctx: Ctx, topic: str) -> FaceResult:
    """Staff check the citizen against the card in person and confirm with their PIN."""
    check = ctx.deps.staff_pin
    if check is None:
        raise staff_needed(topic)
    for _ in range(3):
        answer = await ctx.ask(Form(message=msg("face.staff_pin.intro"), fields=(STAFF_PIN,)))
        if await check(str(answer.get("staff_pin", ""))):
            return FaceResult(passed=True, method="staff")
        retry = await ctx.ask(error_view("staff_pin_wrong", msg("face.staff_pin.wrong"), msg("face.staff_pin.again"),
                                         options=(RETRY, STAFF)))
        if retry == "staff":
            break
    raise staff_needed(topic)


async def face_check(ctx: Ctx, *, topic: str, verify_card: Any = None, liveness: bool | None = None) -> FaceResult:
    """The whole face check for `topic` (tax, renewal, reissue); see the module docstring.

    `verify_card`: compare with this card's holder (needs a FaceVerifier, without which only
    the staff check is offered). `liveness`: ask challenges (default: settings.face_liveness).
    """
    s = ctx.deps.settings
    liveness = s.face_liveness if liveness is None else liveness
    can_verify = verify_card is None or _verifier_usable(ctx)
    start = ChoiceOption(key="start", label=msg("face.start"))
    options = (start, STAFF) if can_verify else (STAFF,)
    intro = msg(f"face.{topic}.intro") if can_verify else msg("face.no_verifier")
    answer = await ctx.ask(Choice(message=intro, options=options))
    failures = 0
    while True:
        if answer == "staff":
            return await staff_identity_check(ctx, topic)
        result = await ctx.call(
            lambda: _attempt(ctx, verify_card, liveness),
            view=Measuring(instruction=msg("face.look_at_camera"), device="camera"),
            timeout=s.face_frames * 2 * (s.face_frame_interval_s + 5) + s.face_challenges * s.face_challenge_time_s + 30,
        )
        if result.passed:
            return result
        failures += 1
        code = result.failure or "face_check_failed"
        if failures >= s.face_attempts:
            answer = await ctx.ask(error_view(code, msg(f"face.{code}"), msg("face.attempts_used"), options=(STAFF,)))
        else:
            answer = await ctx.ask(error_view(code, msg(f"face.{code}"), msg("face.retry_or_staff"), options=(RETRY, STAFF)))


async def real_name_check(ctx: Ctx, *, topic: str, card: Any, biometrics: bool = True) -> RealNameCheck:
    """The 人证核验 a flow keeps and sends to the back office: the live face compared with
    `card`'s holder, or — without biometric consent, or at the citizen's choice — staff in
    person with their PIN. Only method, decision, score and a reference: no image, no template."""
    result = await face_check(ctx, topic=topic, verify_card=card) if biometrics else \
        await staff_identity_check(ctx, "identity")
    return RealNameCheck(method=result.method, passed=result.passed, score=result.score,
                         reference="face-check-" + ctx.idempotency_key("face")[:20])
