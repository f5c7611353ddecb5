"""Connection tests of integrations (`POST /api/observability/test`) against a real HTTP server
started here on 127.0.0.1 (h11 over a Trio socket), a closed port and a server that never
answers. A failing remote is a 200 with `ok: false`, never a 5xx; secrets never come back."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from typing import Any

import attrs
import pytest
import trio

from conftest import Api
from httpreceiver import Request, read_request, respond, serve
from pipelogiq import integrations

SECRET = "webhook-signing-secret-42"
TOKEN = "glsa_0123456789abcdef"
OTEL_AUTH = "Bearer otel-abcdefghijklmnop"


@attrs.define
class Remote:
    """A tiny HTTP server: records each request and answers `status` (or nothing, `silent`)."""

    status: int = 200
    silent: bool = False
    port: int = 0
    received: list[Request] = attrs.Factory(list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, stream: trio.SocketStream) -> None:
        got = await read_request(stream)
        if got is None:
            return
        conn, request = got
        self.received.append(request)
        if self.silent:
            await trio.sleep_forever()  # the client's deadline has to end the wait
        await respond(stream, conn, self.status)


@pytest.fixture
async def remote(nursery: trio.Nursery) -> Remote:
    server = Remote()
    server.port = await serve(nursery, server.handle)
    return server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def configure(api: Api, kind: str, config: dict[str, Any]) -> None:
    r = await api.internal.put("/api/observability/config", json={"kind": kind, "config": config})
    assert r.status_code == 200, r.text


async def run_test(api: Api, kind: str) -> dict[str, Any]:
    r = await api.internal.post("/api/observability/test", json={"kind": kind})
    assert r.status_code == 200, r.text
    for secret in (SECRET, TOKEN, OTEL_AUTH):
        assert secret not in r.text
    return dict(r.json())


async def last_test(api: Api, kind: str) -> Any:
    doc = (await api.internal.get("/api/observability/status")).json()
    return {i["kind"]: i for i in doc["integrations"]}[kind]["lastTest"]


async def test_alerting_posts_a_signed_test_alert(api: Api, remote: Remote) -> None:
    await configure(api, "alerting", {"enabled": True, "webhookUrl": remote.url + "/hook?x=1",
                                      "secret": SECRET})
    result = await run_test(api, "alerting")
    assert result["ok"] is True and result["status"] == 200 and "error" not in result
    assert isinstance(result["elapsedMs"], int) and result["elapsedMs"] >= 0
    [got] = remote.received
    assert (got.method, got.target) == ("POST", "/hook?x=1")
    assert got.headers["content-type"] == "application/json"
    payload = json.loads(got.body)
    assert payload["event"] == "test" and payload["title"] == "Pipelogiq test alert"
    expected = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-pipelogiq-signature"] == f"sha256={expected}"
    last = await last_test(api, "alerting")
    assert last["ok"] is True and last["status"] == 200 and last["testedAt"]


async def test_slack_channel_gets_a_text_payload(api: Api, remote: Remote) -> None:
    await configure(api, "alerting", {"webhookUrl": remote.url, "channel": "slack"})
    assert (await run_test(api, "alerting"))["ok"] is True
    [got] = remote.received
    assert set(json.loads(got.body)) == {"text"}
    assert "x-pipelogiq-signature" not in got.headers


async def test_opentelemetry_exports_an_empty_batch_with_its_headers(api: Api,
                                                                    remote: Remote) -> None:
    config = {"enabled": True, "endpoint": remote.url, "headers": {"Authorization": OTEL_AUTH}}
    await configure(api, "opentelemetry", config)
    assert (await run_test(api, "opentelemetry"))["ok"] is True
    # Save the config again as the dashboard shows it (masked): the full header is still sent.
    shown = (await api.internal.get("/api/observability/config")).json()["integrations"][0]
    assert shown["config"]["headers"] == {"Authorization": "Bear…"}
    await configure(api, "opentelemetry", {**shown["config"], "serviceName": "svc"})
    assert (await run_test(api, "opentelemetry"))["ok"] is True
    for got in remote.received:
        assert (got.method, got.target) == ("POST", "/v1/traces")
        assert got.headers["authorization"] == OTEL_AUTH
        assert json.loads(got.body) == {"resourceSpans": []}
    assert len(remote.received) == 2


async def test_grafana_health_with_the_token(api: Api, remote: Remote) -> None:
    await configure(api, "grafana", {"enabled": True, "baseUrl": remote.url + "/grafana/",
                                     "apiToken": TOKEN})
    assert (await run_test(api, "grafana"))["ok"] is True
    [got] = remote.received
    assert (got.method, got.target) == ("GET", "/grafana/api/health")
    assert got.headers["authorization"] == f"Bearer {TOKEN}"


async def test_an_error_status_is_ok_false(api: Api, remote: Remote) -> None:
    remote.status = 503
    await configure(api, "grafana", {"baseUrl": remote.url, "apiToken": TOKEN})
    result = await run_test(api, "grafana")
    assert result == {"ok": False, "status": 503, "error": "HTTP 503",
                      "elapsedMs": result["elapsedMs"]}
    last = await last_test(api, "grafana")
    assert (last["ok"], last["error"]) == (False, "HTTP 503")


async def test_a_closed_port_is_ok_false(api: Api) -> None:
    await configure(api, "alerting", {"webhookUrl": f"http://127.0.0.1:{closed_port()}/h",
                                      "secret": SECRET})
    result = await run_test(api, "alerting")
    assert result["ok"] is False and "status" not in result
    assert result["error"].startswith("ConnectError")


async def test_a_silent_remote_times_out(api: Api, remote: Remote,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrations, "TEST_TIMEOUT", 0.2)
    remote.silent = True
    await configure(api, "opentelemetry", {"endpoint": remote.url + "/v1/traces"})
    result = await run_test(api, "opentelemetry")
    assert result["ok"] is False and result["error"] == "no answer within 0.2s"
    assert result["elapsedMs"] >= 200
    assert [r.target for r in remote.received] == ["/v1/traces"]


async def test_a_changed_config_drops_the_last_result(api: Api, remote: Remote) -> None:
    await configure(api, "grafana", {"baseUrl": remote.url})
    await run_test(api, "grafana")
    assert (await last_test(api, "grafana"))["ok"] is True
    await configure(api, "grafana", {"baseUrl": remote.url})  # unchanged: kept
    assert (await last_test(api, "grafana")) is not None
    await configure(api, "grafana", {"baseUrl": remote.url + "/other"})
    assert (await last_test(api, "grafana")) is None


@pytest.mark.parametrize(("body", "message"), [
    ({}, "kind is required"),
    ({"kind": "logs"}, "kind: must be one of opentelemetry, alerting, grafana"),
    ({"kind": "sentry"}, "kind: must be one of opentelemetry, alerting, grafana"),
    ({"kind": "alerting"}, "alerting is not configured; save its config first"),
])
async def test_what_cannot_be_tested_is_400(api: Api, body: dict[str, Any], message: str) -> None:
    await configure(api, "logs", {"traceLinkTemplate": "https://t/{traceId}"})
    r = await api.internal.post("/api/observability/test", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == message
