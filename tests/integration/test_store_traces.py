"""What the tracer reads (`Store.pipeline_traces`), on SQLite and on PostgreSQL (a fresh
database on the machine's server): a finished pipeline's stages with their dispatch and
delivery times, a retried stage's deliveries, the creator's span from a `traceparent` context
item; times come from a clock the test moves."""

from __future__ import annotations

from pipelogiq.domain import Job, JobResult, LogLine, NewPipeline, NewStage, StageOptions
from pipelogiq.observability.tracing import Delivery, pipeline_spans
from pipelogiq.store.sqlite import SqlStore
from storekit import T0, ManualClock

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CREATOR = "a1b2c3d4e5f60718"








async def test_a_finished_pipeline_as_the_tracer_reads_it(store: SqlStore,
                                                          clock: ManualClock) -> None:
    app = int((await store.create_application("app", None, None))["id"])
    pid, _ = await store.create_pipeline(NewPipeline(
        app, "orders",
        (NewStage("fetch", "h1", options=StageOptions(max_retries=1, retry_interval=0)),
         NewStage("store", "h2")),
        context=(("traceparent", f"00-{TRACE}-{CREATOR}-01", "string"),), trace_id=TRACE))
    _, states = await store.stage_states(pid)
    first, second = (s.id for s in states)

    async def run(stage_id: int, ok: bool, worker: str) -> None:
        job = await store.dispatch(stage_id, "ready")
        assert isinstance(job, Job)
        clock.t += 1
        (d,) = await store.lease([job], "q", worker, 30)
        clock.t += 2
        # A worker's log line with a time from its own (wrong) clock changes nothing.
        out = await store.ack(app, d.token, JobResult(
            is_success=ok, logs=(LogLine("Information", "working", T0 - 999),)))
        assert out.kind == "applied"
        clock.t += 1

    await run(first, False, "w-1")  # fails, retried at once
    await run(first, True, "w-2")
    await run(second, True, "w-1")
    assert await store.finish_pipeline(pid, "Completed", "done")

    assert await store.pipeline_traces([999]) == []
    (t,) = await store.pipeline_traces([pid, 999])
    assert (t.id, t.application_id, t.name, t.trace_id, t.status) == (
        pid, app, "orders", TRACE, "Completed")
    assert (t.created_at, t.finished_at, t.parent_span_id) == (T0, T0 + 12, CREATOR)
    fetch, store_stage = t.stages
    assert (fetch.name, fetch.handler, fetch.status, fetch.attempt) == ("fetch", "h1",
                                                                       "Completed", 2)
    assert fetch.first_seen == T0 and fetch.ready_at == T0 + 4
    assert (fetch.started_at, fetch.attempt_started_at, fetch.finished_at) == (
        T0 + 1, T0 + 5, T0 + 7)
    assert fetch.deliveries == (Delivery(1, T0 + 1, "w-1"), Delivery(2, T0 + 5, "w-2"))
    assert (store_stage.first_seen, store_stage.ready_at, store_stage.finished_at) == (
        T0 + 8, T0 + 8, T0 + 11)
    doc = await store.pipeline_json(pid)
    assert doc is not None
    assert [s.span_id for s in t.stages] == [s["spanId"] for s in doc["stages"]]

    spans = {s.name: s for s in pipeline_spans(t)}
    assert spans["pipeline orders"].parent_span_id == CREATOR
    assert spans["stage fetch"].start == T0 and spans["dispatch h1"].start == T0 + 4
