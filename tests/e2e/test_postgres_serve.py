"""The whole product on PostgreSQL: a real `pipelogiq serve` process with DATABASE_URL set to a
fresh database on the machine's server, the in-process broker, and an SDK worker that runs a
three-stage pipeline to completion. Readiness follows the database."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

import pgdb
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from pipelogiq.sdk import AsyncWorker, Job, Result
from serverproc import ServerProcess

pytestmark = pytest.mark.slow


async def test_serve_on_postgres_runs_a_pipeline_with_the_sdk(
        tmp_path: Path, pg_url: str, spawned: list[ServerProcess]) -> None:
    server = ServerProcess(tmp_path / "unused.db", DATABASE_URL=pg_url)
    spawned.append(server)
    async with trio.open_nursery() as nursery:
        await server.start(nursery)
        async with httpx.AsyncClient(base_url=server.internal_url) as internal, \
                httpx.AsyncClient(base_url=server.external_url) as external:
            ready = await internal.get("/api/readyz")
            assert ready.status_code == 200, ready.text
            r = await internal.post("/api/auth/login",
                                    json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            assert r.status_code == 200, r.text
            app_id = (await internal.get("/api/applications")).json()[0]["id"]
            r = await internal.post("/api/apikeys", json={"applicationId": app_id, "name": "pg"})
            assert r.status_code == 201, r.text
            key = r.json()["key"]

            worker = AsyncWorker(server.external_url, key, "pg-worker", wait_seconds=5,
                                 backoff_base=0.01)

            @worker.handler("fetch")
            async def fetch(job: Job) -> Result:
                return Result(output="fetched", context={"order": job.input or ""})

            @worker.handler("transform")
            async def transform(job: Job) -> Result:
                return Result(output=job.context["order"].upper())

            @worker.handler("notify")
            async def notify(job: Job) -> str:
                return "sent"

            await nursery.start(worker.run)
            ws_url = server.internal_url.replace("http://", "ws://", 1) + "/ws"
            cookie = [("Cookie", f"authKey={internal.cookies['authKey']}"),
                      ("Origin", server.internal_url)]
            async with open_websocket_url(ws_url, extra_headers=cookie) as ws:
                r = await external.post("/pipelines", headers={"X-API-Key": key}, json={
                    "name": "on-postgres",
                    "stages": [{"stageName": "fetch", "stageHandlerName": "fetch", "input": "o-7"},
                               {"stageName": "transform", "stageHandlerName": "transform"},
                               {"stageName": "notify", "stageHandlerName": "notify"}]})
                assert r.status_code == 200, r.text
                pid = r.json()["id"]
                with trio.fail_after(30):  # a hang guard: the wait is on frames
                    while True:
                        doc = json.loads(await ws.get_message())["pipeline"]
                        if doc["id"] == pid and doc["status"] in ("Completed", "Failed"):
                            break
            worker.stop("test over")
            assert doc["status"] == "Completed", doc
            assert [s["output"] for s in doc["stages"]] == ["fetched", "O-7", "sent"]

            pgdb.drop(pg_url)
            gone = await internal.get("/api/readyz")
            assert gone.status_code == 503, gone.text
            assert gone.json()["checks"]["store"].startswith("failed")
        assert await server.stop() == 0, "\n".join(server.log[-20:])
        nursery.cancel_scope.cancel()

