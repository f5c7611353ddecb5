"""Parsing acks, logs and context items sent by workers."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelogiq.domain import ContextItem, JobResult, LogLine
from pipelogiq.http.body import Body
from pipelogiq.http.errors import ApiError

LEVELS = {"trace": "Trace", "debug": "Debug", "information": "Information", "info": "Information",
          "warning": "Warning", "warn": "Warning", "error": "Error", "critical": "Critical",
          "fatal": "Critical"}


def parse_time(value: str | None, where: str, default: float) -> float:
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{where}: expected an RFC 3339 time") from None
    if parsed.tzinfo is None:  # no offset: UTC, never the server's local zone
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_level(body: Body, name: str = "logLevel") -> str:
    raw = body.raw(name)
    if raw is None:
        return "Information"
    if isinstance(raw, int) and not isinstance(raw, bool):  # .NET LogLevel enum values
        names = ["Trace", "Debug", "Information", "Warning", "Error", "Critical"]
        if 0 <= raw < len(names):
            return names[raw]
    if isinstance(raw, str) and raw.lower() in LEVELS:
        return LEVELS[raw.lower()]
    raise ApiError(400, f"{body.where}.{name}: unknown log level {raw!r}")


def parse_logs(body: Body, now: float) -> tuple[LogLine, ...]:
    return tuple(
        LogLine(parse_level(item), item.string("message", required=True, max_len=64_000) or "",
                parse_time(item.string("created"), f"{item.where}.created", now))
        for item in body.objects("logs", max_items=1000)
    )


def parse_context(body: Body) -> tuple[ContextItem, ...]:
    return tuple(
        ContextItem(c.string("key", required=True, max_len=200) or "",
                    c.string("value", max_len=64_000) or "",
                    c.string("valueType", max_len=50) or "string")
        for c in body.objects("contextItems", max_items=1000)
    )


def parse_result(body: Body, now: float) -> JobResult:
    """A token-only ack (the original's form) is a success with no output."""
    return JobResult(
        is_success=bool(body.boolean("isSuccess", default=True)),
        output=body.text("result"),
        error_code=body.string("errorCode", max_len=200),
        error_message=body.string("errorMessage", max_len=64_000),
        retryable=body.boolean("retryable"),
        logs=parse_logs(body, now),
        context=parse_context(body),
    )
