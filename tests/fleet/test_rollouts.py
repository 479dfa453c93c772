"""The rollout state machine on its own (`fleet.server.rollouts`): stage sizes, success
thresholds, approval gates, abort thresholds, deadlines, pause. Pure: no broker, no
database — a snapshot in, a decision out."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fleet.server.rollouts import (
    AbortPolicy,
    KioskState,
    KioskView,
    RolloutStatus,
    RolloutView,
    StageSpec,
    StageStatus,
    StageView,
    decide,
    plan_stages,
    required_successes,
    stop,
)

T0 = dt.datetime(2025, 3, 4, 2, 0, tzinfo=dt.timezone.utc)
S = KioskState


def specs(*sizes, **kw) -> list[StageSpec]:
    return [StageSpec(size=s, **kw) for s in sizes]


# ------------------------------------------------------------------ planning


def test_canary_then_percentages_of_twenty_kiosks():
    plan = plan_stages(20, specs(1, "10%", "50%", "100%"))
    assert [(p.size, p.cumulative) for p in plan] == [(1, 1), (1, 2), (8, 10), (10, 20)]


def test_every_stage_adds_a_kiosk_and_empty_stages_are_dropped():
    plan = plan_stages(5, specs(1, "10%", "50%", "100%"))  # 10 % of 5 rounds up to 1: already there
    assert [(p.size, p.cumulative) for p in plan] == [(1, 1), (1, 2), (1, 3), (2, 5)]
    assert [(p.size, p.cumulative) for p in plan_stages(2, specs(1, "10%", "50%", "100%"))] == [(1, 1), (1, 2)]


def test_the_last_stage_takes_the_rest_and_counts_cap_at_the_total():
    assert [p.size for p in plan_stages(10, specs(2, 4))] == [2, 8]
    assert [p.size for p in plan_stages(3, specs(50))] == [3]


def test_stage_defaults_come_from_the_rollout():
    plan = plan_stages(4, [StageSpec(size=1, approval=True, success_percent=100, deadline_s=60), StageSpec(size="100%")],
                       success_percent=90, deadline_s=600)
    assert (plan[0].requires_approval, plan[0].success_percent, plan[0].deadline_s) == (True, 100, 60)
    assert (plan[1].requires_approval, plan[1].success_percent, plan[1].deadline_s) == (False, 90, 600)


@pytest.mark.parametrize("bad", [0, -1, "0%", "101%", "ten", "5 percent", ""])
def test_bad_stage_sizes_are_refused(bad):
    with pytest.raises(ValidationError):
        StageSpec(size=bad)


def test_stage_size_spellings():
    assert StageSpec(size="10 %").size == "10%" and StageSpec(size="7").size == 7 and StageSpec(size="12.5%").size == "12.5%"


@given(total=st.integers(1, 500), sizes=st.lists(st.one_of(st.integers(1, 600), st.integers(1, 100).map(lambda p: f"{p}%")),
                                                  min_size=1, max_size=6))
def test_plans_cover_every_kiosk_once(total, sizes):
    plan = plan_stages(total, [StageSpec(size=s) for s in sizes])
    assert sum(p.size for p in plan) == total and all(p.size >= 1 for p in plan)
    assert plan[-1].cumulative == total and [p.index for p in plan] == list(range(len(plan)))


def test_required_successes():
    assert [required_successes(n, 95) for n in (1, 2, 10, 20, 100)] == [1, 2, 10, 19, 95]
    assert required_successes(10, 0) == 0 and required_successes(3, 100) == 3


def test_an_abort_policy_must_be_able_to_stop():
    with pytest.raises(ValidationError):
        AbortPolicy(max_failures=None, max_failure_percent=None)


# ------------------------------------------------------------------ deciding


def rollout(plan_sizes: list[int], states: list[KioskState], *, status=RolloutStatus.RUNNING, stage_status=None,
            approval=(), approved=(), abort: AbortPolicy | None = None, success=95.0, deadline=None,
            started=T0) -> RolloutView:
    stages, kiosks, n = [], [], 0
    for i, size in enumerate(plan_sizes):
        st_ = (stage_status or {}).get(i, StageStatus.PENDING)
        stages.append(StageView(index=i, size=size, requires_approval=i in approval, approved=i in approved,
                                success_percent=success, deadline_s=deadline, status=st_,
                                started_at=started if st_ in (StageStatus.RUNNING, StageStatus.SUCCEEDED) else None))
        for _ in range(size):
            kiosks.append(KioskView(kiosk_id=f"k{n}", stage=i, state=states[n]))
            n += 1
    return RolloutView(status=status, stages=stages, kiosks=kiosks, abort=abort or AbortPolicy())


def test_a_new_rollout_targets_only_the_canary():
    d = decide(rollout([1, 2, 2], [S.WAITING] * 5), T0)
    assert d.target == ["k0"] and d.started == [0] and d.stage_status == {0: StageStatus.RUNNING}
    assert d.status is None  # still running


def test_the_next_stage_starts_when_the_canary_committed():
    view = rollout([1, 2, 2], [S.COMMITTED] + [S.WAITING] * 4, stage_status={0: StageStatus.RUNNING})
    d = decide(view, T0)
    assert d.stage_status == {0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING} and d.target == ["k1", "k2"]


def test_a_stage_in_progress_waits():
    view = rollout([1, 2, 2], [S.COMMITTED, S.COMMITTED, S.INSTALLING, S.WAITING, S.WAITING],
                   stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING})
    assert not decide(view, T0)


def test_success_threshold_lets_the_next_stage_start_with_a_straggler():
    # 20 kiosks in stage 2, 95 %: 19 committed and one deferred is enough.
    states = [S.COMMITTED] + [S.COMMITTED] * 19 + [S.DEFERRED] + [S.WAITING] * 5
    view = rollout([1, 20, 5], states, stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING})
    d = decide(view, T0)
    assert d.stage_status == {1: StageStatus.SUCCEEDED, 2: StageStatus.RUNNING} and len(d.target) == 5
    states[20] = S.DOWNLOADING
    states[19] = S.PENDING  # 18 of 20: not yet
    assert not decide(rollout([1, 20, 5], states, stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING}), T0)


def test_completed_when_the_last_stage_succeeds():
    view = rollout([1, 2], [S.COMMITTED] * 3, stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING})
    d = decide(view, T0)
    assert d.status is RolloutStatus.COMPLETED and d.stage_status == {1: StageStatus.SUCCEEDED} and not d.target


def test_approval_gate_waits_then_starts_once_approved():
    states = [S.COMMITTED] + [S.WAITING] * 4
    view = rollout([1, 4], states, stage_status={0: StageStatus.RUNNING}, approval={1})
    d = decide(view, T0)
    assert d.status is RolloutStatus.WAITING_APPROVAL and not d.target
    assert d.stage_status == {0: StageStatus.SUCCEEDED, 1: StageStatus.WAITING_APPROVAL}
    waiting = rollout([1, 4], states, status=RolloutStatus.WAITING_APPROVAL, approval={1},
                      stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.WAITING_APPROVAL})
    assert not decide(waiting, T0)  # nothing changes until someone approves
    approved = rollout([1, 4], states, status=RolloutStatus.RUNNING, approval={1}, approved={1},
                       stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.WAITING_APPROVAL})
    d = decide(approved, T0)
    assert d.target == ["k1", "k2", "k3", "k4"] and d.stage_status == {1: StageStatus.RUNNING} and d.status is None


def test_a_first_stage_needing_approval_publishes_nothing():
    d = decide(rollout([1, 4], [S.WAITING] * 5, approval={0}), T0)
    assert d.status is RolloutStatus.WAITING_APPROVAL and not d.target


def test_canary_failure_aborts_and_spares_the_rest():
    view = rollout([1, 2, 2], [S.ROLLED_BACK] + [S.WAITING] * 4, stage_status={0: StageStatus.RUNNING})
    d = decide(view, T0)
    assert d.status is RolloutStatus.ABORTED and "1 of 1" in d.reason
    assert d.skip == ["k1", "k2", "k3", "k4"] and not d.target and not d.withdraw
    assert d.stage_status == {0: StageStatus.FAILED, 1: StageStatus.SKIPPED, 2: StageStatus.SKIPPED}


def test_absolute_failure_threshold_withdraws_those_not_started():
    states = [S.COMMITTED, S.ROLLED_BACK, S.FAILED, S.INSTALLING, S.PENDING, S.DEFERRED] + [S.WAITING] * 4
    view = rollout([1, 5, 4], states, stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING},
                   abort=AbortPolicy(max_failures=2, max_failure_percent=None))
    d = decide(view, T0)
    assert d.status is RolloutStatus.ABORTED and "2 kiosk(s) failed" in d.reason
    assert d.withdraw == ["k3", "k4", "k5"]  # the installing one finishes by itself; clearing is harmless
    assert d.skip == ["k6", "k7", "k8", "k9"]
    assert d.stage_status == {1: StageStatus.FAILED, 2: StageStatus.SKIPPED}


def test_below_the_abort_threshold_the_rollout_goes_on():
    states = [S.COMMITTED] + [S.COMMITTED] * 9 + [S.REFUSED] + [S.WAITING] * 9
    view = rollout([1, 10, 9], states, stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING},
                   abort=AbortPolicy(max_failure_percent=10, min_finished=5), success=90)
    d = decide(view, T0)  # 1 of 11 finished failed = 9 %: go on; 9 of 10 committed = 90 %
    assert d.status is None and d.stage_status == {1: StageStatus.SUCCEEDED, 2: StageStatus.RUNNING}


def test_failure_percentage_applies_after_min_finished():
    states = [S.FAILED, S.INSTALLING, S.INSTALLING, S.INSTALLING]
    view = rollout([4], states, stage_status={0: StageStatus.RUNNING},
                   abort=AbortPolicy(max_failure_percent=50, min_finished=2))
    assert not decide(view, T0)  # 1 finished: too early to judge by percentage
    states[1] = S.COMMITTED
    view = rollout([4], states, stage_status={0: StageStatus.RUNNING},
                   abort=AbortPolicy(max_failure_percent=50, min_finished=2))
    assert decide(view, T0).status is RolloutStatus.ABORTED  # 1 of 2 = 50 %


def test_a_stage_that_finished_below_its_threshold_aborts():
    view = rollout([4], [S.COMMITTED, S.COMMITTED, S.COMMITTED, S.REFUSED], stage_status={0: StageStatus.RUNNING},
                   abort=AbortPolicy(max_failures=3, max_failure_percent=None))
    d = decide(view, T0)
    assert d.status is RolloutStatus.ABORTED and "3 of 4 kiosks committed, 4 needed" in d.reason


def test_no_report_before_the_stage_deadline_counts_as_failed():
    states = [S.COMMITTED, S.PENDING, S.DOWNLOADING] + [S.WAITING] * 2
    view = rollout([1, 2, 2], states, stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING},
                   deadline=600, abort=AbortPolicy(max_failures=3, max_failure_percent=None))
    assert not decide(view, T0 + dt.timedelta(seconds=599))
    d = decide(view, T0 + dt.timedelta(seconds=600))
    assert d.timed_out == ["k1", "k2"] and d.status is RolloutStatus.ABORTED  # 0 of 2 committed, all "finished"
    assert d.withdraw == ["k1", "k2"] and d.skip == ["k3", "k4"]


def test_paused_rollout_does_not_advance_but_still_aborts():
    states = [S.COMMITTED] + [S.WAITING] * 4
    paused = rollout([1, 4], states, status=RolloutStatus.PAUSED, stage_status={0: StageStatus.RUNNING})
    assert not decide(paused, T0)
    bad = rollout([1, 4], [S.ROLLED_BACK] + [S.WAITING] * 4, status=RolloutStatus.PAUSED,
                  stage_status={0: StageStatus.RUNNING})
    assert decide(bad, T0).status is RolloutStatus.ABORTED


def test_finished_rollouts_never_change():
    for status in (RolloutStatus.COMPLETED, RolloutStatus.ABORTED, RolloutStatus.CANCELLED):
        assert not decide(rollout([1, 1], [S.ROLLED_BACK, S.WAITING], status=status), T0)


def test_cancel_withdraws_the_unstarted_and_skips_the_rest():
    states = [S.COMMITTED, S.DEFERRED, S.PENDING_COMMIT, S.WAITING]
    view = rollout([1, 2, 1], states, stage_status={0: StageStatus.SUCCEEDED, 1: StageStatus.RUNNING})
    d = stop(view, RolloutStatus.CANCELLED, "cancelled by op")
    assert d.status is RolloutStatus.CANCELLED and d.withdraw == ["k1", "k2"] and d.skip == ["k3"]
    assert d.stage_status == {1: StageStatus.CANCELLED, 2: StageStatus.SKIPPED}
