"""Unit tests of pipelogiq.sdk against a fake external API (httpx.MockTransport).

The fake implements just enough of SPEC §4 to drive the client and the worker; real end-to-end
tests run against the server elsewhere. Nothing here sleeps to wait: tests wait on conditions
the fake signals, under a ``trio.fail_after`` guard.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from pipelogiq.sdk import (
    AsyncClient,
    AsyncWorker,
    AuthError,
    Client,
    FatalError,
    Job,
    PipelogiqError,
    Result,
    RetryableError,
    Stage,
    Worker,
)
from pipelogiq.sdk._slots import Slots
from pipelogiq.sdk.job import iter_messages

BASE = "http://pipelogiq.test"
GUARD = 10  # seconds: a hang guard, never a wait


# -- fake external API ---------------------------------------------------------------------


def make_message(token: str, handler: str, **payload: Any) -> dict[str, Any]:
    """A pulled job message as the server sends it."""
    stage_id = payload.pop("stageId", 7)
    body = {
        "appId": 1,
        "stageId": stage_id,
        "pipelineId": 3,
        "executionId": 3,
        "traceId": "a" * 32,
        "spanId": "b" * 16,
        "traceparent": f"00-{'a' * 32}-{'b' * 16}-01",
        "stageHandlerName": handler,
        "contextItems": [{"key": "region", "value": "eu", "valueType": "string"}],
        "attempt": 1,
    }
    body.update(payload)
    return {
        "token": token,
        "queue": f"pipelogiq.stage.1.{handler}",
        "messageId": f"m-{token}",
        "payload": body,
        "headers": {"traceparent": body["traceparent"]},
    }


class FakeAPI:
    """An in-memory external API. Every request wakes :meth:`wait_until`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], httpx.Headers]] = []
        self.bootstraps: list[dict[str, Any]] = []
        self.session_tokens: list[str] = []
        self.revoked: set[str] = set()
        self.queues: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.acks: list[dict[str, Any]] = []
        self.ack_batches: list[int] = []  # sizes of the `{acks: [...]}` requests
        self.extends: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.shutdowns: list[dict[str, Any]] = []
        self.pull_errors: list[int] = []  # statuses to answer the next pulls with
        self.ack_failures: list[int | None] = []  # None: a network error
        self.extend_answers: list[int] = []
        self.pull_barrier: int = 0  # hold pulls until this many are waiting
        self._pulls_waiting = 0
        self._barrier_open = False
        self._changed = trio.Event()

    # plumbing
    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()

    def add_job(self, handler: str, token: str, **payload: Any) -> None:
        self.queues[handler].append(make_message(token, handler, **payload))
        self._notify()

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.calls]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.calls.append((request.url.path, body, request.headers))
        try:
            return await self._route(request.url.path, body, request.headers)
        finally:
            self._notify()

    def _session_ok(self, headers: httpx.Headers) -> bool:
        token = headers.get("x-worker-session", "")
        return token in self.session_tokens and token not in self.revoked

    async def _route(
        self, path: str, body: dict[str, Any], headers: httpx.Headers
    ) -> httpx.Response:
        if path == "/workers/bootstrap":
            if headers.get("x-api-key") != "key-1":
                return httpx.Response(401, text="invalid api key\n")
            self.bootstraps.append(body)
            token = f"session-{len(self.bootstraps)}"
            self.session_tokens.append(token)
            return httpx.Response(
                200,
                json={
                    "workerId": f"worker-for-{body['instanceId']}",
                    "workerSessionToken": token,
                    "heartbeat": {"intervalSec": 15, "offlineAfterSec": 45},
                    "messageBroker": {"type": "http"},
                },
            )
        if not self._session_ok(headers):
            return httpx.Response(401, text="invalid worker session\n")
        if path == "/jobs/pull":
            if self.pull_errors:
                status = self.pull_errors.pop(0)
                if status == 401:  # the session expired
                    self.revoked.add(headers["x-worker-session"])
                return httpx.Response(status, text="try later\n")
            return await self._pull(body)
        if path == "/jobs/ack":
            if self.ack_failures:
                failure = self.ack_failures.pop(0)
                if failure is None:
                    raise httpx.ConnectError("connection refused")
                return httpx.Response(failure, text="nope\n")
            if "acks" in body:  # the batch form: answered per item
                self.ack_batches.append(len(body["acks"]))
                self.acks.extend(body["acks"])
                return httpx.Response(200, json={"results": [
                    {"token": a["token"], "code": 200, "status": "ok"} for a in body["acks"]]})
            self.acks.append(body)
            return httpx.Response(200, json={"status": "ok"})
        if path == "/jobs/extend":
            self.extends.append(body)
            status = self.extend_answers.pop(0) if self.extend_answers else 200
            if status != 200:
                return httpx.Response(status, text="superseded\n")
            return httpx.Response(200, json={"leaseUntil": "2099-01-01T00:00:00Z"})
        if path == "/workers/heartbeat":
            self.heartbeats.append(body)
            return httpx.Response(200, json={"status": "ok", "workerId": body["workerId"]})
        if path == "/workers/shutdown":
            self.shutdowns.append(body)
            return httpx.Response(200, json={"status": "ok", "workerId": body["workerId"]})
        return httpx.Response(404, text="not found\n")

    async def _pull(self, body: dict[str, Any]) -> httpx.Response:
        handler = body["handlerName"]
        self._pulls_waiting += 1
        if self._pulls_waiting >= self.pull_barrier:
            self._barrier_open = True
        try:
            with trio.move_on_after(body.get("waitSeconds", 0)):
                await self.wait_until(lambda: bool(self.queues[handler]) and self._barrier_open)
        finally:
            self._pulls_waiting -= 1
        queue = self.queues[handler]
        if not queue:
            return httpx.Response(204)
        jobs, self.queues[handler] = queue[: body["maxJobs"]], queue[body["maxJobs"] :]
        return httpx.Response(200, json={"jobs": jobs})


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


