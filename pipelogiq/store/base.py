"""What every store answers with, and the errors it raises."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import attrs

from pipelogiq.domain import Job, StageState


class StoreError(Exception):
    """A request the store refuses; `status` is the HTTP code that describes it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.frozen
class AckOutcome:
    kind: Literal["applied", "duplicate", "not_found", "conflict"]
    reason: str = ""
    pipeline_id: int | None = None
    status: str | None = None
    republish: Job | None = None
    handler: str | None = None
    attempt_seconds: float | None = None  # running time of the attempt that settled
    wake: tuple[int, ...] = ()  # pipelines whose held stages may go now (a breaker closed)
    triggers: tuple[Trigger, ...] = ()  # policies that acted on this result
    stage_id: int | None = None  # the stage it settled (alerts name it when it `Failed`)
    state: StageState | None = None  # that stage as this commit left it (its pipeline plans on)
    follow: FollowOn | None = None  # what the same transaction did next for the pipeline


@attrs.frozen
class FollowOn:
    """A pipeline's next step taken in the transaction that made it due (its stages, as that
    commit left them, included): the next stage dispatched, or the pipeline finished."""

    stages: tuple[StageState, ...]
    job: Job | None = None  # dispatched (`Pending`): publish it
    finished: tuple[str, str] | None = None  # (status, reason) the pipeline finished with
    settled: bool = True  # nothing else is due now: the pipeline waits on a worker, or is done


@attrs.frozen
class Trigger:
    """One application of a policy (SPEC §6), for alerting after the commit."""

    policy_id: int
    policy_name: str
    application_id: int
    pipeline_id: int
    stage_id: int
    what: str


@attrs.frozen
class Held:
    """A ready stage a policy holds back until `until` (it never fails for it)."""

    until: float
    reason: str
    pipeline_id: int
    triggers: tuple[Trigger, ...] = ()


@attrs.frozen
class StageRef:
    pipeline_id: int
    stage_id: int


@attrs.frozen
class Reclaimed:
    """Stages a watchdog took back: jobs to publish again and pipelines to re-evaluate.
    `failed` are the stages that ended `Failed` (poison job, `timeOut`, pending timeout with
    no retry left); `stuck` those the pending watchdog failed (retried or not), for alerts."""

    jobs: tuple[Job, ...] = ()
    pipeline_ids: frozenset[int] = frozenset()
    failed: tuple[StageRef, ...] = ()
    stuck: tuple[StageRef, ...] = ()


@attrs.frozen
class QueueBacklog:
    """A handler queue over a backlog threshold: `depth` stages `Pending` in it, the oldest
    since `oldest_pending_since` (wall time)."""

    application_id: int
    handler: str
    depth: int
    oldest_pending_since: float


@attrs.frozen
class Principal:
    """Who a request acts for on the external API."""

    application_id: int
    worker_id: str | None = None


@attrs.frozen
class PipelineQuery:
    application_ids: Sequence[int]
    page_number: int = 1
    page_size: int = 20
    search: str | None = None
    statuses: Sequence[str] = ()
    keywords: Sequence[str] = ()
    context: Sequence[tuple[str, str]] = ()
    start_from: float | None = None
    start_to: float | None = None
    end_from: float | None = None
    end_to: float | None = None


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
