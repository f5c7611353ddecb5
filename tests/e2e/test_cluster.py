"""Distributed mode end to end: 2 `pipelogiq api` and 2 `pipelogiq engine` processes on a
fresh PostgreSQL database and RabbitMQ prefix. SDK workers spread over both API replicas drain
200 pipelines of 3 stages; each API replica's `/ws` sees every pipeline complete (changes made
on the other replica and by the engines arrive through `StageUpdated.fanout`); afterwards the
database shows every stage dispatched, delivered and completed exactly once.

Faults: an engine SIGKILLed mid-run, and an API replica SIGKILLed while its workers hold jobs,
lose nothing and complete nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

import pgdb
import rabbit
from clusterkit import (
    HANDLERS,
    check_completed_once,
    check_database,
    create,
    live,
    local_cluster,
    login,
    metric,
    setup,
    watch,
    worker,
)
from pipelogiq.devcluster import LocalCluster
from pipelogiq.sdk import AsyncWorker, Job, Result

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (pgdb.available() and rabbit.available()),
                       reason="needs the machine's PostgreSQL and RabbitMQ"),
]

PIPELINES = 200


@pytest.fixture
async def cluster(nursery: trio.Nursery) -> AsyncIterator[LocalCluster]:
    async with local_cluster(nursery) as cluster:
        yield cluster


async def test_two_apis_two_engines_drain_200_pipelines(
        cluster: LocalCluster, nursery: trio.Nursery) -> None:
    internal = [await login(api.internal_url, cluster) for api in cluster.apis]
    app_id = (await internal[0].get("/api/applications")).json()[0]["id"]
    r = await internal[0].post("/api/apikeys", json={"applicationId": app_id, "name": "e2e"})
    key = r.json()["key"]
    assert (await internal[1].get("/api/readyz")).json()["checks"] == {
        "store": "ok", "broker": "ok"}

    workers = []
    for i in range(4):  # two per API replica
        worker = AsyncWorker(cluster.apis[i % 2].external_url, key, f"w{i}", concurrency=4,
                             wait_seconds=5, backoff_base=0.01)
        for handler in HANDLERS:
            @worker.handler(handler)
            async def run(job: Job, handler: str = handler) -> Result:
                return Result(output=f"{handler}:{job.input or job.context['first']}",
                              context={"first": job.input} if job.input else None)
        workers.append(worker)
        await nursery.start(worker.run)

    async with AsyncExitStack() as stack:
        sockets = []
        for api, client in zip(cluster.apis, internal, strict=True):
            ws_url = api.internal_url.replace("http://", "ws://", 1) + "/ws"
            cookie = [("Cookie", f"authKey={client.cookies['authKey']}"),
                      ("Origin", api.internal_url)]
            sockets.append(await stack.enter_async_context(
                open_websocket_url(ws_url, extra_headers=cookie)))
        elapsed = await drain(cluster, key, sockets)
    for worker in workers:
        worker.stop("test over")
    print(f"\n{PIPELINES * len(HANDLERS)} stage hops in {elapsed:.1f}s:"
          f" {PIPELINES * len(HANDLERS) / elapsed:.0f} hops/s (2 API + 2 engine replicas)")
    await check_database(cluster, PIPELINES)
    assert sum(w.jobs_processed for w in workers) == PIPELINES * len(HANDLERS)
    assert all(w.jobs_processed for w in workers)  # every worker, on both replicas, took some

    # both engines dispatched: wake-ups are spread over the engines' shared queue
    async with httpx.AsyncClient(timeout=10) as c:
        published = [metric((await c.get(f"{e.metrics_url}/metrics")).text,
                            "stage_published_total") for e in cluster.engines]
    assert all(published) and sum(published) >= PIPELINES * len(HANDLERS), published
    for client in internal:
        await client.aclose()


async def drain(cluster: LocalCluster, key: str, sockets: list[WebSocketConnection]) -> float:
    """Create the pipelines (alternating replicas) and wait until both sockets have seen
    every one complete; returns the seconds that took."""
    start = trio.current_time()
    pids: set[int] = set()
    async with httpx.AsyncClient(timeout=30) as ext:
        async def create(i: int) -> None:
            api = cluster.apis[i % 2]
            r = await ext.post(f"{api.external_url}/pipelines", headers={"X-API-Key": key},
                               json={"name": f"p{i}", "stages": [
                                   {"stageName": h, "stageHandlerName": h,
                                    **({"input": f"in{i}"} if h == "fetch" else {})}
                                   for h in HANDLERS]})
            assert r.status_code == 200, r.text
            pids.add(r.json()["id"])

        async with trio.open_nursery() as creating:
            for i in range(PIPELINES):
                creating.start_soon(create, i)
    assert len(pids) == PIPELINES

    seen: list[dict[int, str]] = [{}, {}]
    done = [trio.Event(), trio.Event()]
    with trio.fail_after(60):  # a hang guard: the waits are on /ws frames
        async with trio.open_nursery() as watching:
            for ws, d, s in zip(sockets, done, seen, strict=True):
                watching.start_soon(watch, ws, pids, d, s)
    return trio.current_time() - start


# -- faults ---------------------------------------------------------------------------------

async def test_an_engine_killed_mid_run_loses_nothing(nursery: trio.Nursery) -> None:
    n = 60
    async with local_cluster(nursery, SAFETY_SWEEP_INTERVAL="1s") as cluster:
        client, key = await setup(cluster)
        hops, a_third = 0, trio.Event()

        def hop() -> None:
            nonlocal hops
            hops += 1
            if hops >= n:
                a_third.set()

        workers = [worker(cluster.apis[i % 2].external_url, key, f"w{i}", hop)
                   for i in range(4)]
        for w in workers:
            await nursery.start(w.run)
        async with live(cluster, client) as ws:
            pids = await create(cluster.apis[0].external_url, key, n)
            await a_third.wait()
            await cluster.kill(cluster.engines[0])  # mid-run: dispatches, wake-ups in flight
            with trio.fail_after(60):
                await watch(ws, pids, trio.Event(), {})
        for w in workers:
            w.stop("test over")
        await check_database(cluster, n)
        await client.aclose()


async def test_an_api_replica_killed_while_its_workers_hold_jobs(
        nursery: trio.Nursery) -> None:
    n = 30
    async with local_cluster(nursery, JOB_LEASE="2s", SAFETY_SWEEP_INTERVAL="1s") as cluster:
        doomed_api, api = cluster.apis
        client, key = await setup(cluster)
        held, holding = 0, trio.Event()
        doomed = AsyncWorker(doomed_api.external_url, key, "doomed", concurrency=4,
                             wait_seconds=5, backoff_base=0.01, extend_leases=False,
                             grace_period=0.1, ack_attempts=1)
        for handler in HANDLERS:
            @doomed.handler(handler)
            async def hold(job: Job) -> Result:
                nonlocal held
                held += 1
                if held >= 4:
                    holding.set()
                await trio.sleep_forever()
                raise AssertionError("unreachable")
        await nursery.start(doomed.run)
        async with live(cluster, client) as ws:
            pids = await create(api.external_url, key, n)
            await holding.wait()  # the doomed replica's workers hold 4 jobs, leased there
            survivors = [worker(api.external_url, key, f"w{i}") for i in range(2)]
            for w in survivors:
                await nursery.start(w.run)
            await cluster.kill(doomed_api)
            doomed.stop("its API replica died")  # it can neither ack nor hand anything back
            with trio.fail_after(60):
                await watch(ws, pids, trio.Event(), {})
        for w in survivors:
            w.stop("test over")
        # each stage completed once; the held ones after their leases ran out (a lost
        # attempt: redelivered, not a failure)
        attempts = check_completed_once(cluster, n)
        redelivered = [a for a in attempts if a != ["1", "0"]]
        assert len(redelivered) >= 4 and all(a == ["2", "1"] for a in redelivered), attempts
        await client.aclose()
