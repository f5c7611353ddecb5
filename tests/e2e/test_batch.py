"""Batch pulls and acks, and the SDK's re-bootstrap when its session stops being valid."""

from __future__ import annotations

import sqlite3

import trio

from conftest import Api
from pipelogiq.sdk import AsyncWorker, Job


async def test_batch_pull_and_batch_ack_answer_per_item(api: Api) -> None:
    pids = [(await api.create([{"stageName": "s", "stageHandlerName": "batch"}]))["id"]
            for _ in range(3)]
    r = await api.pull("batch", wait=5, maxJobs=10)
    assert r.status_code == 200
    jobs = r.json()["jobs"]
    while len(jobs) < 3:  # dispatch is asynchronous: pull the rest as they come
        more = await api.pull("batch", wait=5, maxJobs=10)
        jobs += more.json()["jobs"]
    assert sorted(j["payload"]["pipelineId"] for j in jobs) == pids
    r = await api.external.post("/jobs/ack", headers=api.key(), json={"acks": [
        {"token": jobs[0]["token"], "result": "a"},
        {"token": jobs[1]["token"], "isSuccess": False, "result": "b", "retryable": False},
        {"token": "not-a-token"},
        {"token": jobs[0]["token"], "result": "again"},
    ]})
    assert r.status_code == 200
    codes = [(x["code"], x.get("duplicate", False)) for x in r.json()["results"]]
    assert codes == [(200, False), (200, False), (404, False), (200, True)]
    first = await api.wait_status(jobs[0]["payload"]["pipelineId"], "Completed")
    assert first["stages"][0]["output"] == "a"  # the duplicate changed nothing
    await api.wait_status(jobs[1]["payload"]["pipelineId"], "Failed")


async def test_sdk_re_bootstraps_when_its_session_is_refused(api: Api) -> None:
    worker = AsyncWorker(api.running.external_url, api.api_key, "phoenix", instance_id="ph-1",
                         wait_seconds=1, backoff_base=0.01)

    @worker.handler("rise")
    async def rise(job: Job) -> str:
        return "risen"

    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        first_id = worker.worker_id
        # The session ends behind the worker's back (as when WORKER_SESSION_TTL passes).
        db = api.running.services.settings.sqlite_path
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE workers SET session_expires_at = 0 WHERE id = ?", (first_id,))
        p = await api.create([{"stageName": "s", "stageHandlerName": "rise"}])
        done = await api.wait_status(p["id"], "Completed", "Failed")
        worker.stop()
    assert done["stages"][0]["output"] == "risen"
    assert worker.worker_id == first_id  # same instance → same worker id, new session
    with sqlite3.connect(db) as conn:
        started = conn.execute("SELECT COUNT(*) FROM worker_events WHERE worker_id = ?"
                               " AND event_type = 'started'", (first_id,)).fetchone()[0]
    assert started == 2
