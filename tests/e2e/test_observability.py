"""Observability on the internal API (SPEC §7, §8): integration configs (validation, masked
secrets that never leave the server in full, Admin-only changes), status, traces with deep
links and insights — all scoped to the user's applications."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conftest import Api
from dbsnapshot import query, snapshot
from test_admin_support import Member, other_tenant

OTEL_TOKEN = "Bearer otel-secret-token-0123456789"
ALERT_SECRET = "alert-signing-secret-abcdef"
GRAFANA_TOKEN = "glsa_grafana-secret-token-xyz"
SECRETS = (OTEL_TOKEN, ALERT_SECRET, GRAFANA_TOKEN, "short-key")
CONFIGS: dict[str, dict[str, Any]] = {
    "opentelemetry": {"enabled": True, "endpoint": "http://collector:4318",
                      "headers": {"Authorization": OTEL_TOKEN, "X-Short": "short-key"},
                      "serviceName": "pipelogiq"},
    "alerting": {"enabled": True, "webhookUrl": "https://hooks.example.com/x", "channel": "slack",
                 "secret": ALERT_SECRET, "events": ["pipeline.failed", "stage.failed"]},
    "grafana": {"enabled": False, "baseUrl": "https://grafana.example.com", "dashboardUid": "abc-1",
                "apiToken": GRAFANA_TOKEN},
    "logs": {"traceLinkTemplate": "https://tempo.example.com/trace/{traceId}",
             "logsLinkTemplate": "https://logs.example.com/?q=pipeline%3A{pipelineId}&app={applicationId}"},
}


def db(api: Api) -> str:
    return api.running.services.settings.sqlite_path


def no_secrets(*responses: httpx.Response) -> None:
    for r in responses:
        for secret in SECRETS:
            assert secret not in r.text, (secret, r.request.url)


async def put(client: httpx.AsyncClient, kind: str, config: Any) -> httpx.Response:
    return await client.put("/api/observability/config", json={"kind": kind, "config": config})


async def configure_all(api: Api) -> None:
    for kind, config in CONFIGS.items():
        r = await put(api.internal, kind, config)
        assert r.status_code == 200, r.text


def by_kind(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["kind"]: item for item in doc["integrations"]}


@pytest.fixture
async def bob(api: Api) -> AsyncIterator[Member]:
    async with other_tenant(api) as member:
        yield member


# -- config ----------------------------------------------------------------------------------

async def test_nothing_is_configured_at_first(api: Api) -> None:
    r = await api.internal.get("/api/observability/config")
    assert r.status_code == 200, r.text
    assert r.json() == {"integrations": [
        {"kind": k, "configured": False, "config": None, "updatedAt": None}
        for k in ("opentelemetry", "alerting", "grafana", "logs")]}
    status = by_kind((await api.internal.get("/api/observability/status")).json())
    assert all(not s["configured"] and not s["enabled"] and s["lastTest"] is None
               for s in status.values())
    assert [k for k, s in status.items() if s["testable"]] == ["opentelemetry", "alerting",
                                                                "grafana"]


async def test_configs_are_stored_and_secrets_masked(api: Api) -> None:
    responses = []
    for kind, config in CONFIGS.items():
        r = await put(api.internal, kind, config)
        assert r.status_code == 200, r.text
        assert r.json()["kind"] == kind and r.json()["configured"] is True
        responses.append(r)
    got = await api.internal.get("/api/observability/config")
    status = await api.internal.get("/api/observability/status")
    no_secrets(got, status, *responses)
    docs = {k: v["config"] for k, v in by_kind(got.json()).items()}
    assert docs["opentelemetry"] == {**CONFIGS["opentelemetry"],
                                     "headers": {"Authorization": "Bear…", "X-Short": "…"}}
    assert docs["alerting"] == {**CONFIGS["alerting"], "secret": "aler…"}
    assert docs["grafana"] == {**CONFIGS["grafana"], "apiToken": "glsa…"}
    assert docs["logs"] == CONFIGS["logs"]
    # stored in full
    stored = {r["kind"]: json.loads(r["config"])
              for r in query(db(api), "SELECT kind, config FROM integration_configs")}
    assert stored["alerting"]["secret"] == ALERT_SECRET
    assert stored["opentelemetry"]["headers"]["Authorization"] == OTEL_TOKEN
    s = by_kind(status.json())
    assert (s["opentelemetry"]["enabled"], s["alerting"]["enabled"]) == (True, True)
    assert (s["grafana"]["configured"], s["grafana"]["enabled"]) == (True, False)
    assert (s["logs"]["configured"], s["logs"]["enabled"]) == (True, True)


async def test_masked_secrets_sent_back_keep_the_stored_ones(api: Api) -> None:
    await configure_all(api)
    docs = {k: v["config"] for k, v in
            by_kind((await api.internal.get("/api/observability/config")).json()).items()}
    for kind, config in docs.items():
        edited = {**config, "enabled": True} if kind != "logs" else config
        r = await put(api.internal, kind, edited)
        assert r.status_code == 200, r.text
        no_secrets(r)
    stored = {r["kind"]: json.loads(r["config"])
              for r in query(db(api), "SELECT kind, config FROM integration_configs")}
    assert stored["opentelemetry"]["headers"] == CONFIGS["opentelemetry"]["headers"]
    assert stored["alerting"]["secret"] == ALERT_SECRET
    assert stored["grafana"]["apiToken"] == GRAFANA_TOKEN
    assert stored["grafana"]["enabled"] is True
    # leaving a secret out removes it; a new value replaces it
    r = await put(api.internal, "alerting", {**CONFIGS["alerting"], "secret": None})
    assert r.status_code == 200 and "secret" not in r.json()["config"]
    r = await put(api.internal, "grafana", {**CONFIGS["grafana"], "apiToken": "new-token-123456"})
    assert r.json()["config"]["apiToken"] == "new-…"


async def test_a_masked_value_that_does_not_match_is_refused(api: Api) -> None:
    await configure_all(api)
    before = snapshot(db(api))
    for kind, config, message in [
        ("alerting", {**CONFIGS["alerting"], "secret": "zzzz…"}, "alerting.secret: is a masked"),
        ("grafana", {**CONFIGS["grafana"], "apiToken": "…"}, "grafana.apiToken: is a masked"),
        ("opentelemetry", {**CONFIGS["opentelemetry"], "headers": {"X-New": "abcd…"}},
         "opentelemetry.headers.X-New: is a masked"),
    ]:
        r = await put(api.internal, kind, config)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["message"].startswith(message)
        no_secrets(r)
    assert snapshot(db(api)) == before


@pytest.mark.parametrize(("kind", "config", "message"), [
    ("opentelemetry", {"enabled": True}, "opentelemetry.endpoint is required when enabled"),
    ("opentelemetry", {"enabled": "yes", "endpoint": "http://x"}, "opentelemetry.enabled: expected true or false"),
    ("opentelemetry", {"endpoint": "ftp://collector"}, "opentelemetry.endpoint: must be an http or https URL"),
    ("opentelemetry", {"endpoint": "collector:4318"}, "opentelemetry.endpoint: must be an http or https URL"),
    ("opentelemetry", {"endpoint": "http://"}, "opentelemetry.endpoint: must be an http or https URL"),
    ("opentelemetry", {"endpoint": "http://x:99999"}, "opentelemetry.endpoint: has an invalid port"),
    ("opentelemetry", {"endpoint": "http://a b"}, "opentelemetry.endpoint: must not contain spaces"),
    ("opentelemetry", {"endpoint": "http://u:short-key@x"}, "opentelemetry.endpoint: must not carry credentials"),
    ("opentelemetry", {"endpoint": "http://x", "headers": ["a"]}, "opentelemetry.headers: expected an object"),
    ("opentelemetry", {"endpoint": "http://x", "headers": {"Bad Name": "short-key"}},
     "opentelemetry.headers: a header name is not a valid HTTP token"),
    ("opentelemetry", {"endpoint": "http://x", "headers": {"X": "short-key\r\nEvil: 1"}},
     "opentelemetry.headers.X: must not contain line breaks"),
    ("opentelemetry", {"endpoint": "http://x", "headers": {"X": 5}}, "opentelemetry.headers.X: expected"),
    ("opentelemetry", {"endpoint": "http://x", "headers": {"X": "clé"}},
     "opentelemetry.headers.X: must be printable ASCII"),
    ("opentelemetry", {"endpoint": "http://x", "serviceName": 1}, "opentelemetry.serviceName: expected a string"),
    ("alerting", {"enabled": True}, "alerting.webhookUrl is required when enabled"),
    ("alerting", {"webhookUrl": "mailto:ops@example.com"}, "alerting.webhookUrl: must be an http or https URL"),
    ("alerting", {"webhookUrl": "http://x", "channel": "pager"}, "alerting.channel: must be one of webhook, slack, teams"),
    ("alerting", {"webhookUrl": "http://x", "events": "all"}, "alerting.events: expected an array of strings"),
    ("alerting", {"webhookUrl": "http://x", "events": ["boom"]}, "alerting.events: unknown boom"),
    ("alerting", {"webhookUrl": "http://x", "secret": 12}, "alerting.secret: expected a string"),
    ("grafana", {"enabled": True}, "grafana.baseUrl is required when enabled"),
    ("grafana", {"baseUrl": "http://g", "dashboardUid": "no spaces"}, "grafana.dashboardUid: 1 to 40"),
    ("grafana", {"baseUrl": "http://g", "apiToken": "tøken"}, "grafana.apiToken: must be printable ASCII"),
    ("logs", {"traceLinkTemplate": "https://tempo/trace"}, "logs.traceLinkTemplate: must contain a {traceId} or {pipelineId}"),
    ("logs", {"logsLinkTemplate": "https://l/{applicationId}"}, "logs.logsLinkTemplate: must contain a {traceId}"),
    ("logs", {"traceLinkTemplate": "https://t/{spanId}/{traceId}"}, "logs.traceLinkTemplate: unknown placeholder {spanId}"),
    ("logs", {"traceLinkTemplate": "https://t/{traceId}}"}, "logs.traceLinkTemplate: has an unbalanced"),
    ("logs", {"traceLinkTemplate": "{traceId}"}, "logs.traceLinkTemplate: must be an http or https URL"),
    ("logs", {"traceLinkTemplate": 7}, "logs.traceLinkTemplate: expected a string"),
    ("logs", [], "logs: expected an object"),
])
async def test_invalid_config_is_400_and_changes_nothing(api: Api, kind: str, config: Any,
                                                         message: str) -> None:
    await configure_all(api)
    before = snapshot(db(api))
    r = await put(api.internal, kind, config)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith(message)
    no_secrets(r)
    assert snapshot(db(api)) == before


@pytest.mark.parametrize(("body", "message"), [
    ({"config": {}}, "kind is required"),
    ({"kind": "prometheus", "config": {}}, "kind: must be one of opentelemetry, alerting, grafana, logs"),
    ({"kind": "logs"}, "config is required"),
    ({"kind": 3, "config": {}}, "kind: expected a string"),
])
async def test_bad_put_bodies(api: Api, body: dict[str, Any], message: str) -> None:
    before = snapshot(db(api))
    r = await api.internal.put("/api/observability/config", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == message
    assert snapshot(db(api)) == before


async def test_only_an_admin_changes_configs(api: Api, bob: Member) -> None:
    await configure_all(api)
    before = snapshot(db(api))
    r = await put(bob.client, "logs", CONFIGS["logs"])
    assert r.status_code == 403
    r = await bob.client.post("/api/observability/test", json={"kind": "alerting"})
    assert r.status_code == 403
    assert snapshot(db(api)) == before
    got = await bob.client.get("/api/observability/config")
    status = await bob.client.get("/api/observability/status")
    assert got.status_code == status.status_code == 200
    assert by_kind(got.json())["alerting"]["config"]["secret"] == "aler…"
    no_secrets(got, status)


async def test_an_unchanged_save_keeps_the_timestamp(api: Api) -> None:
    first = (await put(api.internal, "logs", CONFIGS["logs"])).json()
    again = (await put(api.internal, "logs", CONFIGS["logs"])).json()
    assert first == again


# -- traces ----------------------------------------------------------------------------------

async def test_traces_with_deep_links_scoped_to_the_user(api: Api, bob: Member) -> None:
    a1 = await api.create([{"stageName": "s", "stageHandlerName": "h"},
                           {"stageName": "t", "stageHandlerName": "h"}], name="alpha")
    a2 = await api.create([{"stageName": "s", "stageHandlerName": "h"}], name="beta")
    r = await api.external.post("/pipelines", headers={"X-API-Key": bob.key}, json={
        "name": "bees", "stages": [{"stageName": "s", "stageHandlerName": "h"}]})
    b = r.json()

    r = await api.internal.get("/api/observability/traces",
                               params={"applicationId": api.application_id})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["totalCount"], doc["pageNumber"], doc["pageSize"]) == (2, 1, 20)
    assert [t["pipelineId"] for t in doc["items"]] == [a2["id"], a1["id"]]
    first = doc["items"][1]
    assert (first["traceId"], first["name"], first["spansCount"]) == (a1["traceId"], "alpha", 2)
    assert "traceUrl" not in first and "logsUrl" not in first

    await put(api.internal, "logs", CONFIGS["logs"])
    items = (await api.internal.get("/api/observability/traces")).json()["items"]
    assert [t["pipelineId"] for t in items] == [b["id"], a2["id"], a1["id"]]
    assert items[2]["traceUrl"] == f"https://tempo.example.com/trace/{a1['traceId']}"
    assert items[2]["logsUrl"] == (f"https://logs.example.com/?q=pipeline%3A{a1['id']}"
                                   f"&app={api.application_id}")

    mine = (await bob.client.get("/api/observability/traces")).json()
    assert [t["pipelineId"] for t in mine["items"]] == [b["id"]]
    other = await bob.client.get("/api/observability/traces",
                                 params={"applicationId": api.application_id})
    assert other.json()["items"] == [] and other.json()["totalCount"] == 0

    async def ids(**params: Any) -> list[int]:
        r = await api.internal.get("/api/observability/traces", params=params)
        assert r.status_code == 200, r.text
        return [t["pipelineId"] for t in r.json()["items"]]

    assert await ids(search="alp") == [a1["id"]]
    assert await ids(search=a2["traceId"].upper()) == [a2["id"]]
    assert await ids(status="Cancelled") == []
    assert await ids(pageSize=1, pageNumber=2) == [a2["id"]]


@pytest.mark.parametrize(("params", "message"), [
    ({"pageSize": 500}, "pageSize between 1 and 200"), ({"pageNumber": 0}, "pageNumber must be"),
    ({"status": "Done"}, "status: must be one of"), ({"applicationId": "a"}, "applicationId must"),
])
async def test_bad_trace_parameters(api: Api, params: dict[str, Any], message: str) -> None:
    r = await api.internal.get("/api/observability/traces", params=params)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


# -- insights --------------------------------------------------------------------------------

async def _run(api: Api, handler: str, ok: bool) -> None:
    r = await api.pull(handler, wait=5)
    assert r.status_code == 200, r.text
    extra = {} if ok else {"errorCode": "E42", "errorMessage": "boom"}
    a = await api.ack(r.json()["token"], isSuccess=ok, result="x", **extra)
    assert a.status_code == 200, a.text


async def test_insights(api: Api, bob: Member) -> None:
    good = await api.create([{"stageName": "fetch", "stageHandlerName": "fetcher"},
                             {"stageName": "store", "stageHandlerName": "writer"}])
    await _run(api, "fetcher", True)
    await _run(api, "writer", True)
    await api.wait_status(good["id"], "Completed")
    bad = await api.create([{"stageName": "fetch", "stageHandlerName": "fetcher"}])
    await _run(api, "fetcher", False)
    await api.wait_status(bad["id"], "Failed")

    r = await api.internal.get("/api/observability/insights", params={"range": "1h"})
    assert r.status_code == 200, r.text
    doc = r.json()
    slow = {(s["stageName"], s["handler"]): s for s in doc["slowestStages"]}
    assert set(slow) == {("fetch", "fetcher"), ("store", "writer")}
    assert slow[("fetch", "fetcher")]["count"] == 2
    for s in slow.values():
        assert 0 <= s["p50Ms"] <= s["p95Ms"] <= s["maxMs"]
    assert doc["errorHotspots"] == [{"handler": "fetcher", "failed": 1, "total": 2,
                                     "failureRate": 0.5, "topErrorCode": "E42"}]
    assert sum(h["started"] for h in doc["throughput"]) == 2
    assert sum(h["completed"] for h in doc["throughput"]) == 1
    assert sum(h["failed"] for h in doc["throughput"]) == 1
    assert len(doc["throughput"]) in (1, 2)
    assert doc["summary"] == {"stagesFinished": 3, "stagesFailed": 1, "pipelinesStarted": 2,
                              "pipelinesCompleted": 1, "pipelinesFailed": 1, "successRate": 0.5}

    theirs = (await bob.client.get("/api/observability/insights")).json()
    assert theirs["slowestStages"] == [] and theirs["errorHotspots"] == []
    assert theirs["summary"]["pipelinesStarted"] == 0
    assert len(theirs["throughput"]) in (24, 25)
    narrowed = (await api.internal.get("/api/observability/insights",
                                       params={"applicationId": bob.application_id})).json()
    assert narrowed["slowestStages"] == [] and narrowed["summary"]["stagesFinished"] == 0


@pytest.mark.parametrize("value", ["soon", "5s", "31d"])
async def test_bad_insight_range(api: Api, value: str) -> None:
    r = await api.internal.get("/api/observability/insights", params={"range": value})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("range: ")
