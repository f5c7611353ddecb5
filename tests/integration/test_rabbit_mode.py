"""`pipelogiq serve` in RabbitMQ mode (real PostgreSQL and RabbitMQ, a fresh database and
queue prefix per test): HTTP workers pull through handler queues consumed only while they
wait, AMQP-direct workers (the .NET SDK's way) complete pipelines with PascalCase messages,
bad AMQP input is dead-lettered or dropped, and readiness follows the broker."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

import rabbit
from conftest import Api, make_settings
from pipelogiq.bridge.sidecar import Sidecar
from pipelogiq.broker.rabbit_topology import RabbitConfig, dlq_name
from pipelogiq.broker.rabbitmq import RabbitBroker
from pipelogiq.config import Settings
from pipelogiq.sdk import AsyncWorker, Job, Result

pytestmark = pytest.mark.skipif(not rabbit.available(), reason="needs the machine's RabbitMQ")



def rabbit_settings(tmp_path: Path, pg_url: str, prefix: str, **kw: Any) -> Settings:
    return make_settings(tmp_path, database_url=pg_url,
                         rabbitmq_url=kw.pop("rabbitmq_url", rabbit.URL),
                         rabbit_name_prefix=prefix, **kw)




@asynccontextmanager
async def amqp_worker(prefix: str, *, dlq: bool = False) -> AsyncIterator[RabbitBroker]:
    """An AMQP-direct worker's own connection (the bridge's API stands in for its client);
    it declares the queues as the server does (`dlq`: with dead-lettering)."""
    async with Sidecar("test-worker") as sc, trio.open_nursery() as nursery:
        broker = RabbitBroker(sc, RabbitConfig(url=rabbit.URL, prefix=prefix, dlq_enabled=dlq,
                                               connection_name=f"test-worker {prefix}"))
        await nursery.start(broker.run)
        yield broker
        nursery.cancel_scope.cancel()


@pytest.fixture
async def worker_broker(prefix: str) -> AsyncIterator[RabbitBroker]:
    async with amqp_worker(prefix) as broker:
        yield broker


class LogEvents(logging.Handler):
    """Lets a test wait for a log line (handlers run on the Trio thread here)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._changed = trio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self._changed.set()

    async def wait_for(self, text: str) -> str:
        while True:
            for line in self.lines:
                if text in line:
                    return line
            self._changed = trio.Event()
            await self._changed.wait()


@pytest.fixture
def consumer_log() -> Any:
    handler = LogEvents()
    logger = logging.getLogger("pipelogiq.consumer")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


async def test_http_workers_pull_through_rabbitmq(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any) -> None:
    api: Api = await serve(rabbit_settings(tmp_path, pg_url, prefix))
    assert (await api.internal.get("/api/readyz")).json()["checks"]["broker"] == "ok"
    broker = api.running.services.engine.broker
    assert isinstance(broker, RabbitBroker)
    worker = AsyncWorker(api.running.external_url, api.api_key, "rmq-worker", wait_seconds=5,
                         backoff_base=0.01, concurrency=4)

    @worker.handler("fetch")
    async def fetch(job: Job) -> Result:
        return Result(output="fetched", context={"order": job.input or ""})

    @worker.handler("transform")
    async def transform(job: Job) -> Result:
        return Result(output=job.context["order"].upper())

    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        pids = [(await api.create([
            {"stageName": "fetch", "stageHandlerName": "fetch", "input": f"o-{i}"},
            {"stageName": "transform", "stageHandlerName": "transform"}]))["id"]
            for i in range(10)]
        with trio.fail_after(30):
            docs = [await api.wait_status(pid, "Completed", "Failed") for pid in pids]
        worker.stop("test over")
    assert [d["status"] for d in docs] == ["Completed"] * 10
    assert [d["stages"][1]["output"] for d in docs] == [f"O-{i}" for i in range(10)]
    # nobody waits any more (once the server has seen its last pulls end): no consumer is
    # left on the handler queue. RabbitMQ's consumer count sends no notification: poll it.
    queue = broker.job_queue(api.application_id, "fetch")
    with trio.fail_after(10):
        while (info := await broker.queue_info(queue)) is None or info.consumers:  # noqa: ASYNC110
            await trio.sleep(0.05)
    assert info.messages == 0


async def test_a_job_nobody_waits_for_stays_on_the_queue(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any) -> None:
    api: Api = await serve(rabbit_settings(tmp_path, pg_url, prefix))
    broker = api.running.services.engine.broker
    assert isinstance(broker, RabbitBroker)
    pid = (await api.create([{"stageName": "s", "stageHandlerName": "idle"}]))["id"]
    await api.wait_for(pid, lambda d: d["stages"][0]["status"] == "Pending")
    r = await api.pull("idle", wait=0)  # spawns the queue actor, which consumes only now
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert r.json()["payload"]["stageId"] == (await api.pipeline(pid))["stages"][0]["id"]
    r = await api.pull("idle", wait=0)
    assert r.status_code == 204
    info = await broker.queue_info(broker.job_queue(api.application_id, "idle"))
    assert info is not None and info.messages == 0
    assert (await api.ack(token, result="done")).status_code == 200
    assert (await api.wait_status(pid, "Completed"))["stages"][0]["output"] == "done"


