"""Helpers of the distributed-mode end-to-end tests: a local cluster of `pipelogiq api` and
`pipelogiq engine` processes (`pipelogiq.devcluster`), SDK workers, `/ws` watchers and checks
of the database afterwards."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from pipelogiq.devcluster import LocalCluster
from pipelogiq.sdk import AsyncWorker, Job, Result

HANDLERS = ("fetch", "transform", "notify")


@asynccontextmanager
async def local_cluster(nursery: trio.Nursery, *, rabbitmq_url: str | None = None,
                        database_url: str | None = None, **env: str
                        ) -> AsyncIterator[LocalCluster]:
    """2 API + 2 engine replicas; every replica not killed by the test must stop cleanly."""
    cluster = LocalCluster(apis=2, engines=2, env=env, database_url=database_url,
                           **({"rabbitmq_url": rabbitmq_url} if rabbitmq_url else {}))
    try:
        await cluster.start(nursery)
        yield cluster
    finally:
        with trio.CancelScope(shield=True):
            codes = await cluster.stop()
    assert all(code == 0 for name, code in codes.items() if name not in cluster.killed), codes


def sql(cluster: LocalCluster, query: str) -> list[list[str]]:
    out = subprocess.run(["psql", cluster.database_url, "-Atqc", query], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines()]


async def login(url: str, cluster: LocalCluster) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=30, headers={"Origin": url})
    r = await client.post("/api/auth/login", json={"email": cluster.admin_email,
                                                   "password": cluster.admin_password})
    assert r.status_code == 200, r.text
    return client


async def watch(ws: WebSocketConnection, pids: set[int], done: trio.Event,
                seen: dict[int, str]) -> None:
    """Read pipeline frames until every pipeline of `pids` has been seen Completed."""
    while not pids <= {pid for pid, status in seen.items() if status == "Completed"}:
        doc = json.loads(await ws.get_message())["pipeline"]
        seen[doc["id"]] = doc["status"]
    done.set()


def metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


async def check_database(cluster: LocalCluster, pipelines: int) -> None:
    """Every stage: one dispatch, one delivery, one completion, in attempt 1."""
    rows = sql(cluster, "SELECT p.status, s.status, s.attempt, s.redeliveries, s.output,"
                        " s.handler, (SELECT COUNT(*) FROM job_leases l WHERE l.stage_id = s.id),"
                        " (SELECT COUNT(*) FROM job_leases l WHERE l.stage_id = s.id"
                        "  AND l.state = 'acked')"
                        " FROM stages s JOIN pipelines p ON p.id = s.pipeline_id")
    assert len(rows) == pipelines * len(HANDLERS)
    bad = [r for r in rows if r[:4] != ["Completed", "Completed", "1", "0"] or r[6:] != ["1", "1"]]
    assert not bad, bad[:5]
    assert all(r[4].startswith(f"{r[5]}:in") for r in rows)
    logs = sql(cluster, "SELECT stage_id, SUM(CASE WHEN message LIKE 'Pending:%' THEN 1 END),"
                        " SUM(CASE WHEN message LIKE 'Running:%' THEN 1 END),"
                        " SUM(CASE WHEN message LIKE 'Completed:%' THEN 1 END)"
                        " FROM stage_logs WHERE stage_id IS NOT NULL GROUP BY stage_id")
    assert len(logs) == pipelines * len(HANDLERS)
    assert all(r[1:] == ["1", "1", "1"] for r in logs), [r for r in logs if r[1:] != ["1"] * 3]


async def setup(cluster: LocalCluster) -> tuple[httpx.AsyncClient, str]:
    """A logged-in client of the last API replica and an API key."""
    client = await login(cluster.apis[-1].internal_url, cluster)
    app_id = (await client.get("/api/applications")).json()[0]["id"]
    r = await client.post("/api/apikeys", json={"applicationId": app_id, "name": "faults"})
    return client, r.json()["key"]


@asynccontextmanager
async def live(cluster: LocalCluster, client: httpx.AsyncClient
               ) -> AsyncIterator[WebSocketConnection]:
    """The `/ws` of the replica `client` talks to."""
    url = str(client.base_url)
    cookie = [("Cookie", f"authKey={client.cookies['authKey']}"), ("Origin", url)]
    async with open_websocket_url(url.replace("http://", "ws://", 1) + "/ws",
                                  extra_headers=cookie) as ws:
        yield ws


async def create(url: str, key: str, n: int) -> set[int]:
    pids = set()
    async with httpx.AsyncClient(timeout=30) as ext:
        for i in range(n):
            r = await ext.post(f"{url}/pipelines", headers={"X-API-Key": key}, json={
                "name": f"f{i}", "stages": [{"stageName": h, "stageHandlerName": h,
                                             **({"input": f"in{i}"} if h == "fetch" else {})}
                                            for h in HANDLERS]})
            assert r.status_code == 200, r.text
            pids.add(r.json()["id"])
    return pids


def worker(url: str, key: str, name: str, on_job: Callable[[], None] = lambda: None,
           **kw: Any) -> AsyncWorker:
    w = AsyncWorker(url, key, name, concurrency=4, wait_seconds=5, backoff_base=0.01, **kw)
    for handler in HANDLERS:
        @w.handler(handler)
        async def run(job: Job, handler: str = handler) -> Result:
            on_job()
            return Result(output=f"{handler}:{job.input or job.context['first']}",
                          context={"first": job.input} if job.input else None)
    return w


def check_completed_once(cluster: LocalCluster, pipelines: int) -> list[list[str]]:
    """Every stage `Completed` exactly once (one acked lease, one `Completed` line), whatever
    was lost on the way; returns (attempt, redeliveries) of each stage."""
    rows = sql(cluster, "SELECT s.status, (SELECT COUNT(*) FROM job_leases l"
                        " WHERE l.stage_id = s.id AND l.state = 'acked'),"
                        " (SELECT COUNT(*) FROM stage_logs g WHERE g.stage_id = s.id"
                        "  AND g.message LIKE 'Completed:%'), s.attempt, s.redeliveries"
                        " FROM stages s")
    assert len(rows) == pipelines * len(HANDLERS)
    bad = [r for r in rows if r[:3] != ["Completed", "1", "1"]]
    assert not bad, bad[:5]
    return [r[3:] for r in rows]


async def completed_ids(client: httpx.AsyncClient) -> set[int]:
    out: set[int] = set()
    page = 1
    while True:
        r = await client.get("/api/pipelines", params={
            "statuses": "Completed", "pageSize": 200, "pageNumber": page})
        items = r.json()["items"]
        out |= {item["id"] for item in items}
        if len(items) < 200:
            return out
        page += 1


async def wait_completed(cluster: LocalCluster, client: httpx.AsyncClient,
                         pids: set[int]) -> None:
    """As a dashboard does: subscribe, load, follow the frames; when the replica drops its
    subscribers (it may have missed changes during an outage), do it all again."""
    while True:
        try:
            async with live(cluster, client) as ws:
                seen = dict.fromkeys(await completed_ids(client), "Completed")
                await watch(ws, pids, trio.Event(), seen)
                return
        except ConnectionClosed:
            continue


async def wait_ready(client: httpx.AsyncClient, bound: float = 60.0) -> None:
    """Until the replica's `/api/readyz` answers 200 (after an outage it reconnects with
    backoff; another process's readiness can only be asked for)."""
    with trio.fail_after(bound):
        while (await client.get("/api/readyz")).status_code != 200:  # noqa: ASYNC110
            await trio.sleep(0.2)