def make_worker(api: FakeAPI, **options: Any) -> AsyncWorker:
    settings: dict[str, Any] = {
        "instance_id": "inst-1",
        "wait_seconds": 5,
        "backoff_base": 0.001,
        "backoff_max": 0.005,
        "transport": api.transport(),
    }
    settings.update(options)
    return AsyncWorker(BASE, "key-1", "test-worker", **settings)


class running:
    """``async with running(worker) as nursery``: start it, stop it and wait for it at exit."""

    def __init__(self, worker: AsyncWorker) -> None:
        self.worker = worker
        self._guard = trio.fail_after(GUARD)
        self._nursery_cm = trio.open_nursery()

    async def __aenter__(self) -> trio.Nursery:
        self._guard.__enter__()
        nursery = await self._nursery_cm.__aenter__()
        await nursery.start(self.worker.run)
        return nursery

    async def __aexit__(self, *exc: Any) -> None:
        self.worker.stop("test over")
        try:
            await self._nursery_cm.__aexit__(*exc)
        finally:
            self._guard.__exit__(None, None, None)


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait for a condition no request signals, re-checking whenever every task is blocked."""
    while not predicate():
        await trio.testing.wait_all_tasks_blocked()


def acks_for(api: FakeAPI, token: str) -> list[dict[str, Any]]:
    return [a for a in api.acks if a["token"] == token]


# -- client ----------------------------------------------------------------------------------


class Recorder:
    """A sync MockTransport handler answering with a canned response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def test_create_pipeline_serialises_camel_case() -> None:
    rec = Recorder(httpx.Response(200, json={"id": 1, "status": "NotStarted"}))
    with Client(BASE, "key-1", transport=httpx.MockTransport(rec)) as client:
        answer = client.create_pipeline(
            "order-42",
            [
                Stage("fetch", "fetch", description="get it", input={"orderId": 42}),
                Stage(
                    "notify",
                    "notify",
                    input="plain text",
                    is_event=True,
                    options={"max_retries": 2, "retryInterval": 5, "timeout": 30},
                ),
            ],
            keywords={"customer": "acme"},
            context={"region": "eu", "limits": {"max": 3}},
            trace_id="c" * 32,
            idempotency_key="idem-1",
        )
    assert answer == {"id": 1, "status": "NotStarted"}
    request = rec.requests[0]
    assert request.method == "POST" and request.url.path == "/pipelines"
    assert request.headers["x-api-key"] == "key-1"
    assert rec.body() == {
        "name": "order-42",
        "stages": [
            {
                "stageName": "fetch",
                "stageHandlerName": "fetch",
                "description": "get it",
                "input": '{"orderId": 42}',
            },
            {
                "stageName": "notify",
                "stageHandlerName": "notify",
                "input": "plain text",
                "isEvent": True,
                "options": {"maxRetries": 2, "retryInterval": 5, "timeOut": 30},
            },
        ],
        "pipelineKeywords": [{"key": "customer", "value": "acme"}],
        "pipelineContextItems": [
            {"key": "region", "value": "eu", "valueType": "string"},
            {"key": "limits", "value": '{"max": 3}', "valueType": "string"},
        ],
        "traceId": "c" * 32,
        "idempotencyKey": "idem-1",
    }


