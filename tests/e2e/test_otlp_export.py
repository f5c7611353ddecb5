"""Control-plane spans over OTLP/HTTP (SPEC §8) end to end: a real server exporting to a local
OTLP receiver (h11 over a Trio socket on 127.0.0.1), a two-stage pipeline run by pulls and
acks, and the exported spans checked against the trace context the jobs carried — so a
worker's spans (children of the `traceparent` it was given) land in the pipeline's trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from conftest import Api, make_settings
from httpreceiver import Request, read_request, respond, serve
from pipelogiq.config import Settings

GUARD = 15.0


@attrs.define
class Collector:
    port: int = 0
    answers: list[int] = attrs.Factory(list)
    _send: trio.MemorySendChannel[Request] | None = None
    _recv: trio.MemoryReceiveChannel[Request] | None = None

    def __attrs_post_init__(self) -> None:
        self._send, self._recv = trio.open_memory_channel[Request](100)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, stream: trio.SocketStream) -> None:
        got = await read_request(stream)
        if got is None:
            return
        conn, request = got
        assert self._send is not None
        self._send.send_nowait(request)
        await respond(stream, conn, self.answers.pop(0) if self.answers else 200)

    async def spans(self) -> tuple[Request, list[dict[str, Any]]]:
        """The next export request and its spans."""
        assert self._recv is not None
        with trio.fail_after(GUARD):
            request = await self._recv.receive()
        doc = json.loads(request.body)
        return request, [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"]
                         for s in ss["spans"]]


@pytest.fixture
async def collector(nursery: trio.Nursery) -> Collector:
    c = Collector()
    c.port = await serve(nursery, c.handle)
    return c


@pytest.fixture
def settings(tmp_path: Path, collector: Collector, request: pytest.FixtureRequest) -> Settings:
    """OTEL_EXPORTER_OTLP_ENDPOINT set to the collector, unless parametrized with False."""
    if not getattr(request, "param", True):
        return make_settings(tmp_path)
    return make_settings(tmp_path, otel_exporter_otlp_endpoint=collector.endpoint,
                         otel_service_name="pipelogiq-e2e")


async def run_two_stages(api: Api) -> tuple[dict[str, Any], list[str]]:
    """A two-stage pipeline run to completion; returns it and the traceparent of each job."""
    p = await api.create([{"stageName": "fetch", "stageHandlerName": "fetch"},
                          {"stageName": "store", "stageHandlerName": "store"}], name="orders")
    parents = []
    for handler in ("fetch", "store"):
        r = await api.pull(handler, wait=10)
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["headers"]["traceparent"] == job["payload"]["traceparent"]
        parents.append(job["headers"]["traceparent"])
        r = await api.ack(job["token"], isSuccess=True, result=handler)
        assert r.status_code == 200, r.text
    return await api.wait_status(p["id"], "Completed"), parents


async def test_a_pipeline_s_spans_join_the_trace_its_jobs_carried(
        api: Api, collector: Collector) -> None:
    doc, parents = await run_two_stages(api)
    request, spans = await collector.spans()
    assert request.target == "/v1/traces"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body)["resourceSpans"][0]["resource"]["attributes"][0] == {
        "key": "service.name", "value": {"stringValue": "pipelogiq-e2e"}}

    trace_id = doc["traceId"]
    assert {s["traceId"] for s in spans} == {trace_id}
    named = {s["name"]: s for s in spans}
    assert sorted(named) == ["dispatch fetch", "dispatch store", "pipeline orders",
                             "stage fetch", "stage store"]
    root = named["pipeline orders"]
    assert "parentSpanId" not in root
    for stage, traceparent in zip(doc["stages"], parents, strict=True):
        span = named[f"stage {stage['name']}"]
        # The worker was told `00-{trace}-{this span}-01`: its spans are this span's children.
        assert traceparent == f"00-{trace_id}-{span['spanId']}-01"
        assert span["spanId"] == stage["spanId"]
        assert span["parentSpanId"] == root["spanId"]
        dispatch = named[f"dispatch {stage['stageHandlerName']}"]
        assert dispatch["parentSpanId"] == span["spanId"]
        assert int(root["startTimeUnixNano"]) <= int(span["startTimeUnixNano"]) \
            <= int(dispatch["startTimeUnixNano"]) <= int(dispatch["endTimeUnixNano"]) \
            <= int(span["endTimeUnixNano"]) <= int(root["endTimeUnixNano"])
        assert [e["name"] for e in span["events"]] == ["delivered"]
    assert len({s["spanId"] for s in spans}) == len(spans)


@pytest.mark.parametrize("settings", [False], indirect=True)
async def test_without_the_variable_the_opentelemetry_integration_is_used(
        api: Api, collector: Collector) -> None:
    r = await api.internal.put("/api/observability/config", json={
        "kind": "opentelemetry", "config": {
            "enabled": True, "endpoint": collector.endpoint, "serviceName": "from-config",
            "headers": {"x-otlp-token": "tok-0123456789abcdef"}}})
    assert r.status_code == 200, r.text
    collector.answers = [503]  # the first attempt fails: the export is retried
    doc, _ = await run_two_stages(api)
    first, _ = await collector.spans()
    request, spans = await collector.spans()
    assert request.body == first.body
    assert request.headers["x-otlp-token"] == "tok-0123456789abcdef"
    resource = json.loads(request.body)["resourceSpans"][0]["resource"]["attributes"]
    assert resource[0]["value"] == {"stringValue": "from-config"}
    assert {s["traceId"] for s in spans} == {doc["traceId"]}
