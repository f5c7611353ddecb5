"""The wire forms other SDKs depend on (SPEC §4): the .NET SDK's PascalCase bodies and
headers, the original's token-only ack, `{queue}` pulls and single-event form, and every
credential spelling of the credentials table."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import Api
from dbsnapshot import query

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def dotnet_create_body(name: str = "dotnet", handler: str = "dotnet-h") -> dict[str, Any]:
    """What the .NET SDK serialises for `CreatePipeline` (PascalCase, nulls included)."""
    return {
        "Name": name,
        "Stages": [{
            "StageName": "first",
            "StageHandlerName": handler,
            "Description": "a stage from .NET",
            "Input": '{"orderId": 42}',
            "IsEvent": False,
            "Options": {"RetryInterval": 5, "MaxRetries": 2, "TimeOut": None,
                        "RunNextIfFailed": False, "DependsOn": None, "RunInParallelWith": []},
        }],
        "PipelineKeywords": [{"Key": "k", "Value": "v"}],
        "PipelineContextItems": [{"Key": "traceparent", "Value": f'"{TRACEPARENT}"',
                                  "ValueType": "string"}],
    }


async def test_dotnet_pascalcase_create(api: Api) -> None:
    r = await api.external.post("/pipelines", headers=api.key(), json=dotnet_create_body())
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["traceId"] == TRACE_ID
    assert p["name"] == "dotnet"
    [stage] = p["stages"]
    assert stage["name"] == "first"
    assert stage["stageHandlerName"] == "dotnet-h"
    assert stage["description"] == "a stage from .NET"
    assert stage["input"] == '{"orderId": 42}'
    assert stage["isEvent"] is False
    assert stage["options"]["maxRetries"] == 2
    assert stage["options"]["retryInterval"] == 5
    assert stage["options"].get("timeOut") is None  # null = absent
    detail = await api.pipeline(p["id"])
    assert {(k["key"], k["value"]) for k in detail["pipelineKeywords"]} == {("k", "v")}
    [ctx] = [c for c in detail["pipelineContextItems"] if c["key"] == "traceparent"]
    assert ctx["valueType"] == "string"
    # The job carries the pipeline's trace.
    job = (await api.pull("dotnet-h")).json()
    assert job["payload"]["traceId"] == TRACE_ID
    assert job["payload"]["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert job["headers"]["traceparent"] == job["payload"]["traceparent"]
    assert job["payload"]["input"] == '{"orderId": 42}'


async def test_unquoted_traceparent_and_explicit_trace_id(api: Api) -> None:
    body = dotnet_create_body()
    body["PipelineContextItems"][0]["Value"] = TRACEPARENT
    r = await api.external.post("/pipelines", headers=api.key(), json=body)
    assert r.status_code == 200, r.text
    assert r.json()["traceId"] == TRACE_ID
    explicit = "1" * 32
    r = await api.external.post("/pipelines", headers=api.key(),
                                json={**body, "TraceId": explicit})
    assert r.status_code == 200, r.text
    assert r.json()["traceId"] == explicit  # an explicit trace id wins over the context


async def test_keys_match_case_insensitively_and_unknown_keys_are_ignored(api: Api) -> None:
    r = await api.external.post("/pipelines", headers=api.key(), json={
        "NAME": "shouty", "sTaGeS": [{"STAGENAME": "a", "stagehandlername": "h",
                                      "SomethingNew": {"x": 1}}],
        "FutureField": [1, 2, 3], "IdempotencyKey": None, "TraceId": None})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "shouty"
    assert r.json()["stages"][0]["stageHandlerName"] == "h"


async def test_idempotency_key_returns_the_first_pipeline(api: Api) -> None:
    body = {**dotnet_create_body(), "IdempotencyKey": "order-42"}
    first = await api.external.post("/pipelines", headers=api.key(), json=body)
    again = await api.external.post("/pipelines", headers=api.key(),
                                    json={**body, "Name": "other name"})
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["name"] == "dotnet"


# -- the .NET worker lifecycle over plain HTTP ------------------------------------------------

def bootstrap_body(instance: str, handler: str) -> dict[str, Any]:
    return {"WorkerName": "dotnet-worker", "InstanceId": instance, "WorkerVersion": "1.2.3",
            "SdkVersion": "0.9.0", "HostName": "build-host", "Pid": 4242,
            "SupportedHandlers": [handler]}


async def test_dotnet_worker_lifecycle(api: Api) -> None:
    ext, handler = api.external, "dotnet-lifecycle"

    # bootstrap with X-API-Key and a PascalCase body
    r = await ext.post("/workers/bootstrap", headers=api.key(),
                       json=bootstrap_body("inst-1", handler))
    assert r.status_code == 200, r.text
    boot = r.json()
    worker_id, session = boot["workerId"], boot["workerSessionToken"]
    assert worker_id and session
    assert boot["application"]["appId"] == api.running.services.settings.app_id
    assert boot["application"]["applicationId"] == api.application_id
    assert boot["application"]["applicationName"] == "default"
    assert boot["messageBroker"]["type"] == "http"
    assert "connectionString" not in boot["messageBroker"]
    pattern = boot["queues"]["stageNextPattern"]
    assert pattern.count("{handler}") == 1 and pattern.endswith("{handler}")
    assert str(api.application_id) in pattern
    for name in ("stageResult", "stageSetStatus", "stageUpdatedFanout"):
        assert boot["queues"][name]
    assert boot["heartbeat"]["intervalSec"] > 0
    assert boot["heartbeat"]["offlineAfterSec"] > boot["heartbeat"]["intervalSec"]
    s = {"X-Worker-Session": session}

    # heartbeat
    r = await ext.post("/workers/heartbeat", headers=s, json={
        "WorkerId": worker_id, "State": "Ready", "UptimeSec": 1.5, "InFlightJobs": 0,
        "JobsProcessed": 0, "JobsFailed": 0, "BrokerConnected": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "workerId": worker_id}

    # the single-event form
    r = await ext.post("/workers/events", headers=s, json={
        "WorkerId": worker_id, "Type": "started", "Message": "worker started",
        "Metadata": {"threads": 4}})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "acceptedCount": 1, "workerId": worker_id}

    # the batch form
    r = await ext.post("/workers/events", headers=s, json={"WorkerId": worker_id, "Events": [
        {"Ts": "2030-01-01T00:00:00Z", "Level": "Information", "EventType": "custom",
         "Message": "one", "Details": {"a": 1}},
        {"Level": "Warning", "EventType": "custom", "Message": "two"},
    ]})
    assert r.status_code == 200, r.text
    assert r.json()["acceptedCount"] == 2
    db = api.running.services.settings.sqlite_path
    events = query(db, "SELECT event_type, level, message, details FROM worker_events"
                       " WHERE worker_id = ? ORDER BY id", worker_id)
    assert [(e["event_type"], e["message"]) for e in events][-3:] == [
        ("started", "worker started"), ("custom", "one"), ("custom", "two")]
    assert json.loads(events[-3]["details"]) == {"threads": 4}
    assert [e["level"] for e in events][-2:] == ["Information", "Warning"]

    # the original's {queue} pull with the full queue name
    p = await api.create([{"stageName": "only", "stageHandlerName": handler}])
    r = await ext.post("/jobs/pull", headers=s,
                       json={"Queue": pattern.replace("{handler}", handler), "WaitSeconds": 5})
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["queue"] == pattern.replace("{handler}", handler)
    assert job["payload"]["pipelineId"] == p["id"]
    assert job["payload"]["stageHandlerName"] == handler
    assert isinstance(job["payload"]["stageId"], int)

    # the original's token-only ack
    r = await ext.post("/jobs/ack", headers=s, json={"Token": job["token"]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    done = await api.wait_status(p["id"], "Completed")
    assert [st["status"] for st in done["stages"]] == ["Completed"]

    # re-bootstrap of the same instance: same worker id, the old token is refused
    r = await ext.post("/workers/bootstrap", headers=api.key(),
                       json=bootstrap_body("inst-1", handler))
    assert r.status_code == 200, r.text
    assert r.json()["workerId"] == worker_id
    new_session = r.json()["workerSessionToken"]
    assert new_session != session
    r = await ext.post("/workers/heartbeat", headers=s, json={"WorkerId": worker_id})
    assert r.status_code == 401, r.text
    s = {"X-Worker-Session": new_session}
    r = await ext.post("/workers/heartbeat", headers=s, json={"WorkerId": worker_id})
    assert r.status_code == 200, r.text

    # shutdown, then the session is refused everywhere
    r = await ext.post("/workers/shutdown", headers=s,
                       json={"WorkerId": worker_id, "Reason": "deploy"})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "workerId": worker_id}
    for path, body in (("/workers/heartbeat", {"WorkerId": worker_id}),
                       ("/workers/events", {"WorkerId": worker_id, "Type": "x"}),
                       ("/workers/shutdown", {"WorkerId": worker_id}),
                       ("/jobs/pull", {"HandlerName": handler})):
        r = await ext.post(path, headers=s, json=body)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["content-type"].startswith("text/plain")

    workers = (await api.internal.get("/api/workers")).json()
    [w] = [w for w in workers if w["id"] == worker_id]
    assert w["state"] == "stopped"
    assert (w["name"], w["instanceId"], w["hostName"], w["version"], w["sdkVersion"],
            w["handlers"]) == ("dotnet-worker", "inst-1", "build-host", "1.2.3", "0.9.0",
                               [handler])
    assert w["processed"] == 1


async def test_dotnet_pascalcase_ack_with_logs_and_context(api: Api) -> None:
    """The .NET SDK's full result: PascalCase, numeric LogLevel (the LogLevel enum), .NET's
    seven fractional digits in times, context items to upsert."""
    p = await api.create([{"stageName": "a", "stageHandlerName": "pc"},
                          {"stageName": "b", "stageHandlerName": "pc"}])
    job = (await api.pull("pc", wait=5)).json()
    r = await api.external.post("/jobs/ack", headers=api.key(), json={
        "Token": job["token"], "IsSuccess": True, "Result": "from .NET", "ErrorCode": None,
        "ErrorMessage": None, "Retryable": None,
        "Logs": [{"Message": "warned", "LogLevel": 3, "Created": "2030-01-02T03:04:05.1234567Z"},
                 {"Message": "named", "LogLevel": "Error",
                  "Created": "2030-01-02T05:04:06.5+02:00"}],
        "ContextItems": [{"Key": "orderId", "Value": "42", "ValueType": "int"}]})
    assert r.status_code == 200, r.text
    second = (await api.pull("pc", wait=5)).json()
    ctx = {c["key"]: c for c in second["payload"]["contextItems"]}
    assert ctx["orderId"]["value"] == "42" and ctx["orderId"]["valueType"] == "int"
    assert (await api.ack(second["token"])).status_code == 200
    done = await api.wait_status(p["id"], "Completed")
    first = done["stages"][0]
    assert first["output"] == "from .NET"
    logs = {line["message"]: line for line in first["logs"]}
    assert logs["warned"]["logLevel"] == "Warning"
    assert logs["warned"]["created"].startswith("2030-01-02T03:04:05.123")
    assert logs["named"]["logLevel"] == "Error"
    assert logs["named"]["created"].startswith("2030-01-02T03:04:06.5")


async def test_dotnet_failure_ack_schedules_the_retry(api: Api) -> None:
    p = await api.create([{"stageName": "a", "stageHandlerName": "pf",
                           "options": {"maxRetries": 1, "retryInterval": 3600}}])
    job = (await api.pull("pf", wait=5)).json()
    r = await api.external.post("/jobs/ack", headers=api.key(), json={
        "Token": job["token"], "IsSuccess": False, "ErrorCode": "E42",
        "ErrorMessage": "boom", "Retryable": True})
    assert r.status_code == 200, r.text
    doc = await api.pipeline(p["id"])
    assert doc["stages"][0]["status"] == "RetryScheduled"
    r = await api.external.post("/jobs/ack", headers=api.key(), json={
        "Token": job["token"], "IsSuccess": True})
    assert r.status_code == 200, r.text  # the same token again: idempotent, not re-applied
    assert (await api.pipeline(p["id"]))["stages"][0]["status"] == "RetryScheduled"


async def test_shutdown_hands_held_jobs_back(api: Api) -> None:
    """Jobs a worker still holds when it shuts down are lost attempts: delivered again."""
    ext, handler = api.external, "held"
    boot = (await ext.post("/workers/bootstrap", headers=api.key(),
                           json=bootstrap_body("inst-held", handler))).json()
    s = {"X-Worker-Session": boot["workerSessionToken"]}
    await api.create([{"stageName": "a", "stageHandlerName": handler}])
    first = (await ext.post("/jobs/pull", headers=s, json={"handlerName": handler,
                                                           "waitSeconds": 5})).json()
    r = await ext.post("/workers/shutdown", headers=s, json={"message": "bye"})
    assert r.status_code == 200, r.text
    again = await api.pull(handler, wait=5)
    assert again.status_code == 200, again.text
    assert again.json()["payload"]["stageId"] == first["payload"]["stageId"]
    assert again.json()["payload"]["attempt"] == first["payload"]["attempt"] + 1
    r = await api.ack(first["token"])
    assert r.status_code == 409, r.text


async def test_heartbeat_counts_are_kept(api: Api) -> None:
    boot = (await api.external.post("/workers/bootstrap", headers=api.key(),
                                    json=bootstrap_body("inst-hb", "x"))).json()
    s = {"X-Worker-Token": boot["workerSessionToken"]}  # the alternative header
    r = await api.external.post("/workers/heartbeat", headers=s, json={
        "workerId": boot["workerId"], "state": "degraded", "inFlightJobs": 3,
        "jobsProcessed": 10, "jobsFailed": 1, "lastError": "disk full"})
    assert r.status_code == 200, r.text
    workers = (await api.internal.get("/api/workers")).json()
    [w] = [w for w in workers if w["id"] == boot["workerId"]]
    assert (w["state"], w["inFlight"], w["processed"], w["failed"]) == ("degraded", 3, 10, 1)


# -- credential spellings ---------------------------------------------------------------------

async def test_bearer_api_key_on_create(api: Api) -> None:
    r = await api.external.post("/pipelines", headers={"Authorization": f"Bearer {api.api_key}"},
                                json=dotnet_create_body())
    assert r.status_code == 200, r.text


async def test_bearer_session_token_on_pull_and_ack(api: Api) -> None:
    handler = "bearer-h"
    boot = (await api.external.post("/workers/bootstrap", headers=api.key(),
                                    json=bootstrap_body("inst-bearer", handler))).json()
    bearer = {"Authorization": f"Bearer {boot['workerSessionToken']}"}
    p = await api.create([{"stageName": "a", "stageHandlerName": handler}])
    r = await api.external.post("/jobs/pull", headers=bearer,
                                json={"handlerName": handler, "waitSeconds": 5})
    assert r.status_code == 200, r.text
    job = r.json()
    r = await api.external.post("/jobs/extend", headers=bearer,
                                json={"token": job["token"], "seconds": 30})
    assert r.status_code == 200, r.text
    assert r.json()["leaseUntil"]
    r = await api.external.post("/jobs/ack", headers=bearer,
                                json={"token": job["token"], "isSuccess": True, "result": "ok"})
    assert r.status_code == 200, r.text
    done = await api.wait_status(p["id"], "Completed")
    assert done["stages"][0]["output"] == "ok"
    # The session's worker is credited with the job.
    workers = (await api.internal.get("/api/workers")).json()
    [w] = [w for w in workers if w["id"] == boot["workerId"]]
    assert w["processed"] == 1, w


async def test_bearer_api_key_on_pull(api: Api) -> None:
    """A Bearer value that is not a session token is tried as an API key."""
    r = await api.external.post("/jobs/pull", headers={"Authorization": f"Bearer {api.api_key}"},
                                json={"handlerName": "nobody", "waitSeconds": 0})
    assert r.status_code == 204, r.text


@pytest.mark.parametrize("how", ["apikey_header", "query", "body", "bearer", "x_api_key"])
async def test_api_key_spellings_on_create(api: Api, how: str) -> None:
    body: dict[str, Any] = dotnet_create_body(name=how)
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if how == "apikey_header":
        headers["apikey"] = api.api_key
    elif how == "query":
        params["apiKey"] = api.api_key
    elif how == "body":
        body["ApiKey"] = api.api_key
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {api.api_key}"
    else:
        headers["x-api-key"] = api.api_key  # header names are case-insensitive
    r = await api.external.post("/pipelines", headers=headers, params=params, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == how


@pytest.mark.parametrize("how", ["apikey_header", "query", "body"])
async def test_api_key_spellings_on_jobs(api: Api, how: str) -> None:
    handler = f"spell-{how}"
    await api.create([{"stageName": "a", "stageHandlerName": handler}])
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    body: dict[str, Any] = {"handlerName": handler, "waitSeconds": 5}
    if how == "apikey_header":
        headers["apikey"] = api.api_key
    elif how == "query":
        params["apiKey"] = api.api_key
    else:
        body["apiKey"] = api.api_key
    r = await api.external.post("/jobs/pull", headers=headers, params=params, json=body)
    assert r.status_code == 200, r.text
    ack = {"token": r.json()["token"]} | ({"apiKey": api.api_key} if how == "body" else {})
    r = await api.external.post("/jobs/ack", headers=headers, params=params, json=ack)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("how", ["apikey_header", "query", "bearer"])
async def test_api_key_spellings_on_bootstrap_and_logs(api: Api, how: str) -> None:
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if how == "apikey_header":
        headers["apikey"] = api.api_key
    elif how == "query":
        params["apiKey"] = api.api_key
    else:
        headers["Authorization"] = f"Bearer {api.api_key}"
    r = await api.external.post("/workers/bootstrap", headers=headers, params=params,
                                json={"workerName": how})
    assert r.status_code == 200, r.text
    r = await api.external.post("/logs", headers=headers, params=params,
                                json={"Message": "hello", "LogLevel": 2})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("how", ["x_worker_token", "bearer", "query"])
async def test_session_spellings_on_worker_routes(api: Api, how: str) -> None:
    boot = (await api.external.post("/workers/bootstrap", headers=api.key(),
                                    json={"workerName": how})).json()
    token = boot["workerSessionToken"]
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if how == "x_worker_token":
        headers["X-Worker-Token"] = token
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    else:
        params["workerSessionToken"] = token
    for path, body in (("/workers/heartbeat", {"state": "ready"}),
                       ("/workers/events", {"type": "ping", "message": "m"}),
                       ("/workers/shutdown", {})):
        r = await api.external.post(path, headers=headers, params=params, json=body)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["workerId"] == boot["workerId"]


async def test_version_health_and_openapi_need_no_credentials(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.running.external_url) as anonymous:
        for path in ("/healthz", "/readyz", "/version"):
            r = await anonymous.get(path)
            assert r.status_code == 200, (path, r.text)
        v = (await anonymous.get("/version")).json()
        assert {"version", "commit", "buildDate"} <= set(v)
        r = await anonymous.get("/openapi.json")
        assert r.status_code == 200, r.text
        assert r.json()["openapi"].startswith("3.")