def test_create_pipeline_accepts_item_lists_and_plain_stage_dicts() -> None:
    rec = Recorder(httpx.Response(200, json={"id": 2}))
    with Client(BASE, "key-1", transport=httpx.MockTransport(rec)) as client:
        client.create_pipeline(
            "p",
            [{"stageName": "s", "stageHandlerName": "h", "input": [1, 2], "description": None}],
            keywords=[{"key": "k", "value": "v"}],
            context=[{"key": "n", "value": 5, "valueType": "number"}, {"key": "s", "value": "x"}],
        )
    body = rec.body()
    assert body["stages"] == [{"stageName": "s", "stageHandlerName": "h", "input": "[1, 2]"}]
    assert body["pipelineKeywords"] == [{"key": "k", "value": "v"}]
    assert body["pipelineContextItems"] == [
        {"key": "n", "value": "5", "valueType": "number"},
        {"key": "s", "value": "x", "valueType": "string"},
    ]
    assert "traceId" not in body and "idempotencyKey" not in body


async def test_async_client_create_pipeline_and_send_log() -> None:
    rec = Recorder(httpx.Response(200, json={"id": 9}))
    async with AsyncClient(BASE, "key-1", transport=httpx.MockTransport(rec)) as client:
        assert await client.create_pipeline("p", [Stage("s", "h")]) == {"id": 9}
        await client.send_log("hello", "warning", keywords={"area": "billing"})
    assert [r.url.path for r in rec.requests] == ["/pipelines", "/logs"]
    log_body = rec.body(1)
    assert log_body["message"] == "hello"
    assert log_body["logLevel"] == "Warning"
    assert log_body["keywords"] == [{"key": "area", "value": "billing"}]
    assert log_body["created"].endswith("Z")


@pytest.mark.parametrize(
    ("status", "text", "error_type"),
    [
        (400, "name is required\n", PipelogiqError),
        (401, "invalid api key\n", AuthError),
        (403, "api key disabled\n", AuthError),
        (503, "store unavailable\n", PipelogiqError),
    ],
)
def test_error_mapping(status: int, text: str, error_type: type[PipelogiqError]) -> None:
    answer = httpx.Response(status, text=text, headers={"content-type": "text/plain"})
    rec = Recorder(answer)
    with Client(BASE, "key-1", transport=httpx.MockTransport(rec)) as client:
        with pytest.raises(error_type) as info:
            client.create_pipeline("p", [Stage("s", "h")])
    assert type(info.value) is error_type
    assert info.value.status_code == status
    assert info.value.message == text.strip()


async def test_async_client_maps_401_to_auth_error() -> None:
    rec = Recorder(httpx.Response(401, text="missing credentials\n"))
    async with AsyncClient(BASE, "bad", transport=httpx.MockTransport(rec)) as client:
        with pytest.raises(AuthError, match="missing credentials"):
            await client.send_log("x")


def test_job_from_single_message_form() -> None:
    message = make_message("t-1", "fetch", input='{"a": 1}', runAsUser="bob", timeoutSeconds=30)
    (parsed,) = iter_messages(message)
    job = Job.from_message(parsed, "fetch")
    assert (job.token, job.stage_id, job.pipeline_id, job.attempt) == ("t-1", 7, 3, 1)
    assert job.context == {"region": "eu"}
    assert job.input_json() == {"a": 1}
    assert job.run_as_user == "bob" and job.timeout_seconds == 30
    assert job.traceparent == f"00-{'a' * 32}-{'b' * 16}-01"
    assert list(iter_messages({"jobs": [message, message]})) == [message, message]
    assert list(iter_messages({})) == []


# -- worker ----------------------------------------------------------------------------------


