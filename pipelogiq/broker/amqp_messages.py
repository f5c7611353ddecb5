"""Message bodies on the broker (SPEC §3.4, §3.5, §5): pure encoding and decoding.

Job messages on handler queues are JSON with the StageNext key names workers know. AMQP-direct
workers (the .NET SDK's path) send `StageSetStatus {stageId, status}` and `StageResult
{stageId, isSuccess, result, errorCode?, retryable?, logs?, contextItems?}`, keys in camelCase
or PascalCase. A body that cannot be used raises `BadMessage`: the consumer then dead-letters it
(or logs and acks it) — it never requeues it, which would loop forever.

StageResult is read by the same parser as an HTTP ack (`http/job_input.py`), so both paths
agree on defaults, log levels, times and limits.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from pipelogiq.domain import Job, JobResult, StageStatus
from pipelogiq.http.body import Body
from pipelogiq.http.errors import ApiError
from pipelogiq.http.job_input import parse_result

MAX_BODY = 8 * 1024 * 1024  # far above any real result; a larger body is a bug or an attack


class BadMessage(ValueError):
    """A broker message that can never be applied; says which message and why."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"bad {kind} message: {reason}")
        self.kind = kind
        self.reason = reason


@attrs.frozen
class StageSetStatusMessage:
    stage_id: int
    status: StageStatus


@attrs.frozen
class StageResultMessage:
    stage_id: int
    result: JobResult
    pipeline_id: int | None = None
    attempt: int | None = None


_STATUSES = {s.value.lower(): s for s in StageStatus}


def _body(raw: bytes, kind: str) -> Body:
    if len(raw) > MAX_BODY:
        raise BadMessage(kind, f"body of {len(raw)} bytes is over {MAX_BODY}")
    if not raw.strip():
        raise BadMessage(kind, "empty body")
    try:
        return Body.parse(raw)
    except ApiError as exc:
        raise BadMessage(kind, exc.message) from None


def _int(body: Body, kind: str, name: str, *, required: bool = False) -> int | None:
    try:
        value = body.integer(name)
    except ApiError as exc:
        raise BadMessage(kind, exc.message) from None
    if value is None and required:
        raise BadMessage(kind, f"{name} is required")
    if value is not None and value < 1:
        raise BadMessage(kind, f"{name}: expected a positive integer, got {value}")
    return value


def _text(body: Body, kind: str, name: str, *, required: bool = False) -> str | None:
    try:
        return body.string(name, required=required, max_len=1000)
    except ApiError as exc:
        raise BadMessage(kind, exc.message) from None


def decode_stage_set_status(raw: bytes) -> StageSetStatusMessage:
    kind = "StageSetStatus"
    body = _body(raw, kind)
    stage_id = _int(body, kind, "stageId", required=True)
    status = _text(body, kind, "status", required=True)
    assert stage_id is not None and status is not None
    known = _STATUSES.get(status.strip().lower())
    if known is None:
        raise BadMessage(kind, f"status {status!r} is not one of {', '.join(StageStatus)}")
    return StageSetStatusMessage(stage_id, known)


def decode_stage_result(raw: bytes, now: float) -> StageResultMessage:
    """`now` stamps log lines that carry no `created` time."""
    kind = "StageResult"
    body = _body(raw, kind)
    stage_id = _int(body, kind, "stageId", required=True)
    assert stage_id is not None
    try:
        result = parse_result(body, now)
    except ApiError as exc:
        raise BadMessage(kind, exc.message) from None
    return StageResultMessage(
        stage_id, result,
        pipeline_id=_int(body, kind, "pipelineId"),
        attempt=_int(body, kind, "attempt"),
    )


def encode_job(job: Job) -> bytes:
    """A job as it travels on its handler queue: the StageNext payload (SPEC §4.2) when the job
    carries it (AMQP-direct workers read it from here), and always the identity fields."""
    payload: dict[str, Any] = {
        **(job.payload or {}),
        "appId": job.application_id,
        "applicationId": job.application_id,
        "stageId": job.stage_id,
        "pipelineId": job.pipeline_id,
        "executionId": job.pipeline_id,
        "attempt": job.attempt,
        "stageHandlerName": job.handler,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def decode_job(raw: bytes) -> Job:
    kind = "StageNext"
    body = _body(raw, kind)
    app = _int(body, kind, "applicationId") or _int(body, kind, "appId")
    if app is None:
        raise BadMessage(kind, "applicationId is required")
    handler = _text(body, kind, "stageHandlerName") or _text(body, kind, "handler")
    if not handler:
        raise BadMessage(kind, "stageHandlerName is required")
    stage_id = _int(body, kind, "stageId", required=True)
    pipeline_id = _int(body, kind, "pipelineId") or _int(body, kind, "executionId")
    if pipeline_id is None:
        raise BadMessage(kind, "pipelineId is required")
    attempt = _int(body, kind, "attempt")
    assert stage_id is not None
    return Job(app, handler, stage_id, pipeline_id, attempt if attempt is not None else 1)
