"""The pure state-machine functions (SPEC §3.2, §3.6, §3.7, §3.9): no I/O, no clock."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from pipelogiq import statemachine as sm
from pipelogiq.domain import JobResult, PipelineStatus, StageOptions, StageState, StageStatus

NOW = 1_800_000_000.0


def stage(
    status: StageStatus = StageStatus.RUNNING,
    *,
    position: int = 0,
    attempt: int = 1,
    retries_used: int = 0,
    redeliveries: int = 0,
    next_retry_at: float | None = None,
    **options: Any,
) -> StageState:
    return StageState(
        id=100 + position,
        pipeline_id=7,
        position=position,
        handler="h",
        status=status,
        attempt=attempt,
        retries_used=retries_used,
        redeliveries=redeliveries,
        options=StageOptions(**options),
        next_retry_at=next_retry_at,
    )


# -- settle ---------------------------------------------------------------------------------


def test_settle_success_completes_and_keeps_counters() -> None:
    s = stage(attempt=3, retries_used=1, redeliveries=1, max_retries=5)
    t = sm.settle(s, JobResult(is_success=True, output="done"), NOW)
    assert t.status is StageStatus.COMPLETED
    assert (t.attempt, t.retries_used, t.redeliveries) == (3, 1, 1)
    assert t.next_retry_at is None
    assert t.finished
    assert "attempt 3" in t.reason


def test_settle_success_with_empty_output_is_fine_without_fail_if_output_empty() -> None:
    t = sm.settle(stage(), JobResult(is_success=True, output=None), NOW)
    assert t.status is StageStatus.COMPLETED


@pytest.mark.parametrize("output", [None, "", "   \n\t"])
def test_settle_fail_if_output_empty_fails_an_empty_success(output: str | None) -> None:
    t = sm.settle(stage(fail_if_output_empty=True), JobResult(is_success=True, output=output), NOW)
    assert t.status is StageStatus.FAILED
    assert "failIfOutputEmpty" in t.reason
    assert t.attempt == 1 and t.retries_used == 0


def test_settle_fail_if_output_empty_uses_the_retry_rules() -> None:
    s = stage(fail_if_output_empty=True, max_retries=1, retry_interval=4)
    t = sm.settle(s, JobResult(is_success=True, output=""), NOW)
    assert t.status is StageStatus.RETRY_SCHEDULED
    assert t.next_retry_at == NOW + 4
    assert (t.attempt, t.retries_used) == (2, 1)


def test_settle_fail_if_output_empty_accepts_a_real_output() -> None:
    t = sm.settle(stage(fail_if_output_empty=True), JobResult(is_success=True, output="x"), NOW)
    assert t.status is StageStatus.COMPLETED


def test_settle_failure_with_retries_left_schedules_a_retry() -> None:
    s = stage(attempt=1, retries_used=0, redeliveries=1, max_retries=2, retry_interval=10)
    t = sm.settle(s, JobResult(is_success=False, error_code="E42", error_message="boom"), NOW)
    assert t.status is StageStatus.RETRY_SCHEDULED
    assert t.next_retry_at == NOW + 10
    assert t.attempt == 2
    assert t.retries_used == 1
    assert t.redeliveries == 1  # a failure is not a lost attempt
    assert not t.finished
    assert "[E42]" in t.reason and "boom" in t.reason and "retry 1 of 2" in t.reason


def test_settle_failure_not_retryable_fails_at_once() -> None:
    s = stage(max_retries=5, retry_interval=10)
    t = sm.settle(s, JobResult(is_success=False, retryable=False), NOW)
    assert t.status is StageStatus.FAILED
    assert t.next_retry_at is None
    assert (t.attempt, t.retries_used) == (1, 0)
    assert "not retryable" in t.reason


def test_settle_failure_retryable_true_is_like_unset() -> None:
    s = stage(max_retries=1, retry_interval=1)
    t = sm.settle(s, JobResult(is_success=False, retryable=True), NOW)
    assert t.status is StageStatus.RETRY_SCHEDULED


def test_settle_failure_with_retries_exhausted_fails() -> None:
    s = stage(attempt=3, retries_used=2, max_retries=2, retry_interval=10)
    t = sm.settle(s, JobResult(is_success=False, error_message="again"), NOW)
    assert t.status is StageStatus.FAILED
    assert (t.attempt, t.retries_used) == (3, 2)
    assert t.next_retry_at is None
    assert t.finished
    assert "2 retries used" in t.reason


def test_settle_failure_without_retries_configured_fails() -> None:
    t = sm.settle(stage(), JobResult(is_success=False), NOW)
    assert t.status is StageStatus.FAILED
    assert "no message" in t.reason


# -- fail (watchdog: timeOut, pending timeout) ----------------------------------------------


def test_fail_consumes_a_retry_and_counts_the_attempt() -> None:
    s = stage(StageStatus.PENDING, attempt=2, retries_used=1, max_retries=3, retry_interval=2.5)
    t = sm.fail(s, NOW, "no worker took the job within 30s")
    assert t.status is StageStatus.RETRY_SCHEDULED
    assert (t.attempt, t.retries_used) == (3, 2)
    assert t.next_retry_at == NOW + 2.5
    assert t.reason.startswith("no worker took the job within 30s")


def test_fail_zero_retry_interval_is_due_now() -> None:
    t = sm.fail(stage(max_retries=1), NOW, "x")
    assert t.status is StageStatus.RETRY_SCHEDULED
    assert t.next_retry_at == NOW


def test_fail_without_retries_is_failed() -> None:
    t = sm.fail(stage(StageStatus.PENDING), NOW, "timed out")
    assert t.status is StageStatus.FAILED
    assert t.reason.startswith("timed out")


# -- lost -----------------------------------------------------------------------------------


def test_lost_redelivers_without_consuming_retries() -> None:
    s = stage(attempt=1, retries_used=1, redeliveries=0, max_retries=1)
    t = sm.lost(s, max_redeliveries=3, reason="job lease expired")
    assert t.status is StageStatus.PENDING
    assert t.attempt == 2
    assert t.redeliveries == 1
    assert t.retries_used == 1
    assert t.next_retry_at is None
    assert not t.finished
    assert "lost attempt 1 of 3" in t.reason


def test_lost_redelivers_up_to_max_redeliveries_then_fails_as_poison() -> None:
    s = stage(attempt=1)
    seen: list[StageStatus] = []
    for _ in range(10):
        t = sm.lost(s, max_redeliveries=2, reason="worker went offline")
        seen.append(t.status)
        if t.status is StageStatus.FAILED:
            break
        s = attrs.evolve(s, attempt=t.attempt, redeliveries=t.redeliveries)
    # two redeliveries are allowed; the third lost attempt is poison
    assert seen == [StageStatus.PENDING, StageStatus.PENDING, StageStatus.FAILED]
    assert t.redeliveries == 2 and t.attempt == 3
    assert "poison" in t.reason


def test_lost_with_zero_max_redeliveries_fails_at_once() -> None:
    t = sm.lost(stage(), max_redeliveries=0, reason="lease expired")
    assert t.status is StageStatus.FAILED
    assert t.attempt == 1 and t.redeliveries == 0


# -- plan -----------------------------------------------------------------------------------


def test_plan_dispatches_the_first_not_started_stage() -> None:
    stages = [stage(StageStatus.NOT_STARTED, position=0), stage(StageStatus.NOT_STARTED, position=1)]
    p = sm.plan(stages, NOW)
    assert p == sm.Dispatch(stages[0])


def test_plan_sorts_by_position() -> None:
    stages = [stage(StageStatus.NOT_STARTED, position=1), stage(StageStatus.COMPLETED, position=0)]
    assert sm.plan(stages, NOW) == sm.Dispatch(stages[0])


def test_plan_passes_completed_and_skipped() -> None:
    stages = [
        stage(StageStatus.COMPLETED, position=0),
        stage(StageStatus.SKIPPED, position=1),
        stage(StageStatus.NOT_STARTED, position=2),
    ]
    assert sm.plan(stages, NOW) == sm.Dispatch(stages[2])


def test_plan_passes_a_tolerated_failure() -> None:
    stages = [
        stage(StageStatus.FAILED, position=0, run_next_if_failed=True),
        stage(StageStatus.NOT_STARTED, position=1),
    ]
    assert sm.plan(stages, NOW) == sm.Dispatch(stages[1])


def test_plan_stops_at_a_failure_without_run_next_if_failed() -> None:
    stages = [
        stage(StageStatus.COMPLETED, position=0),
        stage(StageStatus.FAILED, position=1),
        stage(StageStatus.NOT_STARTED, position=2),
    ]
    p = sm.plan(stages, NOW)
    assert isinstance(p, sm.Finish)
    assert p.status is PipelineStatus.FAILED
    assert str(stages[1].id) in p.reason


@pytest.mark.parametrize("busy", [StageStatus.PENDING, StageStatus.RUNNING])
def test_plan_is_busy_while_a_stage_is_in_flight(busy: StageStatus) -> None:
    stages = [stage(StageStatus.COMPLETED, position=0), stage(busy, position=1),
              stage(StageStatus.NOT_STARTED, position=2)]
    assert sm.plan(stages, NOW) == sm.Busy()


def test_plan_waits_for_a_retry_that_is_not_due() -> None:
    s = stage(StageStatus.RETRY_SCHEDULED, next_retry_at=NOW + 5)
    assert sm.plan([s], NOW) == sm.WaitUntil(NOW + 5, s)


@pytest.mark.parametrize("due", [NOW, NOW - 1, None])
def test_plan_dispatches_a_due_retry(due: float | None) -> None:
    s = stage(StageStatus.RETRY_SCHEDULED, next_retry_at=due)
    assert sm.plan([s], NOW) == sm.Dispatch(s)


def test_plan_finishes_completed_when_every_stage_is_done() -> None:
    stages = [
        stage(StageStatus.COMPLETED, position=0),
        stage(StageStatus.SKIPPED, position=1),
        stage(StageStatus.FAILED, position=2, run_next_if_failed=True),
    ]
    p = sm.plan(stages, NOW)
    assert isinstance(p, sm.Finish)
    assert p.status is PipelineStatus.COMPLETED


def test_plan_cancelled_stage_finishes_cancelled() -> None:
    p = sm.plan([stage(StageStatus.CANCELLED)], NOW)
    assert isinstance(p, sm.Finish)
    assert p.status is PipelineStatus.CANCELLED


def test_plan_of_no_stages_is_completed() -> None:
    p = sm.plan([], NOW)
    assert isinstance(p, sm.Finish) and p.status is PipelineStatus.COMPLETED
