"""Tenants never see each other's jobs (SPEC §4: a job token of another application is 404),
and a result that comes too late is told why (§3.5: 409 cancelled / superseded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import trio

from conftest import Api
from dbsnapshot import snapshot

HANDLER = "shared-handler"  # both tenants use the same handler name on purpose


@dataclass
class Tenant:
    application_id: int
    key: str

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


@pytest.fixture
async def tenant_b(api: Api) -> Tenant:
    r = await api.internal.post("/api/applications", json={"name": "tenant-b"})
    assert r.status_code == 201, r.text
    app_id = int(r.json()["id"])
    assert app_id != api.application_id
    return Tenant(app_id, await api.new_key(app_id))


def db(api: Api) -> str:
    return api.running.services.settings.sqlite_path


async def queued(api: Api) -> Any:
    """Wait until A's job is on its queue (dispatch is done, nothing moves in the background),
    woken by the publish; the deadline only guards against a hang."""
    broker = api.running.services.engine.broker
    with trio.fail_after(10):
        await broker.wait_ready(api.application_id, HANDLER)
    return broker


async def pull_as(api: Api, tenant: Tenant, **body: Any) -> httpx.Response:
    return await api.external.post("/jobs/pull", headers=tenant.headers(),
                                   json={"waitSeconds": 0, **body})


async def test_tenant_b_never_receives_tenant_a_jobs(api: Api, tenant_b: Tenant) -> None:
    a = await api.create([{"stageName": "a", "stageHandlerName": HANDLER}])
    broker = await queued(api)
    before = snapshot(db(api))
    r = await pull_as(api, tenant_b, handlerName=HANDLER)
    assert r.status_code == 204, r.text
    r = await pull_as(api, tenant_b, handlerName=HANDLER, maxJobs=10)
    assert r.status_code == 204, r.text
    assert snapshot(db(api)) == before
    assert broker.depth(api.application_id, HANDLER) == 1
    # A still gets its job, untouched by B's attempts.
    r = await api.pull(HANDLER)
    assert r.status_code == 200, r.text
    assert r.json()["payload"]["pipelineId"] == a["id"]
    assert r.json()["payload"]["appId"] == api.application_id


async def test_each_tenant_gets_its_own_job_on_the_same_handler(api: Api,
                                                                tenant_b: Tenant) -> None:
    a = await api.create([{"stageName": "a", "stageHandlerName": HANDLER}])
    r = await api.external.post("/pipelines", headers=tenant_b.headers(), json={
        "name": "b", "stages": [{"stageName": "b", "stageHandlerName": HANDLER}]})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["applicationId"] == tenant_b.application_id
    job_b = await pull_as(api, tenant_b, handlerName=HANDLER, waitSeconds=5)
    job_a = await api.pull(HANDLER, wait=5)
    assert job_b.status_code == job_a.status_code == 200, (job_b.text, job_a.text)
    assert job_b.json()["payload"]["pipelineId"] == b["id"]
    assert job_a.json()["payload"]["pipelineId"] == a["id"]
    assert job_a.json()["queue"] != job_b.json()["queue"]


async def test_tenant_b_cannot_ack_or_extend_tenant_a_token(api: Api, tenant_b: Tenant) -> None:
    a = await api.create([{"stageName": "a", "stageHandlerName": HANDLER}])
    job = (await api.pull(HANDLER, wait=5)).json()
    before = snapshot(db(api))
    for path, body in (("/jobs/ack", {"token": job["token"], "isSuccess": False,
                                      "errorMessage": "hijacked"}),
                       ("/jobs/ack", {"token": job["token"], "requeue": True}),
                       ("/jobs/extend", {"token": job["token"], "seconds": 600})):
        r = await api.external.post(path, headers=tenant_b.headers(), json=body)
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        assert "unknown job token" in r.text
    r = await api.external.post("/jobs/ack", headers=tenant_b.headers(),
                                json={"acks": [{"token": job["token"]}]})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["code"] == 404
    assert snapshot(db(api)) == before
    # The owner's token still works.
    assert (await api.ack(job["token"], result="mine")).status_code == 200
    done = await api.wait_status(a["id"], "Completed")
    assert done["stages"][0]["output"] == "mine"


async def test_tenant_b_worker_session_cannot_ack_tenant_a_token(api: Api,
                                                                 tenant_b: Tenant) -> None:
    await api.create([{"stageName": "a", "stageHandlerName": HANDLER}])
    job = (await api.pull(HANDLER, wait=5)).json()
    boot = (await api.external.post("/workers/bootstrap", headers=tenant_b.headers(),
                                    json={"workerName": "b-worker"})).json()
    before = snapshot(db(api))
    r = await api.external.post("/jobs/ack", json={"token": job["token"]},
                                headers={"X-Worker-Session": boot["workerSessionToken"]})
    assert r.status_code == 404, r.text
    assert snapshot(db(api)) == before


async def test_tenant_b_cannot_pull_tenant_a_queue_by_name(api: Api, tenant_b: Tenant) -> None:
    r = await api.external.post("/workers/bootstrap", headers=api.key(),
                                json={"workerName": "a-worker"})
    queue_a = r.json()["queues"]["stageNextPattern"].replace("{handler}", HANDLER)
    await api.create([{"stageName": "a", "stageHandlerName": HANDLER}])
    broker = await queued(api)
    before = snapshot(db(api))
    r = await pull_as(api, tenant_b, queue=queue_a)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert "unknown queue" in r.text
    for bogus in ("not-a-queue", queue_a.replace(".stage.", ".other."),
                  queue_a.rsplit(".", 1)[0] + "."):
        r = await pull_as(api, tenant_b, queue=bogus)
        assert r.status_code == 404, (bogus, r.text)
    assert snapshot(db(api)) == before
    assert broker.depth(api.application_id, HANDLER) == 1
    # A pulls its own queue by name.
    r = await api.pull("", queue=queue_a, handlerName=None, wait=5)
    assert r.status_code == 200, r.text
    assert r.json()["queue"] == queue_a


async def test_tenant_b_cannot_claim_tenant_a_worker_id(api: Api, tenant_b: Tenant) -> None:
    boot_a = (await api.external.post("/workers/bootstrap", headers=api.key(),
                                      json={"workerName": "a-worker"})).json()
    boot_b = (await api.external.post("/workers/bootstrap", headers=tenant_b.headers(),
                                      json={"workerName": "b-worker"})).json()
    before = snapshot(db(api))
    r = await pull_as(api, tenant_b, handlerName=HANDLER, workerId=boot_a["workerId"])
    assert r.status_code == 404, r.text
    assert "workerId" in r.text
    r = await api.external.post(
        "/workers/heartbeat", headers={"X-Worker-Session": boot_b["workerSessionToken"]},
        json={"workerId": boot_a["workerId"], "state": "draining"})
    assert r.status_code in (403, 404), r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert snapshot(db(api)) == before


# -- late results ------------------------------------------------------------------------------

async def test_ack_after_cancel_is_409_cancelled(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "c"},
                          {"stageName": "b", "stageHandlerName": "c"}])
    job = (await api.pull("c", wait=5)).json()
    r = await api.internal.post("/api/pipelines/cancel", json={"pipelineId": p["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "Cancelled"
    before = snapshot(db(api))
    for body in ({"token": job["token"], "isSuccess": True, "result": "late"},
                 {"token": job["token"]},
                 {"token": job["token"], "isSuccess": False, "errorMessage": "x"},
                 {"token": job["token"], "requeue": True}):
        r = await api.external.post("/jobs/ack", headers=api.key(), json=body)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("text/plain")
        assert "cancelled" in r.text.lower()
    r = await api.external.post("/jobs/extend", headers=api.key(), json={"token": job["token"]})
    assert r.status_code == 409, r.text
    assert "cancelled" in r.text.lower()
    assert snapshot(db(api)) == before
    doc = await api.pipeline(p["id"])
    assert doc["status"] == "Cancelled"
    assert [s["status"] for s in doc["stages"]] == ["Cancelled", "Cancelled"]
    assert (await api.pull("c")).status_code == 204  # nothing more is handed out


async def test_cancelled_pending_job_is_never_delivered(api: Api) -> None:
    """A job already on the queue when the pipeline is cancelled is dropped at delivery."""
    p = await api.create([{"stageName": "a", "stageHandlerName": "cp"}])
    broker = api.running.services.engine.broker
    with trio.fail_after(10):
        await broker.wait_ready(api.application_id, "cp")
    r = await api.internal.post("/api/pipelines/cancel", json={"pipelineId": p["id"]})
    assert r.status_code == 200, r.text
    assert (await api.pull("cp")).status_code == 204
    assert (await api.pipeline(p["id"]))["stages"][0]["status"] == "Cancelled"


async def test_operator_cannot_skip_a_running_stage(api: Api) -> None:
    """Skip needs the stage not yet delivered (§3.10); once a worker holds it: 409, nothing
    changes and the worker's result still counts."""
    p = await api.create([{"stageName": "a", "stageHandlerName": "sk"}])
    job = (await api.pull("sk", wait=5)).json()
    before = snapshot(db(api))
    r = await api.internal.post("/api/pipelines/skipStage",
                                json={"stageId": job["payload"]["stageId"]})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    assert snapshot(db(api)) == before
    assert (await api.ack(job["token"], result="ran")).status_code == 200
    assert (await api.wait_status(p["id"], "Completed"))["stages"][0]["output"] == "ran"


