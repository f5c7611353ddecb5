"""The dead-letter routes (SPEC §5, §7) against the machine's RabbitMQ and PostgreSQL: a
poison StageResult and a rejected job land in their `.dlq`, are listed, peeked without being
taken, discarded or re-sent to their source queue; only an Admin may; embedded mode has none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

import rabbit
from conftest import Api, make_settings
from pipelogiq.broker.rabbit_topology import dlq_name
from pipelogiq.broker.rabbitmq import RabbitBroker
from pipelogiq.security import hash_password

needs_rabbit = pytest.mark.skipif(not rabbit.available(), reason="needs the machine's RabbitMQ")





async def dlq_server(serve: Any, tmp_path: Path, pg_url: str, prefix: str) -> Api:
    # a long sweep interval: the test moves a job's message by hand; nothing re-publishes it
    return await serve(make_settings(
        tmp_path, database_url=pg_url, rabbitmq_url=rabbit.URL, rabbit_name_prefix=prefix,
        rabbit_dlq_enabled=True, safety_sweep_interval=3600.0))


def broker_of(api: Api) -> RabbitBroker:
    broker = api.running.services.engine.broker
    assert isinstance(broker, RabbitBroker)
    return broker


async def depth(broker: RabbitBroker, queue: str, messages: int) -> None:
    """Wait (bounded) until `queue` holds `messages`: settling is fire-and-forget, so the
    broker's count can trail the event by a moment, and RabbitMQ offers no event for it."""
    with trio.fail_after(10):
        while True:
            info = await broker.queue_info(queue)
            if info is not None and info.messages == messages:
                return
            await trio.sleep(0.05)


async def listing(api: Api) -> dict[str, int]:
    r = await api.internal.get("/api/deadletters")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["enabled"] is True
    return {q["queue"]: q["messages"] for q in doc["queues"]}


@needs_rabbit
async def test_a_poison_result_is_listed_peeked_and_discarded(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any) -> None:
    api = await dlq_server(serve, tmp_path, pg_url, prefix)
    broker = broker_of(api)
    dead = trio.Event()
    api.running.services.engine.dead_lettered = (  # type: ignore[method-assign]
        lambda queue, message_id, reason: dead.set())
    results = f"{prefix}StageResult"
    await broker.publish_to(results, [b"{garbage"])
    with trio.fail_after(10):
        await dead.wait()
    await depth(broker, dlq_name(results), 1)

    queues = await listing(api)
    assert queues[dlq_name(results)] == 1
    r = await api.internal.get("/api/deadletters")
    row = next(q for q in r.json()["queues"] if q["queue"] == dlq_name(results))
    assert row["source"] == results

    r = await api.internal.get("/api/deadletters/messages",
                               params={"queue": dlq_name(results), "limit": 5})
    assert r.status_code == 200, r.text
    [message] = r.json()["messages"]
    assert message["body"] == "{garbage"
    assert message["reason"] == "rejected" and message["deadFrom"] == results
    await depth(broker, dlq_name(results), 1)  # a peek leaves it there
    assert (await listing(api))[dlq_name(results)] == 1

    r = await api.internal.post("/api/deadletters/discard", json={"queue": dlq_name(results)})
    assert r.status_code == 200, r.text
    assert r.json()["discarded"] == 1
    await depth(broker, dlq_name(results), 0)
    info = await broker.queue_info(results)
    assert info is not None and info.messages == 0  # dropped, not sent back


@needs_rabbit
async def test_a_dead_lettered_job_is_resent_to_its_handler_queue(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any) -> None:
    api = await dlq_server(serve, tmp_path, pg_url, prefix)
    broker = broker_of(api)
    pid = (await api.create([{"stageName": "s", "stageHandlerName": "h"}]))["id"]
    await api.wait_for(pid, lambda d: d["stages"][0]["status"] == "Pending")
    queue = broker.job_queue(api.application_id, "h")
    await depth(broker, queue, 1)
    async with broker.consume(queue) as deliveries:  # a worker rejects it: RabbitMQ dead-letters
        (await deliveries.receive()).reject()
    await depth(broker, dlq_name(queue), 1)
    await depth(broker, queue, 0)
    assert (await listing(api))[dlq_name(queue)] == 1

    r = await api.internal.post("/api/deadletters/resend",
                                json={"queue": dlq_name(queue), "count": 10})
    assert r.status_code == 200, r.text
    assert r.json() == {"queue": dlq_name(queue), "target": queue, "resent": 1}
    await depth(broker, dlq_name(queue), 0)
    await depth(broker, queue, 1)
    pulled = await api.pull("h", wait=10)  # the job is usable again
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["payload"]
    assert (await api.ack(pulled.json()["token"], result="ok")).status_code == 200
    await api.wait_status(pid, "Completed")


@needs_rabbit
async def test_only_admins_and_only_known_queues(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any) -> None:
    api = await dlq_server(serve, tmp_path, pg_url, prefix)
    store = api.running.services.store
    assert await store.create_user("ops@example.com", "ops", "RegularUser",
                                   hash_password("pw-123456789")) is not None
    url = api.running.internal_url
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Origin": url}) as client:
        r = await client.post("/api/auth/login",
                              json={"email": "ops@example.com", "password": "pw-123456789"})
        assert r.status_code == 200, r.text
        assert (await client.get("/api/deadletters")).status_code == 403
        r = await client.post("/api/deadletters/discard",
                              json={"queue": f"{prefix}StageResult.dlq"})
        assert r.status_code == 403
    for queue in ("nope.dlq", f"{prefix}StageResult", "other.StageResult.dlq"):
        r = await api.internal.post("/api/deadletters/discard", json={"queue": queue})
        assert r.status_code == 400, r.text
        assert "queue" in r.json()["error"]["message"]
    r = await api.internal.get("/api/deadletters/messages", params={"queue": "x.dlq"})
    assert r.status_code == 400
    r = await api.internal.post("/api/deadletters/resend", json={})
    assert r.status_code == 400


async def test_embedded_mode_has_no_dead_letters(api: Api) -> None:
    r = await api.internal.get("/api/deadletters")
    assert r.status_code == 200, r.text
    assert r.json() == {"enabled": False, "queues": []}
    for action in ("resend", "discard"):
        r = await api.internal.post(f"/api/deadletters/{action}",
                                    json={"queue": "StageResult.dlq"})
        assert r.status_code == 409, r.text
        assert "RabbitMQ" in r.json()["error"]["message"]
    r = await api.internal.get("/api/deadletters/messages", params={"queue": "StageResult.dlq"})
    assert r.status_code == 409
