"""What a handler receives (:class:`Job`) and may return (:class:`Result`), and the ack they make."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._errors import HandlerError
from ._wire import JSONDict, clip, context_items, normalise_level, rfc3339_now, to_text

__all__ = ["Job", "Result"]

LogArg = tuple[str, str] | Mapping[str, Any]
"""A log line: ``(level, message)`` or ``{"message", "logLevel"|"level", "created"?}``."""

_MAX_TRACEBACK = 8000
MAX_LOG_LINES = 1000
"""Most log lines one ack carries (the server's limit); later lines are dropped."""


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@attrs.define(eq=False)
class Job:
    """One delivered stage job, as a handler sees it.

    ``input`` is the stage input string, ``context`` the pipeline context items
    (``{key: value}``) at dispatch time, ``payload`` the raw StageNext payload. ``token`` is the
    lease token the worker acks with. Call :meth:`log` to attach log lines to the stage; they are
    sent with the ack.
    """

    token: str
    stage_id: int | None
    pipeline_id: int | None
    attempt: int
    handler: str
    input: str | None = None
    context: dict[str, str] = attrs.field(factory=dict)
    trace_id: str | None = None
    span_id: str | None = None
    traceparent: str | None = None
    payload: JSONDict = attrs.field(factory=dict, repr=False)
    run_as_user: str | None = None
    timeout_seconds: int | None = None
    message_id: str | None = None
    queue: str | None = None
    headers: dict[str, Any] = attrs.field(factory=dict, repr=False)
    lease_until: str | None = attrs.field(default=None, repr=False)
    _logs: list[JSONDict] = attrs.field(factory=list, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_message(cls, message: Mapping[str, Any], handler: str) -> Job:
        """Build a job from one pulled message ``{token, queue, messageId, payload, headers}``.

        ``handler`` is the handler the job was pulled for (used when the payload lacks it).
        Raises :class:`ValueError` when the message has no token.
        """
        token = message.get("token")
        if not isinstance(token, str) or not token:
            raise ValueError(f"pulled message without a token: {message!r}")
        payload: Any = message.get("payload") or {}
        if isinstance(payload, str | bytes):
            try:
                payload = json.loads(payload)
            except ValueError:
                payload = {}
        if not isinstance(payload, dict):
            payload = {}
        headers = message.get("headers")
        headers = dict(headers) if isinstance(headers, Mapping) else {}
        context: dict[str, str] = {}
        for item in payload.get("contextItems") or []:
            if isinstance(item, Mapping) and "key" in item:
                value = item.get("value")
                context[str(item["key"])] = value if isinstance(value, str) else to_text(value)
        pipeline_id = _int_or_none(payload.get("pipelineId"))
        if pipeline_id is None:
            pipeline_id = _int_or_none(payload.get("executionId"))
        input_value = payload.get("input")
        return cls(
            token=token,
            stage_id=_int_or_none(payload.get("stageId")),
            pipeline_id=pipeline_id,
            attempt=_int_or_none(payload.get("attempt")) or 1,
            handler=str(payload.get("stageHandlerName") or handler),
            input=None if input_value is None else to_text(input_value),
            context=context,
            trace_id=payload.get("traceId"),
            span_id=payload.get("spanId"),
            traceparent=payload.get("traceparent") or headers.get("traceparent"),
            payload=payload,
            run_as_user=payload.get("runAsUser"),
            timeout_seconds=_int_or_none(payload.get("timeoutSeconds")),
            message_id=None if message.get("messageId") is None else str(message["messageId"]),
            queue=message.get("queue"),
            headers=headers,
            lease_until=message.get("leaseUntil"),
        )

    def input_json(self) -> Any:
        """The input decoded as JSON (``None`` when there is no input)."""
        return None if self.input is None else json.loads(self.input)

    def log(self, level: str, message: str) -> None:
        """Attach a log line to the stage (sent with the ack). Safe from any thread.

        ``level`` is the server's (``Information``, ``Warning``, ``Error``…); Python-style names
        such as ``info`` or ``warning`` are mapped.
        """
        entry = {
            "message": clip(str(message)),
            "logLevel": normalise_level(level),
            "created": rfc3339_now(),
        }
        with self._lock:
            self._logs.append(entry)

    @property
    def logs(self) -> list[JSONDict]:
        """The log lines collected so far (a copy)."""
        with self._lock:
            return list(self._logs)


@attrs.define
class Result:
    """What a handler may return for full control over the ack.

    ``output`` is the stage output (non-strings are JSON-encoded); ``context`` updates pipeline
    context items (``{key: value}``, or a list of item dicts); ``logs`` adds log lines
    (``(level, message)`` tuples or dicts). ``is_success=False`` reports a failure without
    raising, with ``error_code``, ``error_message`` and ``retryable``.
    """

    output: Any = None
    context: Mapping[str, Any] | list[Mapping[str, Any]] | None = None
    logs: list[LogArg] = attrs.field(factory=list)
    is_success: bool = True
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool | None = None


def _log_entry(item: LogArg) -> JSONDict:
    if isinstance(item, Mapping):
        level = item.get("logLevel") or item.get("level") or "Information"
        return {
            "message": clip(str(item.get("message", ""))),
            "logLevel": normalise_level(str(level)),
            "created": item.get("created") or rfc3339_now(),
        }
    level, message = item
    return {
        "message": clip(str(message)),
        "logLevel": normalise_level(level),
        "created": rfc3339_now(),
    }


def _cap_logs(logs: list[JSONDict]) -> list[JSONDict]:
    if len(logs) <= MAX_LOG_LINES:
        return logs
    dropped = len(logs) - (MAX_LOG_LINES - 1)
    note = {"message": f"{dropped} more log line(s) dropped", "logLevel": "Warning"}
    return logs[: MAX_LOG_LINES - 1] + [{**note, "created": rfc3339_now()}]


def success_ack(job: Job, value: Any) -> JSONDict:
    """The ack body for a handler's return value (``None``, a string, any JSON value or a Result).

    Raises :class:`TypeError` or :class:`ValueError` when the value cannot be encoded.
    """
    result = value if isinstance(value, Result) else Result(output=value)
    body: JSONDict = {"token": job.token, "isSuccess": result.is_success}
    if result.output is not None:
        body["result"] = to_text(result.output)
    if result.error_code is not None:
        body["errorCode"] = result.error_code
    if result.error_message is not None:
        body["errorMessage"] = clip(result.error_message)
    if result.retryable is not None:
        body["retryable"] = result.retryable
    body["logs"] = _cap_logs(job.logs + [_log_entry(item) for item in result.logs])
    body["contextItems"] = context_items(result.context)
    return body


def failure_ack(job: Job, exc: BaseException) -> JSONDict:
    """The ack body for a handler that raised ``exc``.

    The message goes to ``errorMessage`` and ``result``; a :class:`HandlerError` also sets
    ``retryable`` and ``errorCode``. For any other exception (a bug, not a decision) the
    traceback is attached as an ``Error`` log line.
    """
    message = clip(str(exc) or type(exc).__name__)
    body: JSONDict = {
        "token": job.token,
        "isSuccess": False,
        "result": message,
        "errorMessage": message,
    }
    logs = job.logs
    if isinstance(exc, HandlerError):
        if exc.error_code is not None:
            body["errorCode"] = exc.error_code
        if exc.retryable is not None:
            body["retryable"] = exc.retryable
    else:
        trace = "".join(traceback.format_exception(exc))[-_MAX_TRACEBACK:]
        logs.append({"message": trace, "logLevel": "Error", "created": rfc3339_now()})
    body["logs"] = _cap_logs(logs)
    body["contextItems"] = []
    return body


def rejected_ack(job: Job, reason: str) -> JSONDict:
    """A bare failure ack, sent when the server refused the full one as malformed (400/413)."""
    message = clip(f"the server rejected this job's result: {reason}")
    return {"token": job.token, "isSuccess": False, "result": message, "errorMessage": message}


def requeue_ack(job: Job) -> JSONDict:
    """The ack that hands a job back unprocessed (a lost attempt, not a failure)."""
    return {"token": job.token, "requeue": True}


def iter_messages(data: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """The job messages of a pull answer: ``{jobs: [...]}`` or a single ``{token, ...}``."""
    jobs = data.get("jobs")
    if isinstance(jobs, list):
        return [m for m in jobs if isinstance(m, Mapping)]
    return [data] if data.get("token") else []