async def test_worker_runs_job_and_acks_output_context_and_logs(api: FakeAPI) -> None:
    worker = make_worker(api, concurrency=2)
    seen: list[Job] = []

    @worker.handler("transform")
    async def transform(job: Job) -> Result:
        seen.append(job)
        job.log("info", f"region is {job.context['region']}")
        return Result(
            output={"ok": True},
            context={"total": 12, "currency": "EUR"},
            logs=[("Warning", "rounded"), {"message": "done", "logLevel": "Debug"}],
        )

    async with running(worker):
        assert worker.ready.is_set()
        api.add_job("transform", "t-1")
        await api.wait_until(lambda: bool(api.acks))

    bootstrap = api.bootstraps[0]
    assert bootstrap["workerName"] == "test-worker"
    assert bootstrap["instanceId"] == "inst-1"
    assert bootstrap["supportedHandlers"] == ["transform"]
    assert bootstrap["capabilities"] == {"concurrency": 2}
    assert {"workerVersion", "sdkVersion", "hostName", "pid"} <= bootstrap.keys()

    pull = next(body for path, body, _ in api.calls if path == "/jobs/pull")
    assert pull == {
        "handlerName": "transform",
        "waitSeconds": 5,
        "maxJobs": 2,
        "workerId": "worker-for-inst-1",
    }
    ack_headers = next(h for path, _, h in api.calls if path == "/jobs/ack")
    assert ack_headers["x-worker-session"] == "session-1"

    assert seen[0].stage_id == 7 and seen[0].handler == "transform"
    (ack,) = api.acks
    assert ack["token"] == "t-1" and ack["isSuccess"] is True
    assert json.loads(ack["result"]) == {"ok": True}
    assert ack["contextItems"] == [
        {"key": "total", "value": "12", "valueType": "string"},
        {"key": "currency", "value": "EUR", "valueType": "string"},
    ]
    assert [(entry["logLevel"], entry["message"]) for entry in ack["logs"]] == [
        ("Information", "region is eu"),
        ("Warning", "rounded"),
        ("Debug", "done"),
    ]
    assert all(entry["created"].endswith("Z") for entry in ack["logs"])
    assert (worker.jobs_processed, worker.jobs_failed) == (1, 0)
    assert api.shutdowns == [{"workerId": "worker-for-inst-1", "reason": "test over"}]


async def test_sync_handler_runs_in_a_thread(api: FakeAPI) -> None:
    worker = make_worker(api)
    threads: list[int] = []

    @worker.handler("fetch")
    def fetch(job: Job) -> str:
        threads.append(threading.get_ident())
        job.log("Information", "fetched")
        return f"got {job.input}"

    async with running(worker):
        api.add_job("fetch", "t-1", input="abc")
        api.add_job("fetch", "t-2")
        await api.wait_until(lambda: len(api.acks) == 2)

    assert threads and threading.get_ident() not in threads
    results = {ack["token"]: ack for ack in api.acks}
    assert results["t-1"]["result"] == "got abc"
    assert results["t-2"]["result"] == "got None"
    assert all(ack["isSuccess"] for ack in api.acks)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("bad input"), {"errorMessage": "bad input", "result": "bad input"}),
        (RetryableError("busy"), {"errorMessage": "busy", "retryable": True}),
        (
            FatalError("gone", error_code="E_GONE"),
            {"errorMessage": "gone", "retryable": False, "errorCode": "E_GONE"},
        ),
    ],
)
async def test_handler_exception_acks_failure(
    api: FakeAPI, exc: Exception, expected: dict[str, Any]
) -> None:
    worker = make_worker(api)

    @worker.handler("fetch")
    async def fetch(job: Job) -> None:
        job.log("Information", "trying")
        raise exc

    async with running(worker):
        api.add_job("fetch", "t-1")
        await api.wait_until(lambda: bool(api.acks))

    (ack,) = api.acks
    assert ack["isSuccess"] is False
    assert expected.items() <= ack.items()
    assert ack["logs"][0]["message"] == "trying"
    if isinstance(exc, RetryableError | FatalError):  # a decision: no traceback
        assert len(ack["logs"]) == 1
    else:  # a bug: no retryable flag, the traceback is attached
        assert "retryable" not in ack
        assert ack["logs"][-1]["logLevel"] == "Error"
        assert "ValueError: bad input" in ack["logs"][-1]["message"]
    assert (worker.jobs_processed, worker.jobs_failed) == (1, 1)


