"""Batch pulls and acks, and the SDK's re-bootstrap when its session stops being valid."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import trio

from conftest import Api
from pipelogiq.sdk import AsyncWorker, Job
from pipelogiq.store import sqlite_engine


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


async def _three_jobs(api: Api, handler: str) -> list[dict[str, Any]]:
    for _ in range(3):
        await api.create([{"stageName": "s", "stageHandlerName": handler}])
    jobs: list[dict[str, Any]] = []
    while len(jobs) < 3:
        jobs += (await api.pull(handler, wait=5, maxJobs=10)).json()["jobs"]
    return sorted(jobs, key=lambda j: j["payload"]["pipelineId"])


async def _stage(api: Api, job: dict[str, Any]) -> dict[str, Any]:
    return dict((await api.pipeline(job["payload"]["pipelineId"]))["stages"][0])


async def test_a_batch_mixing_hand_backs_and_results_is_applied_in_order(api: Api) -> None:
    jobs = await _three_jobs(api, "mixed")
    r = await api.external.post("/jobs/ack", headers=api.key(), json={"acks": [
        {"token": jobs[0]["token"], "result": "a"},
        {"token": jobs[1]["token"], "requeue": True},
        {"token": jobs[2]["token"], "result": "c"},
        {"token": jobs[1]["token"], "result": "too late"},  # handed back just before
    ]})
    assert [x["code"] for x in r.json()["results"]] == [200, 200, 200, 409]
    assert [(await _stage(api, j))["status"] for j in jobs] == [
        "Completed", "Pending", "Completed"]
    again = (await api.pull("mixed", wait=5)).json()
    assert again["payload"]["stageId"] == jobs[1]["payload"]["stageId"]


async def test_a_batch_that_fails_midway_applies_none_of_it(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = await _three_jobs(api, "midway")
    doomed = jobs[1]["payload"]["stageId"]
    real = sqlite_engine.apply_result

    def failing(conn: Any, stage: Any, *args: Any) -> Any:
        if stage["id"] == doomed:
            raise RuntimeError("disk gone")
        return real(conn, stage, *args)

    monkeypatch.setattr(sqlite_engine, "apply_result", failing)
    body = {"acks": [{"token": j["token"], "result": "r"} for j in jobs]}
    r = await api.external.post("/jobs/ack", headers=api.key(), json=body)
    assert r.status_code == 500
    # One transaction: the results before the failure were rolled back with it.
    assert [(await _stage(api, j))["status"] for j in jobs] == ["Running"] * 3
    monkeypatch.undo()
    r = await api.external.post("/jobs/ack", headers=api.key(), json=body)
    assert [x["code"] for x in r.json()["results"]] == [200, 200, 200]
    for j in jobs:
        await api.wait_status(j["payload"]["pipelineId"], "Completed")


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
