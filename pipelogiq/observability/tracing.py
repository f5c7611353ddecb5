"""Control-plane spans (SPEC §8), encoded for OTLP/HTTP with JSON bodies.

Every pipeline has a W3C trace id and every stage a span id; a job carries
`traceparent: 00-{trace id}-{stage span id}-01`, so the spans a worker makes are children of
the stage's span. When a pipeline finishes, its spans are built from what the store recorded
(`PipelineTrace`) and exported by the `Tracer` actor (`pipelogiq.actors.tracer`):

- `pipeline {name}`: the trace's root (or a child of the span named by a `traceparent` context
  item of the same trace, when the creator sent one), from creation to finish; its span id is
  derived from the trace id (`pipeline_span_id`), so any replica computes the same one;
- `stage {name}`: span id = the stage's span id (the one in the job's `traceparent`), child of
  the pipeline span, from the stage's first dispatch to its finish. All attempts of a stage
  share it (a stage has one span id), so each delivery is an event on it (`delivered`, with
  the attempt and the worker), and every attempt's worker spans are its children;
- `dispatch {handler}`: child of the stage span, from the last attempt becoming `Pending`
  (ready) to its delivery to a worker — the dispatch delay of `dispatch_latency_seconds`.

Encoding follows the OTLP JSON mapping: hex trace and span ids, enums as integers, 64-bit
integers (times in nanoseconds since the epoch) as decimal strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from pipelogiq import __version__
from pipelogiq.config import Settings
from pipelogiq.integrations import IntegrationState

SCOPE = "pipelogiq"
DEFAULT_SERVICE_NAME = "pipelogiq"
TRACES_PATH = "/v1/traces"
KIND_INTERNAL, KIND_PRODUCER = 1, 4
STATUS_UNSET, STATUS_ERROR = 0, 2

AttributeValue = str | int | float | bool


@attrs.frozen
class Delivery:
    """A job handed to a worker (a lease): which attempt, when, to whom."""

    attempt: int
    at: float
    worker_id: str | None = None


@attrs.frozen
class StageTrace:
    """One stage as the store recorded it (times are wall-clock seconds)."""

    id: int
    name: str
    handler: str
    span_id: str
    status: str
    attempt: int
    first_seen: float | None  # its first dispatch (the first `Pending` of its log)
    ready_at: float | None  # the last attempt became `Pending`
    started_at: float | None  # first delivery
    attempt_started_at: float | None  # the last attempt's delivery
    finished_at: float | None
    error_code: str | None = None
    deliveries: tuple[Delivery, ...] = ()


@attrs.frozen
class PipelineTrace:
    id: int
    application_id: int
    name: str
    trace_id: str
    status: str
    created_at: float
    finished_at: float | None
    parent_span_id: str | None = None
    stages: tuple[StageTrace, ...] = ()


@attrs.frozen
class SpanEvent:
    name: str
    at: float
    attributes: tuple[tuple[str, AttributeValue], ...] = ()


@attrs.frozen
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start: float
    end: float
    kind: int = KIND_INTERNAL
    attributes: tuple[tuple[str, AttributeValue], ...] = ()
    events: tuple[SpanEvent, ...] = ()
    error: str | None = None  # set: the span's status is ERROR with this message


def _derived_id(*parts: str) -> str:
    digest = hashlib.sha256(":".join(parts).encode()).hexdigest()[:16]
    return digest if digest.strip("0") else "1" + digest[1:]  # an all-zero id is invalid


def pipeline_span_id(trace_id: str) -> str:
    """The pipeline span's id: derived from the trace id, the same in every process."""
    return _derived_id(trace_id.lower(), "pipeline")


def dispatch_span_id(stage_span_id: str, attempt: int) -> str:
    return _derived_id(stage_span_id.lower(), "dispatch", str(attempt))


def _attrs(**values: AttributeValue | None) -> tuple[tuple[str, AttributeValue], ...]:
    return tuple((f"pipelogiq.{k.replace('_', '.')}", v) for k, v in values.items()
                 if v is not None)


def pipeline_spans(t: PipelineTrace) -> list[Span]:
    """The spans of a finished pipeline: the pipeline, each stage that was acted on, and the
    dispatch of each stage's last attempt."""
    trace = t.trace_id.lower()
    root = pipeline_span_id(trace)
    end = t.finished_at if t.finished_at is not None else t.created_at
    spans = [Span(trace, root, t.parent_span_id, f"pipeline {t.name}", t.created_at,
                  max(end, t.created_at),
                  attributes=_attrs(pipeline_id=t.id, pipeline_name=t.name,
                                    application_id=t.application_id, pipeline_status=t.status),
                  error=f"pipeline {t.status}" if t.status == "Failed" else None)]
    for s in t.stages:
        spans.extend(_stage_spans(trace, root, s, t.created_at, end))
    return spans