async def test_result_failure_and_unencodable_output(api: FakeAPI) -> None:
    worker = make_worker(api)

    @worker.handler("fetch")
    async def fetch(job: Job) -> Any:
        if job.token == "t-1":
            return Result(is_success=False, error_code="E1", error_message="no", retryable=True)
        return object()  # not JSON: reported as a failure

    async with running(worker):
        api.add_job("fetch", "t-1")
        api.add_job("fetch", "t-2")
        await api.wait_until(lambda: len(api.acks) == 2)

    results = {ack["token"]: ack for ack in api.acks}
    assert results["t-1"]["isSuccess"] is False
    assert results["t-1"]["errorCode"] == "E1" and results["t-1"]["retryable"] is True
    assert (
        results["t-2"]["isSuccess"] is False
        and "not JSON serializable" in results["t-2"]["errorMessage"]
    )


async def test_pull_401_rebootstraps_and_continues(api: FakeAPI) -> None:
    worker = make_worker(api)

    @worker.handler("fetch")
    async def fetch(job: Job) -> str:
        return "ok"

    api.pull_errors.append(401)  # the first pull finds the session expired
    api.add_job("fetch", "t-1")
    async with running(worker):
        await api.wait_until(lambda: bool(api.acks))

    assert [b["instanceId"] for b in api.bootstraps] == ["inst-1", "inst-1"]
    assert worker.worker_id == "worker-for-inst-1"
    pulls = [h["x-worker-session"] for path, _, h in api.calls if path == "/jobs/pull"]
    assert pulls[:2] == ["session-1", "session-2"]
    ack_headers = next(h for path, _, h in api.calls if path == "/jobs/ack")
    assert ack_headers["x-worker-session"] == "session-2"
    assert api.acks[0]["isSuccess"] is True


async def test_transient_pull_errors_back_off_and_continue(api: FakeAPI) -> None:
    worker = make_worker(api)

    @worker.handler("fetch")
    async def fetch(job: Job) -> str:
        return "ok"

    api.pull_errors.extend([503, 500, 502])
    api.add_job("fetch", "t-1")
    async with running(worker):
        await api.wait_until(lambda: bool(api.acks))
    assert api.paths().count("/jobs/pull") >= 4
    assert len(api.bootstraps) == 1


async def test_bootstrap_with_bad_key_raises_auth_error(api: FakeAPI) -> None:
    worker = AsyncWorker(BASE, "wrong", "w", transport=api.transport())
    worker.add_handler("fetch", lambda job: None)
    with trio.fail_after(GUARD), pytest.raises(AuthError):
        await worker.run()


async def test_ack_retries_network_errors_and_drops_409(api: FakeAPI) -> None:
    worker = make_worker(api, concurrency=1)

    @worker.handler("fetch")
    async def fetch(job: Job) -> str:
        return job.token

    api.ack_failures.extend([None, 503])  # t-1: connection error, then 503, then accepted
    async with running(worker):
        api.add_job("fetch", "t-1")
        await api.wait_until(lambda: bool(api.acks))
        api.ack_failures.append(409)  # t-2: superseded: dropped, not retried
        api.add_job("fetch", "t-2")
        await api.wait_until(lambda: api.paths().count("/jobs/ack") == 4)
        api.add_job("fetch", "t-3")
        await api.wait_until(lambda: len(api.acks) == 2)

    assert [a["token"] for a in api.acks] == ["t-1", "t-3"]
    assert api.paths().count("/jobs/ack") == 5


async def test_malformed_ack_is_replaced_by_a_bare_failure(api: FakeAPI) -> None:
    worker = make_worker(api)

    @worker.handler("fetch")
    async def fetch(job: Job) -> str:
        job.log("no-such-level", "sent as Information")
        return "ok"

    api.ack_failures.append(400)
    async with running(worker):
        api.add_job("fetch", "t-1")
        await api.wait_until(lambda: bool(api.acks))

    first = next(body for path, body, _ in api.calls if path == "/jobs/ack")
    assert first["logs"][0]["logLevel"] == "Information"
    (ack,) = api.acks
    assert ack["isSuccess"] is False and "HTTP 400: nope" in ack["errorMessage"]
    assert "logs" not in ack and "contextItems" not in ack


