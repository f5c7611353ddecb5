"""The store functions of AMQP-direct workers (SPEC §3.4, §3.5), on SQLite and PostgreSQL:
`Running` only from `Pending`, results only while `Pending` or `Running`, and the StageNext
payload a job message carries."""

from __future__ import annotations

from pipelogiq.domain import ContextItem, Job, JobResult, NewPipeline, NewStage, StageOptions
from pipelogiq.store.sqlite import SqlStore
from storekit import T0, ManualClock


async def pipeline(store: SqlStore, *options: StageOptions) -> tuple[int, list[int]]:
    app = int((await store.create_application("app", None, None))["id"])
    pid, _ = await store.create_pipeline(NewPipeline(
        app, "p", tuple(NewStage(f"s{i}", "h", input=f"in{i}", options=o)
                        for i, o in enumerate(options)),
        context=(("k", "v", "string"),)))
    _, states = await store.stage_states(pid)
    return pid, [s.id for s in states]


async def statuses(store: SqlStore, pid: int) -> list[str]:
    _, states = await store.stage_states(pid)
    return [str(s.status) for s in states]


async def test_running_then_result_completes_and_late_running_changes_nothing(
        store: SqlStore, clock: ManualClock) -> None:
    pid, (first, second) = await pipeline(store, StageOptions(time_out=30), StageOptions())
    assert (await store.mark_running(first, None)).kind == "conflict"  # NotStarted
    job = await store.dispatch(first, "ready")
    assert isinstance(job, Job)
    (with_payload,) = await store.job_payloads([job])
    assert with_payload == job and with_payload.payload is not None
    assert with_payload.payload["stageId"] == first and with_payload.payload["input"] == "in0"
    assert with_payload.payload["contextItems"] == [
        {"key": "k", "value": "v", "valueType": "string"}]

    clock.t += 1
    running = await store.mark_running(first, None)
    assert (running.kind, running.status, running.pipeline_id) == ("applied", "Running", pid)
    assert (await store.mark_running(first, None)).kind == "duplicate"
    # its time limit stands in for the lease: the watchdog's next deadline is the timeOut
    assert await store.next_deadline(300) == T0 + 31

    clock.t += 1
    result = JobResult(output="out", context=(ContextItem("a", "b"),))
    done = await store.apply_amqp_result(first, result, None)
    assert (done.kind, done.status, done.stage_id) == ("applied", "Completed", first)
    assert await statuses(store, pid) == ["Completed", "NotStarted"]
    late = await store.mark_running(first, None)
    assert late.kind == "conflict" and "Completed" in late.reason
    again = await store.apply_amqp_result(first, JobResult(output="twice"), None)
    assert again.kind == "conflict"
    doc = await store.pipeline_json(pid)
    assert doc is not None and doc["stages"][0]["output"] == "out"
    assert {"key": "a", "value": "b", "valueType": "string"} in doc["pipelineContextItems"]
    assert (await store.mark_running(second + 1000, None)).kind == "not_found"
    assert (await store.apply_amqp_result(second + 1000, result, None)).kind == "not_found"


async def test_result_of_a_pending_stage_and_of_an_old_attempt(
        store: SqlStore, clock: ManualClock) -> None:
    pid, (first,) = await pipeline(store, StageOptions(max_retries=1, retry_interval=5))
    job = await store.dispatch(first, "ready")
    assert isinstance(job, Job)
    failed = await store.apply_amqp_result(
        first, JobResult(is_success=False, output="boom"), None)  # no Running seen: allowed
    assert (failed.kind, failed.status) == ("applied", "RetryScheduled")
    assert (await store.apply_amqp_result(first, JobResult(), 1)).kind == "conflict"
    clock.t += 10
    assert isinstance(await store.dispatch(first, "retry due"), Job)
    stale = await store.apply_amqp_result(first, JobResult(), 1)  # attempt 1 is over
    assert stale.kind == "conflict" and "attempt 1" in stale.reason
    ok = await store.apply_amqp_result(first, JobResult(output="x"), 2)
    assert (ok.kind, ok.status) == ("applied", "Completed")
    doc = await store.pipeline_json(pid)
    assert doc is not None and doc["stages"][0]["startedAt"]
