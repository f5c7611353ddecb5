"""Frozen records and enums shared by the store, the actors and the HTTP layer."""

from __future__ import annotations

import enum
from typing import Any

import attrs


class StageStatus(enum.StrEnum):
    NOT_STARTED = "NotStarted"
    PENDING = "Pending"
    RUNNING = "Running"
    RETRY_SCHEDULED = "RetryScheduled"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    CANCELLED = "Cancelled"


class PipelineStatus(enum.StrEnum):
    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


FINISHED_STAGE = frozenset(
    {StageStatus.COMPLETED, StageStatus.FAILED, StageStatus.SKIPPED, StageStatus.CANCELLED}
)
IN_FLIGHT_STAGE = frozenset({StageStatus.PENDING, StageStatus.RUNNING})
WORKER_GONE = frozenset({"offline", "stopped"})
FINISHED_PIPELINE = frozenset(
    {PipelineStatus.COMPLETED, PipelineStatus.FAILED, PipelineStatus.CANCELLED}
)


@attrs.frozen
class StageOptions:
    retry_interval: float = 0.0
    max_retries: int = 0
    time_out: float | None = None
    run_next_if_failed: bool = False
    fail_if_output_empty: bool = False
    notify_on_failure: bool = False
    run_as_user: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "retryInterval": self.retry_interval,
            "maxRetries": self.max_retries,
            "runNextIfFailed": self.run_next_if_failed,
            "failIfOutputEmpty": self.fail_if_output_empty,
            "notifyOnFailure": self.notify_on_failure,
        }
        if self.time_out is not None:
            out["timeOut"] = self.time_out
        if self.run_as_user is not None:
            out["runAsUser"] = self.run_as_user
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> StageOptions:
        if not data:
            return cls()
        return cls(
            retry_interval=float(data.get("retryInterval") or 0),
            max_retries=int(data.get("maxRetries") or 0),
            time_out=float(data["timeOut"]) if data.get("timeOut") else None,
            run_next_if_failed=bool(data.get("runNextIfFailed")),
            fail_if_output_empty=bool(data.get("failIfOutputEmpty")),
            notify_on_failure=bool(data.get("notifyOnFailure")),
            run_as_user=data.get("runAsUser"),
        )


@attrs.frozen
class StageState:
    """What the engine needs of a stage to decide the next step."""

    id: int
    pipeline_id: int
    position: int
    handler: str
    status: StageStatus
    attempt: int
    retries_used: int
    redeliveries: int
    options: StageOptions
    next_retry_at: float | None = None
    is_event: bool = False


@attrs.frozen
class NewStage:
    name: str
    handler: str
    description: str | None = None
    input: str | None = None
    is_event: bool = False
    options: StageOptions = StageOptions()


@attrs.frozen
class NewPipeline:
    application_id: int
    name: str
    stages: tuple[NewStage, ...]
    keywords: tuple[tuple[str, str], ...] = ()
    context: tuple[tuple[str, str, str], ...] = ()  # key, value, valueType
    trace_id: str | None = None
    idempotency_key: str | None = None


@attrs.frozen
class Job:
    """A message on a handler queue: which stage attempt is ready for a worker."""

    application_id: int
    handler: str
    stage_id: int
    pipeline_id: int
    attempt: int
    # The StageNext payload (SPEC §4.2) the message carries for AMQP-direct workers; filled in
    # only when the broker is RabbitMQ (HTTP pulls read a fresh one when the lease starts).
    payload: dict[str, Any] | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class LogLine:
    level: str
    message: str
    created: float


@attrs.frozen
class ContextItem:
    key: str
    value: str
    value_type: str = "string"


@attrs.frozen
class JobResult:
    """A worker's answer for one attempt (an HTTP ack or an AMQP StageResult)."""

    is_success: bool = True
    output: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool | None = None
    logs: tuple[LogLine, ...] = ()
    context: tuple[ContextItem, ...] = ()


@attrs.frozen
class Delivered:
    """A job handed to a worker: its lease token, queue and StageNext payload."""

    token: str
    queue: str
    message_id: str
    payload: dict[str, Any]
    headers: dict[str, str]
    lease_until: float
    ready_at: float | None = None  # when the stage became ready (dispatch latency)
    delivered_at: float | None = None


@attrs.frozen
class Worker:
    id: str
    application_id: int
    name: str
    state: str
    last_seen: float