async def test_cancelling_run_hands_back_running_jobs(api: FakeAPI) -> None:
    worker = make_worker(api)
    started = trio.Event()

    @worker.handler("stuck")
    async def stuck(job: Job) -> None:
        started.set()
        await trio.sleep_forever()

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            api.add_job("stuck", "t-1")
            await started.wait()
            nursery.cancel_scope.cancel()  # no stop(): run() itself is cancelled

    assert api.acks == [{"token": "t-1", "requeue": True}]
    assert [s["workerId"] for s in api.shutdowns] == ["worker-for-inst-1"]


async def test_lease_is_extended_until_409(api: FakeAPI) -> None:
    worker = make_worker(api, lease_seconds=0.02)
    api.extend_answers.extend([200, 409])

    @worker.handler("slow")
    async def slow(job: Job) -> str:
        await api.wait_until(lambda: len(api.extends) == 2)
        return "done"

    async with running(worker):
        api.add_job("slow", "t-1")
        await api.wait_until(lambda: bool(api.acks))

    assert api.extends == [{"token": "t-1"}, {"token": "t-1"}]
    assert api.acks[0]["result"] == "done"


async def test_shutdown_requeues_unstarted_jobs_and_says_goodbye(api: FakeAPI) -> None:
    worker = make_worker(api, concurrency=1, extend_leases=False)
    started: list[str] = []
    release = trio.Event()

    async def work(job: Job) -> str:
        started.append(job.token)
        await release.wait()
        return "finished"

    worker.add_handler("a", work)
    worker.add_handler("b", work)
    api.pull_barrier = 2  # both pull loops get a job: one runs, one waits for the slot
    api.add_job("a", "t-a")
    api.add_job("b", "t-b")

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            await eventually(lambda: len(started) == 1 and worker.in_flight == 2)
            worker.stop("deploy")
            waiting = "t-b" if started == ["t-a"] else "t-a"
            await api.wait_until(lambda: bool(acks_for(api, waiting)))
            await api.wait_until(lambda: any(hb["state"] == "draining" for hb in api.heartbeats))
            assert not api.shutdowns  # the running job is still in its grace period
            release.set()

    assert acks_for(api, waiting) == [{"token": waiting, "requeue": True}]
    (done,) = acks_for(api, started[0])
    assert done["isSuccess"] is True and done["result"] == "finished"
    assert api.shutdowns == [{"workerId": "worker-for-inst-1", "reason": "deploy"}]
    paths = api.paths()
    assert paths.index("/workers/shutdown") > max(
        i for i, p in enumerate(paths) if p == "/jobs/ack"
    )
    assert (worker.jobs_processed, worker.jobs_failed) == (1, 0)


async def test_grace_period_over_cancels_and_requeues(api: FakeAPI) -> None:
    worker = make_worker(api, grace_period=0)
    started = trio.Event()

    @worker.handler("stuck")
    async def stuck(job: Job) -> None:
        started.set()
        await trio.sleep_forever()

    async with running(worker):
        api.add_job("stuck", "t-1")
        await started.wait()

    assert api.acks == [{"token": "t-1", "requeue": True}]
    assert len(api.shutdowns) == 1
    assert worker.jobs_processed == 0


async def test_heartbeat_reports_counters(api: FakeAPI) -> None:
    worker = make_worker(api, heartbeat_interval=0.001)

    @worker.handler("fetch")
    async def fetch(job: Job) -> None:
        raise RuntimeError("boom")

    async with running(worker):
        api.add_job("fetch", "t-1")
        await api.wait_until(lambda: any(hb["jobsFailed"] == 1 for hb in api.heartbeats))

    beat = next(hb for hb in api.heartbeats if hb["jobsFailed"] == 1)
    assert beat["workerId"] == "worker-for-inst-1"
    assert beat["state"] == "ready"
    assert beat["jobsProcessed"] == 1
    assert {"inFlightJobs", "uptimeSec"} <= beat.keys()
    hb_headers = next(h for path, _, h in api.calls if path == "/workers/heartbeat")
    assert hb_headers["x-worker-session"] == "session-1"


def test_handler_registration_errors() -> None:
    worker = AsyncWorker(BASE, "key-1", "w")
    worker.add_handler("a", lambda job: None)
    with pytest.raises(ValueError, match="already registered"):
        worker.add_handler("a", lambda job: None)
    with pytest.raises(ValueError):
        AsyncWorker(BASE, "key-1", "w", concurrency=0)