async def test_superseded_token_is_409(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "s"}])
    first = (await api.pull("s", wait=5)).json()
    r = await api.ack(first["token"], requeue=True)
    assert r.status_code == 200, r.text
    second = (await api.pull("s", wait=5)).json()
    assert second["payload"]["stageId"] == first["payload"]["stageId"]
    assert second["payload"]["attempt"] == first["payload"]["attempt"] + 1
    assert second["token"] != first["token"]
    before = snapshot(db(api))
    r = await api.ack(first["token"], result="stale")
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert "superseded" in r.text.lower()
    r = await api.external.post("/jobs/extend", headers=api.key(),
                                json={"token": first["token"]})
    assert r.status_code == 409, r.text
    r = await api.ack(first["token"], requeue=True)
    assert r.status_code == 409, r.text
    assert snapshot(db(api)) == before
    r = await api.ack(second["token"], result="fresh")
    assert r.status_code == 200, r.text
    done = await api.wait_status(p["id"], "Completed")
    assert done["stages"][0]["output"] == "fresh"


async def test_repeated_ack_of_the_same_token_is_idempotent(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "i"}])
    job = (await api.pull("i", wait=5)).json()
    assert (await api.ack(job["token"], result="once")).status_code == 200
    await api.wait_status(p["id"], "Completed")
    before = snapshot(db(api))
    r = await api.ack(job["token"], result="twice")
    assert r.status_code == 200, r.text
    assert snapshot(db(api)) == before
    assert (await api.pipeline(p["id"]))["stages"][0]["output"] == "once"
