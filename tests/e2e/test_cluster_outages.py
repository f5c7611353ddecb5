"""Distributed mode through outages: RabbitMQ, then PostgreSQL, stopped and started again in
the middle of a run of 2 API and 2 engine processes. The services are scratch instances this
test starts on free ports (DESIGN.md item 12) — the shared ones are never touched. While one is
down `/readyz` says so; afterwards every pipeline completes and no stage completes twice."""

from __future__ import annotations

import pytest
import trio

import pgdb
import rabbit
import scratch
from clusterkit import (
    check_completed_once,
    create,
    local_cluster,
    setup,
    wait_completed,
    wait_ready,
    worker,
)
from pipelogiq.devcluster import LocalCluster
from pipelogiq.sdk import AsyncWorker

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (pgdb.available() and rabbit.available()),
                       reason="needs the machine's PostgreSQL and RabbitMQ"),
]

N = 40


async def start_run(cluster: LocalCluster, nursery: trio.Nursery
                    ) -> tuple[set[int], list[AsyncWorker], trio.Event, str]:
    """Workers on both API replicas and N pipelines; the event is set a third of the way."""
    client, key = await setup(cluster)
    await client.aclose()
    hops, a_third = 0, trio.Event()

    def hop() -> None:
        nonlocal hops
        hops += 1
        if hops >= N:
            a_third.set()

    workers = [worker(cluster.apis[i % 2].external_url, key, f"w{i}", hop, ack_attempts=8)
               for i in range(4)]
    for w in workers:
        await nursery.start(w.run)
    return await create(cluster.apis[0].external_url, key, N), workers, a_third, key


@pytest.mark.skipif(not scratch.rabbit_available(), reason="needs rabbitmq-server, as root")
async def test_rabbitmq_restarted_mid_run(nursery: trio.Nursery) -> None:
    broker = scratch.ScratchRabbit()
    await broker.start()
    try:
        async with local_cluster(nursery, rabbitmq_url=broker.url,
                                 SAFETY_SWEEP_INTERVAL="1s") as cluster:
            pids, workers, a_third, _ = await start_run(cluster, nursery)
            client, _ = await setup(cluster)
            await a_third.wait()
            await broker.stop()
            r = await client.get("/api/readyz")
            assert r.status_code == 503 and r.json()["checks"]["broker"].startswith("failed")
            await broker.start()
            with trio.fail_after(90):
                await wait_completed(cluster, client, pids)
            await wait_ready(client)
            for w in workers:
                w.stop("test over")
            attempts = check_completed_once(cluster, N)
            assert all(a == ["1", "0"] for a in attempts), attempts  # nothing was lost
            await client.aclose()
    finally:
        await broker.stop()
        broker.remove()


@pytest.mark.skipif(not scratch.postgres_available(), reason="needs initdb, as root")
async def test_postgres_restarted_mid_run(nursery: trio.Nursery) -> None:
    pg = scratch.ScratchPostgres()
    await pg.start()
    try:
        url = pg.create_database("pipelogiq")
        async with local_cluster(nursery, database_url=url, JOB_LEASE="3s",
                                 SAFETY_SWEEP_INTERVAL="1s") as cluster:
            pids, workers, a_third, _ = await start_run(cluster, nursery)
            client, _ = await setup(cluster)
            await a_third.wait()
            await pg.stop()
            r = await client.get("/api/readyz")
            assert r.status_code == 503 and r.json()["checks"]["store"].startswith("failed")
            await pg.start()
            with trio.fail_after(90):
                await wait_completed(cluster, client, pids)
            await wait_ready(client)
            for w in workers:
                w.stop("test over")
            # an ack that could not reach the database was retried by the worker or, when it
            # gave up, its lease ran out and the job was delivered again: completed once
            check_completed_once(cluster, N)
            await client.aclose()
    finally:
        await pg.stop()
        pg.remove()
