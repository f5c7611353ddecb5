"""Control-plane spans: building them from a finished pipeline, the OTLP JSON encoding, where
they go (environment over integration), and the `Tracer` actor over a fake store and sender on
virtual time (batching, retries with backoff, giving up, dropping when behind)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio

from pipelogiq.actors import tracer as tracer_module
from pipelogiq.actors.alerter import Delivery
from pipelogiq.actors.tracer import Tracer
from pipelogiq.config import Settings
from pipelogiq.integrations import IntegrationState
from pipelogiq.observability.metrics import Metrics
from pipelogiq.observability.tracing import (
    Delivery as Handed,
)
from pipelogiq.observability.tracing import (
    PipelineTrace,
    StageTrace,
    encode,
    pipeline_span_id,
    pipeline_spans,
    target_of,
    traces_url,
)
from pipelogiq.store.sqlite_traces import _parent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def stage(n: int, span: str, **over: Any) -> StageTrace:
    base: dict[str, Any] = dict(
        id=n, name=f"s{n}", handler=f"h{n}", span_id=span, status="Completed", attempt=1,
        first_seen=T0 + 10 * n, ready_at=T0 + 10 * n, started_at=T0 + 10 * n + 1,
        attempt_started_at=T0 + 10 * n + 1, finished_at=T0 + 10 * n + 5,
        deliveries=(Handed(1, T0 + 10 * n + 1, "w-1"),))
    base.update(over)
    return StageTrace(**base)


def two_stages(**over: Any) -> PipelineTrace:
    base: dict[str, Any] = dict(
        id=7, application_id=1, name="orders", trace_id=TRACE, status="Completed",
        created_at=T0, finished_at=T0 + 30,
        stages=(stage(1, "00f067aa0ba902b7"), stage(2, "b7ad6b7169203331")))
    base.update(over)
    return PipelineTrace(**base)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (rs,) = doc["resourceSpans"]
    (ss,) = rs["scopeSpans"]
    return {s["name"]: s for s in ss["spans"]}


def attrs_of(item: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in item["attributes"]}


# -- spans and their encoding -----------------------------------------------------------------

def test_a_two_stage_pipeline_is_one_trace_of_pipeline_stage_and_dispatch_spans() -> None:
    doc = json.loads(encode(pipeline_spans(two_stages()), "control-plane"))
    (rs,) = doc["resourceSpans"]
    assert attrs_of(rs["resource"])["service.name"] == "control-plane"
    assert rs["scopeSpans"][0]["scope"]["name"] == "pipelogiq"
    spans = by_name(doc)
    assert set(spans) == {"pipeline orders", "stage s1", "stage s2", "dispatch h1", "dispatch h2"}
    assert {s["traceId"] for s in spans.values()} == {TRACE}
    root = spans["pipeline orders"]
    assert root["spanId"] == pipeline_span_id(TRACE) and "parentSpanId" not in root
    assert len(root["spanId"]) == 16 and int(root["spanId"], 16)
    assert root["startTimeUnixNano"] == "1767225600000000000"
    assert root["endTimeUnixNano"] == "1767225630000000000"
    assert root["kind"] == 1 and "status" not in root
    assert attrs_of(root) == {"pipelogiq.pipeline.id": "7", "pipelogiq.pipeline.name": "orders",
                              "pipelogiq.application.id": "1",
                              "pipelogiq.pipeline.status": "Completed"}
    s1 = spans["stage s1"]
    # The span id the job's traceparent carries: a worker's spans are this span's children.
    assert s1["spanId"] == "00f067aa0ba902b7" and s1["parentSpanId"] == root["spanId"]
    assert s1["startTimeUnixNano"] == "1767225610000000000"
    assert s1["endTimeUnixNano"] == "1767225615000000000"
    assert s1["events"] == [{"timeUnixNano": "1767225611000000000", "name": "delivered",
                             "attributes": [
                                 {"key": "pipelogiq.attempt", "value": {"intValue": "1"}},
                                 {"key": "pipelogiq.worker.id", "value": {"stringValue": "w-1"}}]}]
    d1 = spans["dispatch h1"]
    assert d1["parentSpanId"] == "00f067aa0ba902b7" and d1["kind"] == 4
    assert (d1["startTimeUnixNano"], d1["endTimeUnixNano"]) == ("1767225610000000000",
                                                                "1767225611000000000")
    assert d1["spanId"] not in {s["spanId"] for s in spans.values() if s is not d1}


def test_failures_are_error_statuses_and_untouched_stages_have_no_span() -> None:
    t = two_stages(status="Failed", stages=(
        stage(1, "00f067aa0ba902b7", status="Failed", attempt=3, error_code="E42",
              ready_at=T0 + 20, attempt_started_at=T0 + 21, finished_at=T0 + 25,
              deliveries=(Handed(1, T0 + 11, "w-1"), Handed(2, T0 + 15, "w-2"),
                          Handed(3, T0 + 21, "w-1"))),
        stage(2, "b7ad6b7169203331", status="NotStarted", first_seen=None, ready_at=None,
              started_at=None, attempt_started_at=None, finished_at=None, deliveries=())))
    spans = by_name(json.loads(encode(pipeline_spans(t), "x")))
    assert set(spans) == {"pipeline orders", "stage s1", "dispatch h1"}
    assert spans["pipeline orders"]["status"] == {"code": 2, "message": "pipeline Failed"}
    s1 = spans["stage s1"]
    assert s1["status"] == {"code": 2, "message": "stage failed (E42)"}
    assert [attrs_of(e)["pipelogiq.attempt"] for e in s1["events"]] == ["1", "2", "3"]
    assert attrs_of(s1)["pipelogiq.stage.attempt"] == "3"
    assert attrs_of(s1)["pipelogiq.stage.error.code"] == "E42"
    # The last attempt's dispatch; the stage span covers every attempt.
    assert spans["dispatch h1"]["startTimeUnixNano"] == "1767225620000000000"
    assert s1["startTimeUnixNano"] == "1767225610000000000"


def test_a_creator_traceparent_of_the_same_trace_parents_the_pipeline_span() -> None:
    creator = "a1b2c3d4e5f60718"
    assert _parent(f"00-{TRACE}-{creator}-01", TRACE) == creator
    assert _parent(json.dumps(f"00-{TRACE.upper()}-{creator}-01"), TRACE) == creator
    assert _parent(f"00-{'1' * 32}-{creator}-01", TRACE) is None  # another trace
    assert _parent(f"00-{TRACE}-{'0' * 16}-01", TRACE) is None
    assert _parent("garbage", TRACE) is None
    spans = pipeline_spans(two_stages(parent_span_id=creator))
    assert spans[0].parent_span_id == creator


# -- where spans go ---------------------------------------------------------------------------

def otel(**config: Any) -> IntegrationState:
    return IntegrationState("opentelemetry", config, 1.0)


def test_the_environment_wins_over_the_integration() -> None:
    integration = otel(enabled=True, endpoint="https://otel.example/", serviceName="svc",
                       headers={"api-key": "k"})
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces/") == "http://c:4318/v1/traces"
    assert target_of(Settings(), None) is None
    assert target_of(Settings(), otel(enabled=False, endpoint="https://otel.example")) is None
    t = target_of(Settings(), integration)
    assert t is not None and (t.url, dict(t.headers), t.service_name) == (
        "https://otel.example/v1/traces", {"api-key": "k"}, "svc")
    env = Settings(otel_exporter_otlp_endpoint="http://c:4318",
                   otel_exporter_otlp_headers=(("x-t", "1"),), otel_service_name="cp")
    t = target_of(env, integration)
    assert t is not None and (t.url, dict(t.headers), t.service_name) == (
        "http://c:4318/v1/traces", {"x-t": "1"}, "cp")
    t = target_of(Settings(otel_exporter_otlp_endpoint="http://c:4318"), None)
    assert t is not None and t.service_name == "pipelogiq" and not t.headers


# -- the actor over fakes ---------------------------------------------------------------------

@attrs.define
class FakeStore:
    traces: dict[int, PipelineTrace] = attrs.Factory(dict)
    reads: list[list[int]] = attrs.Factory(list)

    async def integration_states(self) -> dict[str, IntegrationState]:
        return {}

    async def pipeline_traces(self, pipeline_ids: Sequence[int]) -> list[PipelineTrace]:
        self.reads.append(list(pipeline_ids))
        return [self.traces[i] for i in pipeline_ids if i in self.traces]


@attrs.frozen
class Request:
    at: float
    url: str
    headers: Mapping[str, str]
    body: bytes


@attrs.define
class FakeSender:
    reports: trio.MemorySendChannel[Request]
    script: list[int] = attrs.Factory(list)

    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> Delivery:
        self.reports.send_nowait(Request(trio.current_time(), url, dict(headers), body))
        status = self.script.pop(0) if self.script else 200
        return Delivery(status, None if status < 300 else f"HTTP {status}")


@attrs.define
class Rig:
    tracer: Tracer
    store: FakeStore
    sender: FakeSender
    requests: trio.MemoryReceiveChannel[Request]
    metrics: Metrics

    async def next(self) -> Request:
        with trio.fail_after(1000):
            return await self.requests.receive()

    def metric(self, name: str) -> float:
        return self.metrics.registry.get_sample_value(name) or 0.0


@asynccontextmanager
async def rig(nursery: trio.Nursery, **settings: Any) -> AsyncIterator[Rig]:
    send, recv = trio.open_memory_channel[Request](100)
    store, metrics = FakeStore(), Metrics()
    sender = FakeSender(send)
    s = Settings(otel_exporter_otlp_endpoint="http://collector.test:4318",
                 otel_exporter_otlp_headers=(("authorization", "Bearer t"),), **settings)
    tracer = Tracer(store, s, metrics, sender=sender, rand=lambda: 0.5)
    await nursery.start(tracer.run)
    yield Rig(tracer, store, sender, recv, metrics)


def traced(pid: int) -> PipelineTrace:
    trace = f"{pid:032x}"
    return two_stages(id=pid, name=f"p{pid}", trace_id=trace,
                      stages=(stage(1, f"{pid:015x}1"),))


async def test_finished_pipelines_are_exported_in_batches(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    async with rig(nursery) as r:
        for pid in (1, 2, 3):
            r.store.traces[pid] = traced(pid)
            r.tracer.pipeline_finished(pid)
        r.tracer.pipeline_finished(99)  # purged meanwhile: nothing to export for it
        req = await r.next()
        assert req.url == "http://collector.test:4318/v1/traces"
        assert req.headers["authorization"] == "Bearer t"
        assert req.headers["Content-Type"] == "application/json"
        (rs,) = json.loads(req.body)["resourceSpans"]
        names = sorted(s["name"] for s in rs["scopeSpans"][0]["spans"])
        assert names == ["dispatch h1"] * 3 + ["pipeline p1", "pipeline p2", "pipeline p3"] \
            + ["stage s1"] * 3
        assert r.store.reads == [[1, 2, 3, 99]]  # one store read for the batch
        await trio.sleep(1)
        assert r.metric("trace_spans_exported_total") == 9


async def test_a_failing_collector_is_retried_with_backoff_then_given_up(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    async with rig(nursery) as r:
        r.store.traces[1] = traced(1)
        r.sender.script = [503, 500]
        r.tracer.pipeline_finished(1)
        times = [(await r.next()).at for _ in range(3)]
        assert times[1] - times[0] == pytest.approx(tracer_module.RETRY_BASE)
        assert times[2] - times[1] == pytest.approx(2 * tracer_module.RETRY_BASE)
        await trio.sleep(1)
        assert r.metric("trace_spans_exported_total") == 3

        r.store.traces[2] = traced(2)
        r.sender.script = [500] * tracer_module.MAX_ATTEMPTS
        r.tracer.pipeline_finished(2)
        for _ in range(tracer_module.MAX_ATTEMPTS):
            await r.next()
        await trio.sleep(100)
        assert r.metric("trace_spans_failed_total") == 3
        assert r.requests.statistics().current_buffer_used == 0  # no sixth attempt

        r.store.traces[3] = traced(3)
        r.sender.script = [400]  # the collector's final word: not retried
        r.tracer.pipeline_finished(3)
        await r.next()
        await trio.sleep(100)
        assert r.metric("trace_spans_failed_total") == 6
        assert r.requests.statistics().current_buffer_used == 0


async def test_when_behind_pipelines_are_dropped_and_counted_never_waited_for(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracer_module, "INBOX_SIZE", 3)
    async with rig(nursery) as r:
        r.store.traces[1] = traced(1)
        r.sender.script = [503] * 3  # the first export keeps the tracer busy
        r.tracer.pipeline_finished(1)
        await r.next()
        for pid in range(2, 10):  # returns at once each time, whatever the tracer does
            r.tracer.pipeline_finished(pid)
        assert r.metric("trace_pipelines_dropped_total") == 5


async def test_nothing_is_read_or_sent_without_a_target(
        nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    send, recv = trio.open_memory_channel[Request](10)
    store = FakeStore({1: traced(1)})
    tracer = Tracer(store, Settings(), Metrics(), sender=FakeSender(send))
    await nursery.start(tracer.run)
    tracer.pipeline_finished(1)
    await trio.sleep(10)
    assert store.reads == [] and recv.statistics().current_buffer_used == 0