def pascal_log(message: str) -> dict[str, Any]:
    return {"Message": message, "LogLevel": 2, "Created": "2024-01-02T03:04:05.1234567Z"}


async def amqp_worker_step(api: Api, worker: RabbitBroker, boot: dict[str, Any], handler: str,
                           output: str) -> dict[str, Any]:
    """What the .NET runner does with one job: consume it from its handler queue, report
    Running, work (here: until the dashboard shows it Running, so the two messages, which
    travel on different queues, apply in this order), report the result (PascalCase), then
    ack the job message."""
    queues = boot["queues"]
    queue = queues["stageNextPattern"].replace("{handler}", handler)
    async with worker.consume(queue, prefetch=1) as deliveries:
        delivery = await deliveries.receive()
    job = json.loads(delivery.body)
    await worker.publish_to(queues["stageSetStatus"], [json.dumps(
        {"StageId": job["stageId"], "Status": "Running"}).encode()])
    await api.wait_for(job["pipelineId"], lambda doc: any(
        s["id"] == job["stageId"] and s["status"] == "Running" for s in doc["stages"]))
    await worker.publish_to(queues["stageResult"], [json.dumps({
        "PipelineId": None, "StageId": job["stageId"], "Result": output, "IsSuccess": True,
        "NextStageId": None, "RunNextIfCurrentFailed": False,
        "Logs": [pascal_log(f"{handler} done")],
        "ContextItems": [{"Key": handler, "Value": output}]}).encode()])
    delivery.ack()
    return dict(job)


async def test_amqp_direct_worker_completes_a_pipeline(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any, worker_broker: RabbitBroker,
        consumer_log: LogEvents) -> None:
    api: Api = await serve(rabbit_settings(tmp_path, pg_url, prefix))
    r = await api.external.get("/rabbitmq/connection", headers=api.key())
    assert r.json() == {"connectionString": rabbit.URL}
    r = await api.external.post("/workers/bootstrap", headers=api.key(), json={
        "WorkerName": "dotnet", "InstanceId": "dotnet-1", "SupportedHandlers": ["a", "b"]})
    boot = r.json()
    assert boot["messageBroker"]["type"] == "rabbitmq"
    assert boot["messageBroker"]["connectionString"] == rabbit.URL
    assert boot["queues"]["stageResult"] == f"{prefix}StageResult"
    assert boot["queues"]["stageSetStatus"] == f"{prefix}StageSetStatus"

    created = await api.create([
        {"stageName": "first", "stageHandlerName": "a", "input": "in-1",
         "options": {"timeOut": 300}},
        {"stageName": "second", "stageHandlerName": "b"}],
        pipelineContextItems=[{"key": "k", "value": "v"}])
    pid = created["id"]
    with trio.fail_after(30):
        job = await amqp_worker_step(api, worker_broker, boot, "a", "out-a")
        # the message carries the whole StageNext payload (SPEC §4.2)
        assert job["stageId"] == created["stages"][0]["id"] and job["pipelineId"] == pid
        assert job["executionId"] == pid and job["appId"] == api.application_id
        assert job["input"] == "in-1" and job["attempt"] == 1 and job["timeoutSeconds"] == 300
        assert job["traceparent"] == (f"00-{created['traceId']}-"
                                      f"{created['stages'][0]['spanId']}-01")
        assert {"key": "k", "value": "v", "valueType": "string"} in job["contextItems"]
        job2 = await amqp_worker_step(api, worker_broker, boot, "b", "out-b")
        assert {"key": "a", "value": "out-a", "valueType": "string"} in job2["contextItems"]
        doc = await api.wait_status(pid, "Completed", "Failed")
    assert doc["status"] == "Completed"
    assert [s["output"] for s in doc["stages"]] == ["out-a", "out-b"]
    assert all(s["startedAt"] and s["finishedAt"] for s in doc["stages"])
    logs = [line["message"] for line in
            (await api.internal.get(f"/api/pipelines/logs/{pid}")).json()]
    assert sum("taken by an AMQP worker" in m for m in logs) == 2, logs
    assert "a done" in logs and "b done" in logs

    # a late Running (a redelivered job message) never reopens a finished stage
    first = doc["stages"][0]["id"]
    await worker_broker.publish_to(boot["queues"]["stageSetStatus"], [json.dumps(
        {"StageId": first, "Status": "Running"}).encode()])
    with trio.fail_after(10):
        await consumer_log.wait_for(f"StageSetStatus for stage {first} dropped")
    assert (await api.pipeline(pid))["stages"][0]["status"] == "Completed"


