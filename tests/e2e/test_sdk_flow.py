"""End to end with the project's SDK: real server, real HTTP, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from conftest import Api, make_settings
from pipelogiq.config import Settings
from pipelogiq.sdk import AsyncWorker, FatalError, Job, Result, RetryableError


@asynccontextmanager
async def running_worker(api: Api, setup: Callable[[AsyncWorker], None],
                         **options: Any) -> AsyncIterator[AsyncWorker]:
    worker = AsyncWorker(api.running.external_url, api.api_key, "test-worker",
                         wait_seconds=5, backoff_base=0.01, **options)
    setup(worker)
    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        yield worker
        worker.stop("test over")


async def test_three_stages_pass_context_and_logs(api: Api) -> None:
    seen: list[dict[str, str]] = []

    def setup(w: AsyncWorker) -> None:
        @w.handler("fetch")
        async def fetch(job: Job) -> Result:
            job.log("Information", "fetching")
            return Result(output="fetched", context={"order": job.input or ""})

        @w.handler("transform")
        def transform(job: Job) -> Result:  # sync handler: runs in a thread
            seen.append(dict(job.context))
            return Result(output=job.context["order"].upper(), context={"shape": "upper"})

        @w.handler("notify")
        async def notify(job: Job) -> str:
            seen.append(dict(job.context))
            return "sent"

    async with running_worker(api, setup):
        p = await api.create([
            {"stageName": "fetch", "stageHandlerName": "fetch", "input": "order-7"},
            {"stageName": "transform", "stageHandlerName": "transform"},
            {"stageName": "notify", "stageHandlerName": "notify"},
        ], pipelineContextItems=[{"key": "tenant", "value": "acme"}])
        done = await api.wait_status(p["id"], "Completed", "Failed")

    assert done["status"] == "Completed"
    assert [s["output"] for s in done["stages"]] == ["fetched", "ORDER-7", "sent"]
    assert seen == [{"tenant": "acme", "order": "order-7"},
                    {"tenant": "acme", "order": "order-7", "shape": "upper"}]
    ctx = {c["key"]: c["value"] for c in done["pipelineContextItems"]}
    assert ctx == {"tenant": "acme", "order": "order-7", "shape": "upper"}
    fetch_logs = [entry["message"] for entry in done["stages"][0]["logs"]]
    assert "fetching" in fetch_logs
    assert any(m.startswith("Completed:") for m in fetch_logs)


async def test_failure_then_retry_then_success(api: Api) -> None:
    calls: list[int] = []

    def setup(w: AsyncWorker) -> None:
        @w.handler("flaky")
        async def flaky(job: Job) -> str:
            calls.append(job.attempt)
            if len(calls) < 3:
                raise RetryableError(f"boom {len(calls)}")
            return "finally"

    async with running_worker(api, setup):
        p = await api.create([{"stageName": "f", "stageHandlerName": "flaky",
                               "options": {"maxRetries": 3, "retryInterval": 0.05}}])
        done = await api.wait_status(p["id"], "Completed", "Failed")

    stage = done["stages"][0]
    assert done["status"] == "Completed"
    assert calls == [1, 2, 3]
    assert stage["attempt"] == 3 and stage["output"] == "finally"
    statuses = [m["message"].split(":")[0] for m in stage["logs"]
                if m["message"].split(":")[0] in ("RetryScheduled", "Completed", "Failed")]
    assert statuses == ["RetryScheduled", "RetryScheduled", "Completed"]


async def test_terminal_failure_stops_the_pipeline(api: Api) -> None:
    ran: list[str] = []

    def setup(w: AsyncWorker) -> None:
        @w.handler("bad")
        async def bad(job: Job) -> None:
            ran.append("bad")
            raise FatalError("invalid order")

        @w.handler("after")
        async def after(job: Job) -> None:
            ran.append("after")

    async with running_worker(api, setup):
        p = await api.create([
            {"stageName": "bad", "stageHandlerName": "bad",
             "options": {"maxRetries": 5, "retryInterval": 0.01}},
            {"stageName": "after", "stageHandlerName": "after"},
        ])
        done = await api.wait_status(p["id"], "Failed", "Completed")

    assert done["status"] == "Failed"
    assert ran == ["bad"]  # not retried (retryable false), the next stage never ran
    assert [s["status"] for s in done["stages"]] == ["Failed", "NotStarted"]
    assert "invalid order" in done["stages"][0]["output"]


async def test_event_pipeline(api: Api) -> None:
    got: list[str | None] = []

    def setup(w: AsyncWorker) -> None:
        @w.handler("audit")
        async def audit(job: Job) -> None:
            got.append(job.input)

    async with running_worker(api, setup):
        p = await api.create([{"stageName": "e", "stageHandlerName": "audit", "isEvent": True,
                               "input": "user logged in"}], name="login-event")
        assert p["isEvent"] is True
        done = await api.wait_status(p["id"], "Completed", "Failed")
    assert done["status"] == "Completed" and got == ["user logged in"]


async def test_long_poll_waits_then_204_and_returns_when_a_job_arrives(api: Api) -> None:
    start = trio.current_time()
    r = await api.pull("idle", wait=0.3)
    assert r.status_code == 204
    assert trio.current_time() - start >= 0.3

    async with trio.open_nursery() as nursery:
        result: list[httpx.Response] = []

        async def waiting_pull() -> None:
            result.append(await api.pull("arrives", wait=25))

        nursery.start_soon(waiting_pull)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await api.create([{"stageName": "a", "stageHandlerName": "arrives"}])
    assert result[0].status_code == 200
    assert trio.current_time() - start < 5  # answered by the job, not by the 25 s wait


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, worker_heartbeat_interval=0.2, worker_offline_after=0.6)


async def test_worker_dying_mid_job_gets_the_job_delivered_again(api: Api) -> None:
    ext = api.external
    boot = await ext.post("/workers/bootstrap", headers=api.key(),
                          json={"workerName": "doomed", "instanceId": "doomed-1"})
    session = {"X-Worker-Session": boot.json()["workerSessionToken"]}
    p = await api.create([{"stageName": "s", "stageHandlerName": "work"}])
    r = await ext.post("/jobs/pull", headers=session, json={"handlerName": "work", "waitSeconds": 5})
    assert r.status_code == 200
    first_token = r.json()["token"]
    # The doomed worker now goes silent: no ack, no heartbeat.

    def setup(w: AsyncWorker) -> None:
        @w.handler("work")
        async def work(job: Job) -> str:
            return f"rescued on attempt {job.attempt}"

    async with running_worker(api, setup):
        done = await api.wait_status(p["id"], "Completed", "Failed")

    stage = done["stages"][0]
    assert stage["output"] == "rescued on attempt 2"
    assert any("worker went offline" in m["message"] for m in stage["logs"])
    late = await ext.post("/jobs/ack", headers=session, json={"token": first_token})
    assert late.status_code == 409
    workers = (await api.internal.get("/api/workers")).json()
    doomed = next(w for w in workers if w["name"] == "doomed")
    assert doomed["state"] == "offline"
