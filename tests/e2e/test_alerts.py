"""Alert delivery (SPEC §8) end to end: a real server, alerting configured through the internal
API, and a real webhook receiver started here (h11 over a Trio socket on 127.0.0.1, port 0)
that records each request and answers from a script. Each test waits for the requests it
expects; the guard deadlines only turn a hang into a failure."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import attrs
import pytest
import trio

from conftest import Api
from httpreceiver import read_request, respond, serve
from pipelogiq import alerts

SECRET = "alert-webhook-secret-0123"
GUARD = 15.0


@attrs.frozen
class Hook:
    headers: dict[str, str]
    body: bytes

    @property
    def doc(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def event(self) -> str:
        return str(self.doc["event"])

    def signed(self) -> bool:
        mac = hmac.new(SECRET.encode(), self.body, hashlib.sha256).hexdigest()
        return self.headers.get("x-pipelogiq-signature") == f"sha256={mac}"


@attrs.define
class Receiver:
    """Answers each request with the next status of `script` (then 200); a `trio.Event` in the
    script holds that answer (a 500) until the test sets it."""

    script: list[int | trio.Event] = attrs.Factory(list)
    port: int = 0
    received: list[Hook] = attrs.Factory(list)
    _send: trio.MemorySendChannel[Hook] | None = None
    _recv: trio.MemoryReceiveChannel[Hook] | None = None

    def __attrs_post_init__(self) -> None:
        self._send, self._recv = trio.open_memory_channel[Hook](100)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def next(self) -> Hook:
        assert self._recv is not None
        with trio.fail_after(GUARD):
            return await self._recv.receive()

    async def take(self, n: int) -> list[Hook]:
        return [await self.next() for _ in range(n)]

    async def handle(self, stream: trio.SocketStream) -> None:
        got = await read_request(stream)
        if got is None:
            return
        conn, request = got
        assert self._send is not None
        hook = Hook(request.headers, request.body)
        self.received.append(hook)
        self._send.send_nowait(hook)
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, trio.Event):
            await answer.wait()
            answer = 500
        await respond(stream, conn, answer)


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> Receiver:
    r = Receiver()
    r.port = await serve(nursery, r.handle)
    return r


async def configure(api: Api, receiver: Receiver, events: list[str]) -> None:
    r = await api.internal.put("/api/observability/config", json={"kind": "alerting", "config": {
        "enabled": True, "webhookUrl": receiver.url, "secret": SECRET, "events": events}})
    assert r.status_code == 200, r.text


async def run_stage(api: Api, handler: str, *, ok: bool, **ack: Any) -> None:
    r = await api.pull(handler, wait=10)
    assert r.status_code == 200, r.text
    r = await api.ack(r.json()["token"], isSuccess=ok, **ack)
    assert r.status_code == 200, r.text


async def failing_pipeline(api: Api, handler: str, name: str = "p",
                           **options: Any) -> dict[str, Any]:
    p = await api.create([{"stageName": "charge", "stageHandlerName": handler,
                           "options": {"maxRetries": 0, **options}}], name=name)
    await run_stage(api, handler, ok=False, errorMessage="card declined")
    return await api.wait_status(p["id"], "Failed")


def metric(api: Api, name: str, **labels: str) -> float:
    registry = api.running.services.engine.metrics.registry
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_final_failure_alerts_once_signed_and_repeats_are_deduplicated(
        api: Api, receiver: Receiver) -> None:
    await configure(api, receiver, ["stage.failed", "pipeline.failed"])
    p = await failing_pipeline(api, "pay", name="orders")
    hooks = sorted(await receiver.take(2), key=lambda h: h.event)
    assert [h.event for h in hooks] == ["pipeline.failed", "stage.failed"]
    assert all(h.signed() for h in hooks)
    failed_pipeline, failed_stage = (h.doc for h in hooks)
    stage_id = p["stages"][0]["id"]
    assert failed_stage["details"]["stageId"] == stage_id
    assert failed_stage["details"]["pipelineId"] == p["id"]
    assert "card declined" in failed_stage["message"]
    assert failed_pipeline["title"] == "Pipeline orders failed"
    assert failed_pipeline["key"] == f"pipeline.failed:{p['id']}"

    # The same stage rerun and failing again within the window: no second pair of alerts.
    r = await api.internal.post("/api/pipelines/rerunStage", json={"stageId": stage_id})
    assert r.status_code == 200, r.text
    await run_stage(api, "pay", ok=False, errorMessage="card declined")
    await api.wait_status(p["id"], "Failed")
    # Another pipeline's failure: alerts are admitted in order, so once its pair arrives the
    # repeats have been judged.
    other = await failing_pipeline(api, "pay", name="refunds")
    later = await receiver.take(2)
    assert {h.doc["details"]["pipelineId"] for h in later} == {other["id"]}
    assert len(receiver.received) == 4
    assert metric(api, "alerts_deduplicated_total", event="stage.failed") == 1
    assert metric(api, "alerts_deduplicated_total", event="pipeline.failed") == 1


async def test_a_failing_receiver_gets_the_alert_after_a_retry_and_the_engine_keeps_going(
        api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts, "RETRY_BASE", 0.2)
    release = trio.Event()
    receiver.script = [release]  # the first attempt hangs until released, then gets a 500
    await configure(api, receiver, ["pipeline.failed"])
    p = await failing_pipeline(api, "pay")
    first = await receiver.next()
    assert first.event == "pipeline.failed"

    # While the receiver is stuck, the engine goes on: another pipeline runs to completion.
    ok = await api.create([{"stageName": "a", "stageHandlerName": "fine"},
                           {"stageName": "b", "stageHandlerName": "fine"}])
    await run_stage(api, "fine", ok=True, result="1")
    await run_stage(api, "fine", ok=True, result="2")
    assert (await api.wait_status(ok["id"], "Completed"))["status"] == "Completed"

    started = trio.current_time()
    release.set()
    second = await receiver.next()
    assert trio.current_time() - started >= 0.2 * (1 - alerts.JITTER)
    assert second.doc["key"] == first.doc["key"] == f"pipeline.failed:{p['id']}"
    assert second.signed()


async def test_worker_lifecycle_alerts(api: Api, receiver: Receiver) -> None:
    await configure(api, receiver, ["worker.started", "worker.stopped", "worker.failed"])
    r = await api.external.post("/workers/bootstrap", headers=api.key(),
                                json={"workerName": "billing-1", "hostName": "box-7"})
    assert r.status_code == 200, r.text
    boot = r.json()
    wid, session = boot["workerId"], {"X-Worker-Session": boot["workerSessionToken"]}
    started = await receiver.next()
    assert started.event == "worker.started" and started.signed()
    assert started.doc["title"] == "Worker billing-1 started"
    assert started.doc["details"]["workerId"] == wid

    r = await api.external.post("/workers/heartbeat", headers=session,
                                json={"workerId": wid, "state": "error", "lastError": "disk full"})
    assert r.status_code == 200, r.text
    failed = await receiver.next()
    assert failed.event == "worker.failed" and "disk full" in failed.doc["message"]

    r = await api.external.post("/workers/shutdown", headers=session,
                                json={"workerId": wid, "reason": "deploy"})
    assert r.status_code == 200, r.text
    stopped = await receiver.next()
    assert stopped.event == "worker.stopped" and "deploy" in stopped.doc["message"]


async def test_notify_on_failure_without_stage_failed_selected(
        api: Api, receiver: Receiver) -> None:
    await configure(api, receiver, ["pipeline.completed"])
    await failing_pipeline(api, "quiet")  # neither selected nor notifyOnFailure: nothing
    loud = await failing_pipeline(api, "loud", notifyOnFailure=True)
    done = await api.create([{"stageName": "a", "stageHandlerName": "fine"}])
    await run_stage(api, "fine", ok=True)
    await api.wait_status(done["id"], "Completed")
    hooks = {h.event: h.doc for h in await receiver.take(2)}
    assert set(hooks) == {"stage.failed", "pipeline.completed"}
    assert hooks["stage.failed"]["details"]["pipelineId"] == loud["id"]
    assert hooks["pipeline.completed"]["details"]["pipelineId"] == done["id"]
    assert len(receiver.received) == 2


async def test_policy_changes_alert(api: Api, receiver: Receiver) -> None:
    await configure(api, receiver, ["policy.changed"])
    r = await api.internal.post("/api/policies", json={
        "applicationId": api.application_id, "name": "limit", "type": "rate_limit",
        "status": "paused", "rule": {"limit": 10, "windowSeconds": 60, "keyBy": "tenant"}})
    assert r.status_code == 201, r.text
    policy = r.json()
    created = await receiver.next()
    assert created.doc["title"] == "Policy limit created"
    assert created.doc["details"]["policyId"] == policy["id"]
    r = await api.internal.delete(f"/api/policies/{policy['id']}")
    assert r.status_code == 204, r.text
    deleted = await receiver.next()
    assert deleted.event == "policy.changed" and deleted.doc["details"]["action"] == "deleted"