async def test_bad_amqp_input_is_dead_lettered_never_looping(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any) -> None:
    async with amqp_worker(prefix, dlq=True) as worker_broker:
        await _dead_letters(
            await serve(rabbit_settings(tmp_path, pg_url, prefix, rabbit_dlq_enabled=True)),
            prefix, worker_broker)


async def _dead_letters(api: Api, prefix: str, worker_broker: RabbitBroker) -> None:
    engine = api.running.services.engine
    dead: list[tuple[str, str]] = []
    dead_now = trio.Event()

    def dead_lettered(queue: str, message_id: str | None, reason: str) -> None:
        dead.append((queue, reason))
        dead_now.set()

    engine.dead_lettered = dead_lettered  # type: ignore[method-assign]
    results, status = f"{prefix}StageResult", f"{prefix}StageSetStatus"
    bad_results = [b"{garbage", b"[]", json.dumps({"StageId": "x"}).encode(),
                   json.dumps({"StageId": 999_999, "IsSuccess": True}).encode()]
    bad_status = [json.dumps({"StageId": 1}).encode(),
                  json.dumps({"StageId": 1, "Status": "Completed"}).encode(),
                  json.dumps({"StageId": 999_999, "Status": "Running"}).encode()]
    await worker_broker.publish_to(results, bad_results)
    await worker_broker.publish_to(status, bad_status)
    with trio.fail_after(20):
        while len(dead) < len(bad_results) + len(bad_status):
            dead_now = trio.Event()
            await dead_now.wait()
    assert sorted(q for q, _ in dead) == [results] * 4 + [status] * 3
    assert any("unknown stage 999999" in reason for _, reason in dead)
    for queue, count in ((results, 4), (status, 3)):
        got = []
        async with worker_broker.consume(dlq_name(queue)) as deliveries:
            while len(got) < count:
                delivery = await deliveries.receive()
                got.append(delivery.body)
                delivery.ack()
        assert sorted(got) == sorted(bad_results if queue == results else bad_status)
        info = await worker_broker.queue_info(queue)
        assert info is not None and info.messages == 0  # nothing went back to loop


async def test_bad_amqp_input_without_dlq_is_logged_and_dropped(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any, worker_broker: RabbitBroker
        ) -> None:
    await serve(rabbit_settings(tmp_path, pg_url, prefix))
    results = f"{prefix}StageResult"
    dropped = LogEvents()
    logging.getLogger("pipelogiq.broker").addHandler(dropped)
    try:
        await worker_broker.publish_to(results, [b"{garbage"])
        with trio.fail_after(10):
            line = await dropped.wait_for(f"dropping a message of {results}")
    finally:
        logging.getLogger("pipelogiq.broker").removeHandler(dropped)
    assert "bad StageResult message" in line
    assert await worker_broker.queue_info(dlq_name(results)) is None


async def test_readiness_follows_rabbitmq(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any, nursery: trio.Nursery) -> None:
    proxy = rabbit.Proxy()
    port = await nursery.start(proxy.serve)
    api: Api = await serve(rabbit_settings(
        tmp_path, pg_url, prefix, rabbitmq_url=f"amqp://guest:guest@{rabbit.HOST}:{port}/"))
    broker = api.running.services.engine.broker
    assert isinstance(broker, RabbitBroker)
    assert (await api.internal.get("/api/readyz")).status_code == 200
    generation = broker.generation
    proxy.cut()
    r = await api.internal.get("/api/readyz")
    assert r.status_code == 503 and r.json()["checks"]["broker"].startswith("failed")
    assert (await api.external.get("/readyz")).status_code == 503
    proxy.open = True
    with trio.fail_after(30):
        await broker.wait_connected(generation)
    assert (await api.internal.get("/api/readyz")).status_code == 200


async def test_the_sweep_publishes_a_job_whose_message_was_lost(
        tmp_path: Path, pg_url: str, prefix: str, serve: Any,
        worker_broker: RabbitBroker) -> None:
    api: Api = await serve(rabbit_settings(tmp_path, pg_url, prefix, safety_sweep_interval=0.5))
    pid = (await api.create([{"stageName": "s", "stageHandlerName": "lost"}]))["id"]
    await api.wait_for(pid, lambda d: d["stages"][0]["status"] == "Pending")
    queue = worker_broker.job_queue(api.application_id, "lost")
    async with worker_broker.consume(queue) as deliveries:  # the message vanishes
        (await deliveries.receive()).ack()
    # Pending for 2 sweep intervals with nothing on its queue: published again
    r = await api.pull("lost", wait=10)
    assert r.status_code == 200, r.text
    assert (await api.ack(r.json()["token"], result="found")).status_code == 200
    doc = await api.wait_status(pid, "Completed")
    assert doc["stages"][0]["output"] == "found" and doc["stages"][0]["attempt"] == 1
