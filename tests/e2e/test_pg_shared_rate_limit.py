"""Two engines on one PostgreSQL database share one rate limit (SPEC §6: "budgets are shared
by all engine replicas"). Two real `pipelogiq serve` processes, each with its own engine and
in-process broker, dispatch their own pipelines against one policy: 4 per second, burst 4.

Sixteen stages through one shared bucket need at least (16 − 4) / 4 = 3 s; two private buckets
would let them all through in 1 s. Every stage completes on its first attempt.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from serverproc import ServerProcess

pytestmark = pytest.mark.slow

PER_SERVER = 8
RULE = {"limit": 4, "windowSeconds": 1, "keyBy": "global", "burst": 4}


async def drain(external: str, key: str, count: int, times: list[float]) -> None:
    async with httpx.AsyncClient(base_url=external, headers={"X-API-Key": key},
                                 timeout=30) as c:
        for _ in range(count):
            r = await c.post("/jobs/pull", json={"handlerName": "shared", "waitSeconds": 10})
            assert r.status_code == 200, r.text
            times.append(trio.current_time())
            a = await c.post("/jobs/ack", json={"token": r.json()["token"], "isSuccess": True})
            assert a.status_code == 200, a.text


async def test_two_engines_on_postgres_share_one_rate_limit(
        tmp_path: Path, pg_url: str, spawned: list[ServerProcess]) -> None:
    servers = [ServerProcess(tmp_path / f"unused{i}.db", DATABASE_URL=pg_url) for i in range(2)]
    spawned.extend(servers)
    async with trio.open_nursery() as nursery:
        for server in servers:  # one after the other: the first one migrates
            await server.start(nursery)
        async with httpx.AsyncClient(base_url=servers[0].internal_url) as internal:
            r = await internal.post("/api/auth/login",
                                    json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            assert r.status_code == 200, r.text
            app_id = (await internal.get("/api/applications")).json()[0]["id"]
            r = await internal.post("/api/apikeys", json={"applicationId": app_id, "name": "k"})
            key = r.json()["key"]
            r = await internal.post("/api/policies", json={
                "applicationId": app_id, "name": "shared budget", "type": "rate_limit",
                "rule": RULE, "targeting": {"handlers": ["shared"]}})
            assert r.status_code == 201, r.text
            policy_id = r.json()["id"]

            start = trio.current_time()
            pids: list[int] = []

            async def create(server: ServerProcess) -> None:
                async with httpx.AsyncClient(base_url=server.external_url,
                                             headers={"X-API-Key": key}) as c:
                    for _ in range(PER_SERVER):
                        r = await c.post("/pipelines", json={"name": "p", "stages": [
                            {"stageName": "s", "stageHandlerName": "shared"}]})
                        assert r.status_code == 200, r.text
                        pids.append(r.json()["id"])

            times: list[list[float]] = [[], []]
            async with trio.open_nursery() as work:
                for i, server in enumerate(servers):
                    work.start_soon(create, server)
                    work.start_soon(drain, server.external_url, key, PER_SERVER, times[i])

            # both engines dispatched, and together no faster than the one shared budget
            assert all(len(t) == PER_SERVER for t in times)
            total = 2 * PER_SERVER
            needed = (total - RULE["burst"]) / RULE["limit"]
            assert needed <= max(times[0] + times[1]) - start < needed + 6.0
            for pid in pids:
                doc = (await internal.get(f"/api/pipelines/{pid}")).json()
                assert doc["status"] == "Completed" and doc["stages"][0]["attempt"] == 1, doc
            insights = (await internal.get(f"/api/policies/{policy_id}/insights")).json()
            assert insights["total"] >= total - RULE["burst"] - 1  # held stages, both engines
        for server in servers:
            assert await server.stop() == 0, "\n".join(server.log[-20:])
        nursery.cancel_scope.cancel()
