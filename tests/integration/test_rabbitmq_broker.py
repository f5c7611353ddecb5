"""The RabbitMQ broker against the machine's RabbitMQ (127.0.0.1:5672, guest/guest).

Each test uses its own RABBIT_NAME_PREFIX and deletes what it declared. Outages are made
without touching the shared server: by closing our own connection from the broker side
(`rabbitmqctl close_connection`, scoped to our connection's name) or by cutting a TCP proxy
the test owns.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiormq
import pytest
import trio
import trio.testing

from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.broker.amqp_messages import BadMessage, decode_job, decode_stage_result
from pipelogiq.broker.rabbit_topology import (
    BrokerUnavailable,
    RabbitConfig,
    TopologyMismatch,
    dlq_name,
)
from pipelogiq.broker.rabbitmq import RabbitBroker
from pipelogiq.domain import Job
from rabbit import HOST, URL, Proxy, rabbitmqctl

pytestmark = pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="no RabbitMQ here")


async def _delete_everything(prefix: str, queues: list[str]) -> None:
    # Raw aiormq on purpose: the cleanup must work whatever settings the test's broker had.
    conn = await aiormq.connect(URL)
    try:
        ch = await conn.channel()
        for queue in queues:
            await ch.queue_delete(queue)
        await ch.exchange_delete(f"{prefix}StageUpdated.fanout")
    finally:
        await conn.close()


@pytest.fixture
async def sidecar() -> AsyncIterator[Sidecar]:
    async with Sidecar() as sc:
        yield sc


@pytest.fixture
async def prefix(sidecar: Sidecar) -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    yield prefix
    with trio.CancelScope(shield=True):
        listing = await rabbitmqctl("list_queues", "name", "--no-table-headers")
        mine = [n for n in listing.split() if n.startswith(prefix)]
        await sidecar.run(_delete_everything, prefix, mine)


def config(prefix: str, **kw: Any) -> RabbitConfig:
    return RabbitConfig(url=kw.pop("url", URL), prefix=prefix,
                        connection_name=f"test {prefix}{kw.pop('role', '')}", **kw)


def make(sc: Sidecar, prefix: str, publish_wait: float = 10.0, **kw: Any) -> RabbitBroker:
    return RabbitBroker(sc, config(prefix, **kw), publish_wait=publish_wait,
                        backoff=(0.05, 0.5))


@asynccontextmanager
async def running(broker: RabbitBroker) -> AsyncIterator[RabbitBroker]:
    async with trio.open_nursery() as nursery:
        await nursery.start(broker.run)
        yield broker
        nursery.cancel_scope.cancel()


def jobs(n: int, app: int = 1, handler: str = "h", first: int = 1) -> list[Job]:
    return [Job(app, handler, first + i, 100 + i, 1) for i in range(n)]


async def queue_flags(prefix: str) -> dict[str, str]:
    rows = await rabbitmqctl("list_queues", "name", "durable", "arguments",
                             "--no-table-headers")
    return {row.split("\t")[0]: row for row in rows.splitlines() if row.startswith(prefix)}


async def test_batch_publish_with_confirms_comes_back_in_order(
        sidecar: Sidecar, prefix: str) -> None:
    async with running(make(sidecar, prefix)) as broker:
        assert broker.ready
        await broker.ping()
        batch = jobs(300)
        async with trio.open_nursery() as nursery:  # concurrent callers share crossings
            nursery.start_soon(broker.publish, batch[:100])
            nursery.start_soon(broker.publish, jobs(50, handler="other"))
        await broker.publish(batch[100:])
        queue = broker.job_queue(1, "h")
        info = await broker.queue_info(queue)
        assert info is not None and info.messages == 300
        got = []
        async with broker.consume(queue, prefetch=50) as deliveries:
            async for delivery in deliveries:
                assert delivery.persistent and not delivery.redelivered
                got.append(decode_job(delivery.body))
                delivery.ack()
                if len(got) == 300:
                    break
        assert got == batch
        flags = await queue_flags(prefix)
        assert set(flags) == {queue, broker.job_queue(1, "other"),
                              f"{prefix}StageResult", f"{prefix}StageSetStatus"}
        assert all("\ttrue\t" in row for row in flags.values()), flags  # durable, all of them
        assert await broker.queue_info(f"{prefix}nope") is None


async def test_stopping_a_consumer_requeues_what_it_did_not_ack(
        sidecar: Sidecar, prefix: str) -> None:
    async with running(make(sidecar, prefix)) as broker:
        queue = broker.job_queue(1, "h")
        await broker.publish(jobs(5))
        async with broker.consume(queue, prefetch=10) as deliveries:
            first = [await deliveries.receive() for _ in range(3)]
            first[0].ack()
        async with broker.consume(queue, prefetch=10) as deliveries:
            again = [await deliveries.receive() for _ in range(4)]
            for d in again[1:]:
                d.ack()
            again[0].nack(requeue=True)
            last = await deliveries.receive()
            assert last.body == again[0].body and last.redelivered
            last.ack()
        ids = [decode_job(d.body).stage_id for d in again]
        assert sorted(ids) == [2, 3, 4, 5]
        assert [d.redelivered for d in again if decode_job(d.body).stage_id in (2, 3)] == [
            True, True]
        info = await broker.queue_info(queue)
        assert info is not None and info.messages == 0


async def test_consumer_and_publisher_survive_their_queue_being_deleted(
        sidecar: Sidecar, prefix: str) -> None:
    async def delete_behind_our_back(queue: str) -> None:
        conn = await aiormq.connect(URL)
        await (await conn.channel()).queue_delete(queue)
        await conn.close()

    async with running(make(sidecar, prefix)) as broker:
        queue = broker.job_queue(1, "h")
        async with broker.consume(queue) as deliveries:
            await broker.publish(jobs(1))
            (await deliveries.receive()).ack()
            await sidecar.run(delete_behind_our_back, queue)
            # the publisher's declared-queue cache is stale: its message comes back, it
            # declares the queue again and retries; the consumer, cancelled by the broker,
            # subscribes again
            await broker.publish(jobs(1, first=2))
            delivery = await deliveries.receive()
            assert decode_job(delivery.body).stage_id == 2
            delivery.ack()


async def test_prefetch_bounds_what_a_consumer_holds(sidecar: Sidecar, prefix: str) -> None:
    async with running(make(sidecar, prefix)) as broker:
        queue = broker.job_queue(1, "h")
        await broker.publish(jobs(10))
        async with broker.consume(queue, prefetch=3) as deliveries:
            held = [await deliveries.receive() for _ in range(3)]
            # three unacked on the channel: the broker keeps the other seven ready
            info = await broker.queue_info(queue)
            assert info is not None and (info.messages, info.consumers) == (7, 1)
            assert deliveries.statistics().current_buffer_used == 0
            held[0].ack()
            fourth = await deliveries.receive()
            assert decode_job(fourth.body).stage_id == 4
            info = await broker.queue_info(queue)
            assert info is not None and info.messages == 6


async def test_fanout_reaches_every_subscriber_of_every_process(
        sidecar: Sidecar, prefix: str) -> None:
    async with running(make(sidecar, prefix, role="a")) as a, \
            running(make(sidecar, prefix, role="b")) as b:
        async with a.updates() as first, a.updates() as second, b.updates() as third:
            await a.publish_update(b'{"id": 1}')
            await b.publish_update(b'{"id": 2}')
            for stream in (first, second, third):
                assert [await stream.receive(), await stream.receive()] == [
                    b'{"id": 1}', b'{"id": 2}']
        await a.publish_update(b"nobody listens")  # no subscriber: confirmed, not an error


async def test_topology_mismatch_is_one_clear_error(sidecar: Sidecar, prefix: str) -> None:
    async with running(make(sidecar, prefix)) as broker:
        # A broker with dead-lettering on meets queues declared without it: run() ends at once
        # with the error, instead of reconnecting forever.
        async with trio.open_nursery() as nursery:
            with trio.fail_after(10), pytest.raises(TopologyMismatch) as info:
                await nursery.start(make(sidecar, prefix, dlq_enabled=True, role="x").run)
        assert (info.value.name, info.value.setting) == (f"{prefix}StageResult",
                                                         "x-dead-letter-exchange")
        assert "RABBIT_DLQ_ENABLED" in str(info.value)

        # Someone else declared a handler queue non-durable: that publish fails clearly, and
        # the broker keeps working for other queues.
        taken = broker.job_queue(1, "taken")

        async def declare_transient() -> None:
            conn = await aiormq.connect(URL)
            ch = await conn.channel()
            await ch.queue_declare(taken, durable=False)
            await conn.close()

        await sidecar.run(declare_transient)
        with pytest.raises(TopologyMismatch) as mismatch:
            await broker.publish(jobs(1, handler="taken"))
        assert (mismatch.value.name, mismatch.value.setting) == (taken, "durable")
        with pytest.raises(TopologyMismatch, match="'durable'"):
            async with broker.consume(taken):
                pass  # pragma: no cover
        await broker.publish(jobs(1, handler="fine"))
        await broker.ping()


async def test_rejected_message_lands_in_its_dlq(sidecar: Sidecar, prefix: str) -> None:
    async with running(make(sidecar, prefix, dlq_enabled=True)) as broker:
        results = broker.config.stage_result
        good = json.dumps({"StageId": 8, "IsSuccess": True, "Result": "ok"}).encode()
        await broker.publish_to(results, [b"{garbage", good])
        async with broker.consume(results) as deliveries:
            applied = []
            for _ in range(2):
                delivery = await deliveries.receive()
                try:
                    applied.append(decode_stage_result(delivery.body, 0.0).stage_id)
                except BadMessage:
                    delivery.reject()  # never requeued: dead-lettered
                else:
                    delivery.ack()
        assert applied == [8]
        async with broker.consume(dlq_name(results)) as dead:
            delivery = await dead.receive()
            assert delivery.body == b"{garbage" and delivery.persistent
            assert delivery.headers["x-death"][0]["queue"] == results
            delivery.ack()
        # job queues dead-letter the same way
        queue = broker.job_queue(2, "h")
        await broker.publish(jobs(1, app=2))
        async with broker.consume(queue) as deliveries:
            (await deliveries.receive()).reject()
        async with broker.consume(dlq_name(queue)) as dead:
            assert decode_job((await dead.receive()).body).application_id == 2
        flags = await queue_flags(prefix)
        assert "x-dead-letter-routing-key" in flags[queue]
        assert "x-dead-letter" not in flags[dlq_name(queue)]


async def _connection_pid(name: str) -> str:
    rows = await rabbitmqctl("list_connections", "pid", "client_properties",
                             "--no-table-headers")
    pids = [row.split("\t")[0] for row in rows.splitlines() if f'"{name}"' in row]
    assert len(pids) == 1, rows
    return pids[0]


async def test_reconnects_after_the_broker_closes_the_connection(
        sidecar: Sidecar, prefix: str) -> None:
    async with running(make(sidecar, prefix)) as broker:
        queue = broker.job_queue(1, "h")
        async with broker.consume(queue, prefetch=5) as deliveries, broker.updates() as updates:
            await broker.publish(jobs(1))
            (await deliveries.receive()).ack()
            generation, subscriptions = broker.generation, updates.subscriptions
            pid = await _connection_pid(broker.config.connection_name)
            await rabbitmqctl("close_connection", pid, "test: forced close")
            # publish does not care whether the loss was noticed yet: it waits for the
            # reconnect (bounded) and retries
            await broker.publish(jobs(1, first=2))
            assert await broker.wait_connected(generation) > generation
            delivery = await deliveries.receive()
            assert decode_job(delivery.body).stage_id == 2
            delivery.ack()
            # the fanout subscriber has a new queue on the new connection
            assert await updates.wait_subscribed(subscriptions) == subscriptions + 1
            await broker.publish_update(b"after")
            assert await updates.receive() == b"after"
        await broker.ping()


async def test_outage_publish_waits_bounded_then_everything_resumes(
        sidecar: Sidecar, prefix: str) -> None:
    proxy = Proxy()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(proxy.serve)
        broker = make(sidecar, prefix, url=f"amqp://guest:guest@{HOST}:{port}/",
                      publish_wait=0.5)
        async with running(broker), broker.consume(broker.job_queue(1, "h")) as deliveries:
            await broker.publish(jobs(1))
            (await deliveries.receive()).ack()
            generation = broker.generation

            proxy.cut()
            with pytest.raises(BrokerUnavailable, match="did not take 1 message"):
                await broker.publish(jobs(1, first=2))
            assert not broker.ready and broker.last_error
            with pytest.raises(BrokerUnavailable, match="not connected"):
                await broker.ping()

            broker.publisher.publish_wait = 10.0  # a caller that waits out the outage
            async with trio.open_nursery() as waiting:
                waiting.start_soon(broker.publish, jobs(1, first=3))
                await trio.testing.wait_all_tasks_blocked()
                proxy.open = True
            assert await broker.wait_connected(generation) > generation
            await broker.ping()
            got = set()
            while 3 not in got:
                delivery = await deliveries.receive()
                got.add(decode_job(delivery.body).stage_id)
                delivery.ack()
            # at least once: 1 comes back if its (fire-and-forget) ack was cut off, 2 if it
            # reached the broker before the cut lost its confirm
            assert got <= {1, 2, 3}
        nursery.cancel_scope.cancel()
