"""Parsing and validating a pipeline to create (`POST /pipelines`, `POST /api/pipelines`)."""

from __future__ import annotations

import json
import re

from pipelogiq.domain import NewPipeline, NewStage, StageOptions
from pipelogiq.http.body import Body
from pipelogiq.http.errors import ApiError

HANDLER_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
MAX_STAGES = 500


def _options(body: Body | None) -> StageOptions:
    if body is None:
        return StageOptions()
    for name in ("dependsOn", "runInParallelWith"):
        value = body.raw(name)
        if value not in (None, [], "", {}):
            raise ApiError(400, f"{body.where}.{name}: parallel stages are not supported yet;"
                                " leave it null or empty")
    time_out = body.number("timeOut", lo=0)
    return StageOptions(
        retry_interval=body.number("retryInterval", default=0, lo=0, hi=86_400 * 30) or 0.0,
        max_retries=body.integer("maxRetries", default=0, lo=0, hi=1000) or 0,
        time_out=time_out or None,
        run_next_if_failed=bool(body.boolean("runNextIfFailed")),
        fail_if_output_empty=bool(body.boolean("failIfOutputEmpty")),
        notify_on_failure=bool(body.boolean("notifyOnFailure")),
        run_as_user=body.string("runAsUser", max_len=200),
    )


def _stage(body: Body) -> NewStage:
    name = body.string("stageName", required=True, max_len=500)
    handler = body.string("stageHandlerName", required=True, max_len=200)
    assert name is not None and handler is not None
    if not HANDLER_NAME.match(handler):
        raise ApiError(400, f"{body.where}.stageHandlerName: letters, digits and _.:- only")
    text = body.string("input", max_len=512 * 1024 + 1)
    if text is not None and len(text) > 512 * 1024:
        raise ApiError(400, f"{body.where}.input: longer than 512 KiB")
    return NewStage(
        name=name, handler=handler, description=body.string("description"), input=text,
        is_event=bool(body.boolean("isEvent")), options=_options(body.obj("options")),
    )


def _unquote(value: str) -> str:
    """A context value may arrive JSON-quoted (the .NET samples send `"\\"00-…\\""`)."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            loaded = json.loads(value)
        except ValueError:
            return value
        if isinstance(loaded, str):
            return loaded
    return value


def parse_new_pipeline(body: Body, application_id: int) -> NewPipeline:
    name = body.string("name", required=True, max_len=500)
    assert name is not None
    stages = tuple(_stage(s) for s in body.objects("stages", required=True, max_items=MAX_STAGES))
    if not stages:
        raise ApiError(400, "stages: at least one stage is required")
    if any(s.is_event for s in stages) and len(stages) > 1:
        raise ApiError(400, "stages: an event pipeline has exactly one stage")
    keywords = tuple(
        (k.string("key", required=True, max_len=200) or "", k.string("value", max_len=10_000) or "")
        for k in body.objects("pipelineKeywords", max_items=200)
    )
    context = tuple(
        (c.string("key", required=True, max_len=200) or "", c.string("value", max_len=64_000) or "",
         c.string("valueType", max_len=50) or "string")
        for c in body.objects("pipelineContextItems", max_items=1000)
    )
    trace_id = body.string("traceId", max_len=64)
    if trace_id is not None:
        trace_id = trace_id.lower()
        if not TRACE_ID.match(trace_id) or trace_id == "0" * 32:
            raise ApiError(400, "traceId: expected 32 lowercase hex characters")
    else:
        for key, value, _ in context:
            m = TRACEPARENT.match(_unquote(value).strip().lower()) if key.lower() == "traceparent" else None
            if m:
                trace_id = m.group(1)
                break
    return NewPipeline(
        application_id=application_id, name=name, stages=stages, keywords=keywords,
        context=context, trace_id=trace_id,
        idempotency_key=body.string("idempotencyKey", max_len=200),
    )