def _stage_spans(trace: str, parent: str, s: StageTrace, pipeline_start: float,
                 pipeline_end: float) -> list[Span]:
    known = [x for x in (s.first_seen, s.ready_at, s.started_at, s.finished_at,
                         *(d.at for d in s.deliveries)) if x is not None]
    if s.first_seen is None and s.ready_at is None and s.started_at is None:
        return []  # never dispatched (e.g. left NotStarted after an earlier stage failed)
    start = max(pipeline_start, min(known))
    end = max(start, s.finished_at if s.finished_at is not None else pipeline_end)
    events = tuple(
        SpanEvent("delivered", d.at, _attrs(attempt=d.attempt, worker_id=d.worker_id))
        for d in s.deliveries)
    failed = s.status == "Failed"
    out = [Span(trace, s.span_id.lower(), parent, f"stage {s.name}", start, end,
                attributes=_attrs(stage_id=s.id, stage_name=s.name, stage_handler=s.handler,
                                  stage_status=s.status, stage_attempt=s.attempt,
                                  stage_error_code=s.error_code),
                events=events,
                error=(f"stage failed ({s.error_code})" if s.error_code else "stage failed")
                if failed else None)]
    if (s.ready_at is not None and s.attempt_started_at is not None
            and s.attempt_started_at >= s.ready_at):
        out.append(Span(trace, dispatch_span_id(s.span_id, s.attempt), s.span_id.lower(),
                        f"dispatch {s.handler}", s.ready_at, s.attempt_started_at,
                        kind=KIND_PRODUCER,
                        attributes=_attrs(stage_id=s.id, stage_handler=s.handler,
                                          stage_attempt=s.attempt)))
    return out


# -- OTLP JSON ------------------------------------------------------------------------------

def _nanos(seconds: float) -> str:
    return str(round(seconds * 1_000_000_000))


def _value(v: AttributeValue) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


def _attributes(pairs: Sequence[tuple[str, AttributeValue]]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in pairs]


def span_json(span: Span) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "traceId": span.trace_id, "spanId": span.span_id, "name": span.name,
        "kind": span.kind, "startTimeUnixNano": _nanos(span.start),
        "endTimeUnixNano": _nanos(span.end), "attributes": _attributes(span.attributes),
    }
    if span.parent_span_id:
        doc["parentSpanId"] = span.parent_span_id
    if span.events:
        doc["events"] = [{"timeUnixNano": _nanos(e.at), "name": e.name,
                          "attributes": _attributes(e.attributes)} for e in span.events]
    if span.error is not None:
        doc["status"] = {"code": STATUS_ERROR, "message": span.error}
    return doc


def encode(spans: Sequence[Span], service_name: str) -> bytes:
    """An OTLP/HTTP JSON `ExportTraceServiceRequest` holding `spans`."""
    resource = _attributes([("service.name", service_name), ("service.version", __version__)])
    doc = {"resourceSpans": [{
        "resource": {"attributes": resource},
        "scopeSpans": [{"scope": {"name": SCOPE, "version": __version__},
                        "spans": [span_json(s) for s in spans]}],
    }]}
    return json.dumps(doc, separators=(",", ":")).encode()


# -- where to send ---------------------------------------------------------------------------

@attrs.frozen
class TraceTarget:
    url: str
    headers: Mapping[str, str]
    service_name: str


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector endpoint (`…/v1/traces` is taken as given)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def target_of(settings: Settings, state: IntegrationState | None) -> TraceTarget | None:
    """Where spans go: OTEL_EXPORTER_OTLP_ENDPOINT (with OTEL_EXPORTER_OTLP_HEADERS) when set,
    else the enabled OpenTelemetry integration's endpoint and headers; None: no export."""
    config = (state.config if state else None) or {}
    service = (settings.otel_service_name or config.get("serviceName")
               or DEFAULT_SERVICE_NAME)
    if settings.otel_exporter_otlp_endpoint:
        return TraceTarget(traces_url(settings.otel_exporter_otlp_endpoint),
                           dict(settings.otel_exporter_otlp_headers), service)
    if config.get("enabled") and config.get("endpoint"):
        return TraceTarget(traces_url(config["endpoint"]), dict(config.get("headers") or {}),
                           service)
    return None


class TraceEmitter:
    """What the engine calls when a pipeline finishes; this base exports nothing (no tracer
    wired). `pipelogiq.actors.tracer.Tracer` is the exporting one."""

    def pipeline_finished(self, pipeline_id: int) -> None:
        pass
