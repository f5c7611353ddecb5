"""The pure state-machine functions every process shares.

Each function takes what the database holds and returns the transition to write with one
conditional update. Nothing here does I/O or reads a clock: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from pipelogiq.domain import (
    JobResult,
    PipelineStatus,
    StageState,
    StageStatus,
)
from pipelogiq.enforcement import RetryRule


@attrs.frozen
class Transition:
    status: StageStatus
    attempt: int
    retries_used: int
    redeliveries: int
    reason: str
    next_retry_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in (StageStatus.COMPLETED, StageStatus.FAILED)


def settle(stage: StageState, result: JobResult, now: float, *,
           retry: RetryRule | None = None, rand: float = 0.0) -> Transition:
    """A worker's result for the current attempt (SPEC §3.6)."""
    if result.is_success:
        if stage.options.fail_if_output_empty and not (result.output or "").strip():
            return fail(stage, now, "output was empty and failIfOutputEmpty is set",
                        retry=retry, rand=rand)
        return Transition(
            StageStatus.COMPLETED,
            stage.attempt,
            stage.retries_used,
            stage.redeliveries,
            reason=f"completed by the worker (attempt {stage.attempt})",
        )
    detail = result.error_message or result.output or "no message"
    code = f" [{result.error_code}]" if result.error_code else ""
    return fail(stage, now, f"worker reported failure{code}: {detail}", result.retryable,
                error_code=result.error_code, retry=retry, rand=rand)


def fail(
    stage: StageState, now: float, reason: str, retryable: bool | None = None, *,
    error_code: str | None = None, retry: RetryRule | None = None, rand: float = 0.0,
) -> Transition:
    """A failed attempt: schedule a retry while `maxRetries` (or a retry policy, SPEC §6)
    allows, else `Failed`. `rand` is uniform in [0, 1) and only feeds a policy's jitter."""
    opts = stage.options
    max_retries = opts.max_retries if retry is None else retry.max_retries
    by = "" if retry is None else f" by policy '{retry.policy_name}'"
    if retry is not None and retryable is not False and not retry.retries(error_code):
        return Transition(
            StageStatus.FAILED, stage.attempt, stage.retries_used, stage.redeliveries,
            reason=f"{reason}; failed (error code {error_code or 'none'} is not retried{by})",
        )
    if retryable is not False and stage.retries_used < max_retries:
        used = stage.retries_used + 1
        delay = opts.retry_interval if retry is None else retry.delay(used, rand)
        return Transition(
            StageStatus.RETRY_SCHEDULED,
            stage.attempt + 1,
            used,
            stage.redeliveries,
            reason=f"{reason}; retry {used} of {max_retries} in {delay:g}s{by}",
            next_retry_at=now + delay,
        )
    why = "not retryable" if retryable is False else f"{max_retries} retries used{by}"
    return Transition(
        StageStatus.FAILED,
        stage.attempt,
        stage.retries_used,
        stage.redeliveries,
        reason=f"{reason}; failed ({why})",
    )


def lost(stage: StageState, max_redeliveries: int, reason: str) -> Transition:
    """The worker was lost, not the work (SPEC §3.7): deliver again, up to a poison limit."""
    if stage.redeliveries >= max_redeliveries:
        return Transition(
            StageStatus.FAILED,
            stage.attempt,
            stage.retries_used,
            stage.redeliveries,
            reason=f"{reason}; failed as a poison job after {stage.redeliveries + 1} lost attempts",
        )
    return Transition(
        StageStatus.PENDING,
        stage.attempt + 1,
        stage.retries_used,
        stage.redeliveries + 1,
        reason=f"{reason}; delivered again (lost attempt {stage.redeliveries + 1} of {max_redeliveries})",
    )


@attrs.frozen
class Dispatch:
    stage: StageState


@attrs.frozen
class WaitUntil:
    at: float
    stage: StageState


@attrs.frozen
class Busy:
    """A stage is Pending or Running: the next step comes from its result."""


@attrs.frozen
class Finish:
    status: PipelineStatus
    reason: str


Plan = Dispatch | WaitUntil | Busy | Finish


def plan(stages: Sequence[StageState], now: float) -> Plan:
    """What a pipeline does next (SPEC §3.2 readiness and §3.9 outcome). Stages in order."""
    for stage in sorted(stages, key=lambda s: s.position):
        match stage.status:
            case StageStatus.COMPLETED | StageStatus.SKIPPED:
                continue
            case StageStatus.FAILED:
                if stage.options.run_next_if_failed:
                    continue
                return Finish(PipelineStatus.FAILED, f"stage {stage.id} failed")
            case StageStatus.CANCELLED:
                return Finish(PipelineStatus.CANCELLED, "cancelled")
            case StageStatus.PENDING | StageStatus.RUNNING:
                return Busy()
            case StageStatus.NOT_STARTED:
                return Dispatch(stage)
            case StageStatus.RETRY_SCHEDULED:
                due = stage.next_retry_at or now
                return Dispatch(stage) if due <= now else WaitUntil(due, stage)
    return Finish(PipelineStatus.COMPLETED, "every stage finished")