# -- blocking worker, in a thread, on both backends ------------------------------------------


class ThreadedFakeAPI:
    """A synchronous fake for a worker running its own event loop in another thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs = [make_message("t-1", "fetch", input="x")]
        self.acks: list[dict[str, Any]] = []
        self.ack_batches: list[int] = []  # sizes of the `{acks: [...]}` requests
        self.shutdowns: list[dict[str, Any]] = []
        self.acked = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        path = request.url.path
        with self.lock:
            if path == "/workers/bootstrap":
                return httpx.Response(200, json={"workerId": "w-1", "workerSessionToken": "s-1"})
            if path == "/jobs/pull":
                if self.jobs:
                    return httpx.Response(200, json={"jobs": [self.jobs.pop()]})
                return httpx.Response(503, text="empty\n")  # makes the worker back off
            if path == "/jobs/ack":
                self.acks.append(body)
                self.acked.set()
            if path == "/workers/shutdown":
                self.shutdowns.append(body)
            return httpx.Response(200, json={"status": "ok"})


def _wait(event: threading.Event) -> None:
    assert event.wait(GUARD)


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
async def test_blocking_worker_in_a_thread(backend: str) -> None:
    fake = ThreadedFakeAPI()
    worker = Worker(
        BASE,
        "key-1",
        "blocking",
        backend=backend,
        transport=httpx.MockTransport(fake),
        backoff_base=0.001,
        backoff_max=0.005,
    )

    @worker.handler("fetch")
    def fetch(job: Job) -> str:
        return job.input or ""

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(trio.to_thread.run_sync, worker.run))
            await trio.to_thread.run_sync(_wait, fake.acked)
            await trio.to_thread.run_sync(worker.stop, "done")  # from a plain thread

    assert fake.acks == [
        {"token": "t-1", "isSuccess": True, "result": "x", "logs": [], "contextItems": []}
    ]
    assert fake.shutdowns == [{"workerId": "w-1", "reason": "done"}]
    assert worker.jobs_processed == 1


# -- prefetch ---------------------------------------------------------------------------------


def pull_bodies(api: FakeAPI) -> list[dict[str, Any]]:
    return [body for path, body, _ in api.calls if path == "/jobs/pull"]


async def test_prefetch_pulls_ahead_and_hands_back_what_never_started(api: FakeAPI) -> None:
    worker = make_worker(api, concurrency=1, prefetch=2, extend_leases=False)
    started: list[str] = []
    release = trio.Event()

    @worker.handler("h")
    async def h(job: Job) -> str:
        started.append(job.token)
        await release.wait()
        return "done"

    for n in range(4):
        api.add_job("h", f"t-{n}")
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            await eventually(lambda: worker.in_flight == 3 and len(started) == 1)
            assert pull_bodies(api)[0]["maxJobs"] == 3  # one slot + two ahead
            assert len(started) == 1 and [m["token"] for m in api.queues["h"]] == ["t-3"]
            worker.stop("deploy")  # it holds 3 (one running, two waiting), not 4
            await api.wait_until(lambda: len(api.acks) == 2)  # the two waiting: handed back
            release.set()
    waiting = sorted({"t-0", "t-1", "t-2"} - set(started))
    assert sorted(a["token"] for a in api.acks if a.get("requeue")) == waiting
    assert [a["token"] for a in api.acks if a.get("isSuccess")] == started


def test_prefetch_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="prefetch"):
        AsyncWorker(BASE, "k", "w", prefetch=-1)


async def test_automatic_prefetch_follows_how_long_jobs_take(api: FakeAPI) -> None:
    worker = make_worker(api, concurrency=2)
    assert worker.prefetch is None
    slots = Slots(2)
    worker._slots = slots
    assert slots.free == 2  # nothing ahead before any job has run
    worker._timed(0.01)
    assert slots.ahead == 6 and slots.free == 8  # quick jobs: three concurrencies' worth ahead
    for _ in range(3):
        worker._timed(3.0)
    assert slots.ahead == 0 and slots.free == 2  # slow ones: only what can run now
    fixed = make_worker(api, concurrency=2, prefetch=1)
    fixed._slots = Slots(2, 1)
    fixed._timed(5.0)
    assert fixed._slots.ahead == 1  # an explicit prefetch stays as it is
