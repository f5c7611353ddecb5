"""Rejected requests (SPEC §4 and §7): the right status, an error body that says what is wrong
(text/plain `message\\n` on the external API, `{"error": {"code", "message"}}` on the internal
one), and not a single row of the database changed (see dbsnapshot.py)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
import trio

from conftest import Api
from dbsnapshot import snapshot

MIB = 1024 * 1024

STAGE = {"stageName": "a", "stageHandlerName": "h"}


def db_path(api: Api) -> str:
    return api.running.services.settings.sqlite_path


def assert_text_error(r: httpx.Response, status: int, *fragments: str) -> None:
    """External API error: the status, `text/plain`, one `message\\n`, naming each fragment."""
    where = f"{r.request.method} {r.request.url.path}"
    assert r.status_code == status, (where, r.status_code, r.text)
    assert r.headers["content-type"].startswith("text/plain"), (where, r.headers)
    assert r.text.endswith("\n") and r.text.strip(), (where, r.text)
    for fragment in fragments:
        assert fragment.lower() in r.text.lower(), (where, fragment, r.text)


def assert_json_error(r: httpx.Response, status: int, code: str, *fragments: str) -> None:
    """Internal API error: the status and `{"error": {"code", "message"}}`."""
    where = f"{r.request.method} {r.request.url.path}"
    assert r.status_code == status, (where, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), (where, r.headers)
    error = r.json()["error"]
    assert error["code"] == code, (where, error)
    assert isinstance(error["message"], str) and error["message"].strip(), (where, error)
    for fragment in fragments:
        assert fragment.lower() in error["message"].lower(), (where, fragment, error)


def raw_json(value: Any) -> bytes:
    return json.dumps(value).encode()


# -- 400: bodies the external API must refuse ------------------------------------------------

PIPELINE_CASES: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("malformed_json", b'{"name": "p", "stages": [', ("malformed JSON",)),
    ("not_utf8", b'{"name": "\xff\xfe"}', ("malformed JSON",)),
    ("array_not_object", raw_json([{"name": "p", "stages": [STAGE]}]), ("JSON object",)),
    ("string_not_object", raw_json("p"), ("JSON object",)),
    ("name_is_number", raw_json({"name": 123, "stages": [STAGE]}), ("name", "string")),
    ("stages_is_string", raw_json({"name": "p", "stages": "x"}), ("stages", "array")),
    ("stage_is_string", raw_json({"name": "p", "stages": ["x"]}), ("stages[0]", "object")),
    ("maxRetries_is_string",
     raw_json({"name": "p", "stages": [{**STAGE, "options": {"maxRetries": "3"}}]}),
     ("maxRetries", "integer")),
    ("options_is_string", raw_json({"name": "p", "stages": [{**STAGE, "options": "x"}]}),
     ("options", "object")),
    ("isEvent_is_string", raw_json({"name": "p", "stages": [{**STAGE, "isEvent": "yes"}]}),
     ("isEvent", "true or false")),
    ("name_missing", raw_json({"stages": [STAGE]}), ("name", "required")),
    ("name_null_is_absent", raw_json({"name": None, "stages": [STAGE]}), ("name", "required")),
    ("stages_missing", raw_json({"name": "p"}), ("stages", "required")),
    ("stages_empty", raw_json({"name": "p", "stages": []}), ("stages",)),
    ("stageName_missing", raw_json({"name": "p", "stages": [{"stageHandlerName": "h"}]}),
     ("stageName", "required")),
    ("stageHandlerName_missing", raw_json({"name": "p", "stages": [{"stageName": "a"}]}),
     ("stageHandlerName", "required")),
    ("dependsOn_non_empty",
     raw_json({"name": "p", "stages": [{**STAGE, "options": {"dependsOn": ["x"]}}]}),
     ("dependsOn",)),
    ("runInParallelWith_non_empty",
     raw_json({"name": "p", "stages": [{**STAGE, "options": {"runInParallelWith": ["x"]}}]}),
     ("runInParallelWith",)),
    ("second_stage_bad",
     raw_json({"name": "p", "stages": [STAGE, {"stageName": "b", "stageHandlerName": 7}]}),
     ("stages[1].stageHandlerName",)),
]


@pytest.mark.parametrize(("content", "fragments"),
                         [c[1:] for c in PIPELINE_CASES], ids=[c[0] for c in PIPELINE_CASES])
async def test_create_pipeline_rejects(api: Api, content: bytes,
                                       fragments: tuple[str, ...]) -> None:
    before = snapshot(db_path(api))
    r = await api.external.post("/pipelines", headers={**api.key(),
                                                       "Content-Type": "application/json"},
                                content=content)
    assert_text_error(r, 400, *fragments)
    assert snapshot(db_path(api)) == before


JOB_CASES: list[tuple[str, str, bytes, tuple[str, ...]]] = [
    ("pull_malformed_json", "/jobs/pull", b"{handlerName: h}", ("malformed JSON",)),
    ("pull_array", "/jobs/pull", raw_json([{"handlerName": "h"}]), ("JSON object",)),
    ("pull_handler_missing", "/jobs/pull", raw_json({"waitSeconds": 0}), ("handlerName",)),
    ("pull_handler_number", "/jobs/pull", raw_json({"handlerName": 5}), ("handlerName",)),
    ("pull_waitSeconds_string", "/jobs/pull", raw_json({"handlerName": "h", "waitSeconds": "5"}),
     ("waitSeconds", "number")),
    ("pull_waitSeconds_negative", "/jobs/pull",
     raw_json({"handlerName": "h", "waitSeconds": -1}), ("waitSeconds",)),
    ("pull_maxJobs_0", "/jobs/pull", raw_json({"handlerName": "h", "maxJobs": 0}), ("maxJobs",)),
    ("pull_maxJobs_101", "/jobs/pull", raw_json({"handlerName": "h", "maxJobs": 101}),
     ("maxJobs",)),
    ("pull_maxJobs_fraction", "/jobs/pull", raw_json({"handlerName": "h", "maxJobs": 1.5}),
     ("maxJobs", "integer")),
    ("ack_malformed_json", "/jobs/ack", b'{"token": ', ("malformed JSON",)),
    ("ack_array", "/jobs/ack", raw_json([{"token": "t"}]), ("JSON object",)),
    ("ack_token_missing", "/jobs/ack", raw_json({"isSuccess": True}), ("token", "required")),
    ("ack_token_number", "/jobs/ack", raw_json({"token": 12}), ("token", "string")),
    ("ack_logs_not_array", "/jobs/ack", raw_json({"token": "t", "logs": "oops"}),
     ("logs", "array")),
    ("ack_log_level_unknown", "/jobs/ack",
     raw_json({"token": "t", "logs": [{"message": "m", "logLevel": "loud"}]}), ("logLevel",)),
    ("ack_isSuccess_string", "/jobs/ack", raw_json({"token": "t", "isSuccess": "true"}),
     ("isSuccess",)),
    ("ack_batch_item_bad", "/jobs/ack", raw_json({"acks": [{"token": "t", "logs": 1}]}),
     ("acks[0].logs",)),
    ("extend_token_missing", "/jobs/extend", raw_json({"seconds": 5}), ("token", "required")),
    ("extend_seconds_string", "/jobs/extend", raw_json({"token": "t", "seconds": "5"}),
     ("seconds",)),
    ("bootstrap_workerName_missing", "/workers/bootstrap", raw_json({"instanceId": "i"}),
     ("workerName", "required")),
    ("bootstrap_pid_string", "/workers/bootstrap", raw_json({"workerName": "w", "pid": "12"}),
     ("pid", "integer")),
    ("bootstrap_handlers_not_strings", "/workers/bootstrap",
     raw_json({"workerName": "w", "supportedHandlers": [1]}), ("supportedHandlers",)),
    ("logs_message_missing", "/logs", raw_json({"logLevel": "Information"}),
     ("message", "required")),
]


@pytest.mark.parametrize(("path", "content", "fragments"),
                         [c[1:] for c in JOB_CASES], ids=[c[0] for c in JOB_CASES])
async def test_job_and_worker_routes_reject(api: Api, path: str, content: bytes,
                                            fragments: tuple[str, ...]) -> None:
    before = snapshot(db_path(api))
    r = await api.external.post(path, headers={**api.key(), "Content-Type": "application/json"},
                                content=content)
    assert_text_error(r, 400, *fragments)
    assert snapshot(db_path(api)) == before


async def test_batch_ack_with_one_bad_item_applies_none(api: Api) -> None:
    """A batch is validated whole before any item is applied: a real token is not acked when a
    later item is malformed."""
    await api.create([STAGE])
    job = (await api.pull("h", wait=5)).json()
    before = snapshot(db_path(api))
    r = await api.external.post("/jobs/ack", headers=api.key(), json={"acks": [
        {"token": job["token"], "isSuccess": True, "result": "done"},
        {"token": "other", "retryable": "no"},
    ]})
    assert_text_error(r, 400, "acks[1].retryable")
    assert snapshot(db_path(api)) == before
    assert (await api.ack(job["token"])).status_code == 200


# -- 413 --------------------------------------------------------------------------------------

def oversized_pipeline() -> bytes:
    body = raw_json({"name": "p", "stages": [{**STAGE, "input": "x" * MIB}]})
    assert len(body) > MIB
    return body


def oversized_ack() -> bytes:
    body = raw_json({"token": "t", "result": "x" * MIB})
    assert len(body) > MIB
    return body


@pytest.mark.parametrize(("path", "make"), [("/pipelines", oversized_pipeline),
                                             ("/jobs/ack", oversized_ack)],
                         ids=["pipelines", "ack"])
async def test_body_over_one_mib_is_413(api: Api, path: str,
                                       make: Callable[[], bytes]) -> None:
    before = snapshot(db_path(api))
    r = await api.external.post(path, headers={**api.key(), "Content-Type": "application/json"},
                                content=make())
    assert_text_error(r, 413, "larger than")
    assert snapshot(db_path(api)) == before


@pytest.mark.parametrize(("path", "make"), [("/pipelines", oversized_pipeline),
                                             ("/jobs/ack", oversized_ack)],
                         ids=["pipelines", "ack"])
async def test_chunked_body_over_one_mib_is_413(api: Api, path: str,
                                               make: Callable[[], bytes]) -> None:
    """Without a Content-Length (chunked upload) the limit holds all the same."""
    data = make()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 64 * 1024):
            yield data[i:i + 64 * 1024]

    before = snapshot(db_path(api))
    r = await api.external.post(path, headers={**api.key(), "Content-Type": "application/json"},
                                content=chunks())
    assert_text_error(r, 413, "larger than")
    assert snapshot(db_path(api)) == before


async def test_body_of_exactly_one_mib_is_accepted(api: Api) -> None:
    """The limit is *over* 1 MiB: a body of exactly 1 MiB (padded with JSON whitespace) passes."""
    body = raw_json({"name": "exact", "stages": [STAGE]})
    body += b" " * (MIB - len(body))
    assert len(body) == MIB
    r = await api.external.post("/pipelines", headers={**api.key(),
                                                       "Content-Type": "application/json"},
                                content=body)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "exact"


# -- 404: unknown job tokens ------------------------------------------------------------------

async def test_unknown_job_token_is_404(api: Api) -> None:
    before = snapshot(db_path(api))
    for path in ("/jobs/ack", "/jobs/extend"):
        for body in ({"token": "no-such-token"}, {"token": "no-such-token", "requeue": True},
                     {"token": "no-such-token", "isSuccess": False, "errorMessage": "x"}):
            r = await api.external.post(path, headers=api.key(), json=body)
            assert_text_error(r, 404, "unknown job token")
    assert snapshot(db_path(api)) == before


async def test_unknown_token_in_batch_ack_is_404_per_item(api: Api) -> None:
    before = snapshot(db_path(api))
    r = await api.external.post("/jobs/ack", headers=api.key(),
                                json={"acks": [{"token": "nope"}]})
    assert r.status_code == 200, r.text
    [item] = r.json()["results"]
    assert item["token"] == "nope" and item["code"] == 404, item
    assert "unknown job token" in item["message"]
    assert snapshot(db_path(api)) == before


# -- 401: API keys ----------------------------------------------------------------------------

KEY_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/pipelines", {"name": "p", "stages": [STAGE]}),
    ("/logs", {"message": "hello"}),
    ("/workers/bootstrap", {"workerName": "w", "instanceId": "i-1"}),
    ("/jobs/pull", {"handlerName": "h", "waitSeconds": 0}),
    ("/jobs/ack", {"token": "t"}),
    ("/jobs/extend", {"token": "t"}),
]


async def assert_every_key_route_refuses(api: Api, headers: dict[str, str], *fragments: str,
                                         params: dict[str, str] | None = None) -> None:
    """Every API-key route answers 401 with the fragments, and nothing is written."""
    before = snapshot(db_path(api))
    for path, body in KEY_ROUTES:
        r = await api.external.post(path, headers=headers, params=params, json=body)
        assert_text_error(r, 401, *fragments)
    assert snapshot(db_path(api)) == before


async def test_missing_api_key_is_401(api: Api) -> None:
    await assert_every_key_route_refuses(api, {}, "missing")
    await assert_every_key_route_refuses(api, {"X-API-Key": ""}, "missing")
    await assert_every_key_route_refuses(api, {"Authorization": f"Basic {api.api_key}"},
                                         "missing")


async def test_invalid_api_key_is_401(api: Api) -> None:
    bogus = "pk_not_a_real_key"
    await assert_every_key_route_refuses(api, {"X-API-Key": bogus}, "invalid")
    await assert_every_key_route_refuses(api, {"apikey": bogus}, "invalid")
    await assert_every_key_route_refuses(api, {"Authorization": f"Bearer {bogus}"}, "invalid")
    await assert_every_key_route_refuses(api, {}, "invalid", params={"apiKey": bogus})


async def test_rabbitmq_connection_without_key_is_401(api: Api) -> None:
    r = await api.external.get("/rabbitmq/connection")
    assert_text_error(r, 401, "missing API key")
    r = await api.external.get("/rabbitmq/connection", headers={"X-API-Key": "bogus"})
    assert_text_error(r, 401, "invalid API key")


async def _new_key_with_id(api: Api) -> tuple[int, str]:
    r = await api.internal.post("/api/apikeys",
                                json={"applicationId": api.application_id, "name": "doomed"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), str(r.json()["key"])


async def test_disabled_api_key_is_401(api: Api) -> None:
    key_id, key = await _new_key_with_id(api)
    assert (await api.external.post("/jobs/pull", headers={"X-API-Key": key},
                                    json={"handlerName": "h"})).status_code == 204
    r = await api.internal.post(f"/api/apikeys/{key_id}/disable")
    assert r.status_code == 200, r.text
    assert r.json()["isActive"] is False
    await assert_every_key_route_refuses(api, {"X-API-Key": key}, "disabled")
    # The other key of the application still works.
    assert (await api.pull("h")).status_code == 204


async def test_expired_api_key_is_401(api: Api) -> None:
    """A key created with an `expiresAt` a moment ahead would make the test wait on the wall
    clock (and race it). Instead the key is created without expiry, then its `expires_at` is
    moved an hour into the past directly in the SQLite file through a separate connection (the
    server re-reads the row on every request, so nothing is cached)."""
    key_id, key = await _new_key_with_id(api)
    assert (await api.external.post("/jobs/pull", headers={"X-API-Key": key},
                                    json={"handlerName": "h"})).status_code == 204
    _expire(api, "UPDATE api_keys SET expires_at = ? WHERE id = ?", key_id)
    await assert_every_key_route_refuses(api, {"X-API-Key": key}, "expired")


async def test_expires_at_in_the_past_is_refused_at_creation(api: Api) -> None:
    before = snapshot(db_path(api))
    r = await api.internal.post("/api/apikeys", json={
        "applicationId": api.application_id, "expiresAt": "2001-01-01T00:00:00Z"})
    assert_json_error(r, 400, "bad_request", "expiresAt")
    assert snapshot(db_path(api)) == before


# -- 401: worker sessions ---------------------------------------------------------------------

SESSION_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/workers/heartbeat", {"state": "ready"}),
    ("/workers/events", {"events": [{"eventType": "x", "level": "Information",
                                     "message": "m"}]}),
    ("/workers/shutdown", {"reason": "bye"}),
]


async def test_worker_route_without_session_is_401(api: Api) -> None:
    before = snapshot(db_path(api))
    for path, body in SESSION_ROUTES:
        r = await api.external.post(path, json=body)
        assert_text_error(r, 401, "missing worker session")
        # An API key is not a worker session on these routes.
        r = await api.external.post(path, headers=api.key(), json=body)
        assert_text_error(r, 401, "missing worker session")
    assert snapshot(db_path(api)) == before


async def test_worker_route_with_invalid_session_is_401(api: Api) -> None:
    before = snapshot(db_path(api))
    for path, body in SESSION_ROUTES:
        for headers in ({"X-Worker-Session": "wst_bogus"}, {"X-Worker-Token": "wst_bogus"},
                        {"Authorization": "Bearer wst_bogus"}):
            r = await api.external.post(path, headers=headers, json=body)
            assert_text_error(r, 401, "invalid worker session")
        r = await api.external.post(path, params={"workerSessionToken": "wst_bogus"}, json=body)
        assert_text_error(r, 401, "invalid worker session")
    assert snapshot(db_path(api)) == before


def _expire(api: Api, sql: str, row_id: Any) -> None:
    """Move an expiry an hour into the past in the SQLite file (a separate connection)."""
    conn = sqlite3.connect(db_path(api), timeout=10)
    try:
        with conn:
            assert conn.execute(sql, (time.time() - 3600, row_id)).rowcount == 1
    finally:
        conn.close()


async def test_expired_worker_session_is_401(api: Api) -> None:
    """As for keys: the session's expiry is moved into the past in the database rather than
    waiting WORKER_SESSION_TTL on the wall clock."""
    boot = (await api.external.post("/workers/bootstrap", headers=api.key(),
                                    json={"workerName": "w"})).json()
    s = {"X-Worker-Session": boot["workerSessionToken"]}
    assert (await api.external.post("/workers/heartbeat", headers=s, json={})).status_code == 200
    _expire(api, "UPDATE workers SET session_expires_at = ? WHERE id = ?", boot["workerId"])
    before = snapshot(db_path(api))
    for path, body in SESSION_ROUTES + [("/jobs/pull", {"handlerName": "h"}),
                                        ("/jobs/ack", {"token": "t"})]:
        r = await api.external.post(path, headers=s, json=body)
        assert_text_error(r, 401, "expired")
    assert snapshot(db_path(api)) == before


async def test_job_route_with_invalid_session_is_401(api: Api) -> None:
    """A bad session header is 401, even next to a good key; a bad Bearer value is neither a
    session nor a key."""
    before = snapshot(db_path(api))
    body = {"handlerName": "h", "token": "t"}
    for path in ("/jobs/pull", "/jobs/ack", "/jobs/extend"):
        for headers in ({"X-Worker-Session": "wst_bogus"},
                        {"X-Worker-Session": "wst_bogus", **api.key()}):
            r = await api.external.post(path, headers=headers, json=body)
            assert_text_error(r, 401, "invalid worker session")
        r = await api.external.post(path, headers={"Authorization": "Bearer wst_bogus"},
                                    json=body)
        assert_text_error(r, 401, "invalid")
        r = await api.external.post(path, json=body)
        assert_text_error(r, 401, "missing")
    assert snapshot(db_path(api)) == before


# -- internal API (§7) ------------------------------------------------------------------------

INTERNAL_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/pipelines", None),
    ("GET", "/api/applications", None),
    ("GET", "/api/auth/me", None),
    ("GET", "/api/apikeys", None),
    ("GET", "/api/workers", None),
    ("POST", "/api/applications", {"name": "sneaky"}),
    ("POST", "/api/apikeys", {"applicationId": 1, "name": "sneaky"}),
    ("POST", "/api/apikeys/1/disable", None),
    ("POST", "/api/pipelines", {"applicationId": 1, "name": "p", "stages": [STAGE]}),
    ("POST", "/api/pipelines/cancel", {"pipelineId": 1}),
]


async def test_internal_without_cookie_is_401_json(api: Api) -> None:
    before = snapshot(db_path(api))
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anonymous:
        for method, path, body in INTERNAL_ROUTES:
            anonymous.cookies.clear()
            r = await anonymous.request(method, path, json=body)
            assert_json_error(r, 401, "unauthorized", "not logged in")
            anonymous.cookies.set("authKey", "not.a.jwt")
            r = await anonymous.request(method, path, json=body)
            assert_json_error(r, 401, "unauthorized", "invalid")
    assert snapshot(db_path(api)) == before


async def test_cookie_signed_with_another_secret_is_401(api: Api) -> None:
    forged = jwt.encode({"sub": "1", "iat": int(time.time()), "exp": int(time.time()) + 600},
                        "not-the-server-secret-" + "y" * 40, algorithm="HS256")
    unsigned = jwt.encode({"sub": "1"}, None, algorithm="none")
    before = snapshot(db_path(api))
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anonymous:
        for token in (forged, unsigned):
            anonymous.cookies.set("authKey", token)
            for method, path, body in INTERNAL_ROUTES:
                r = await anonymous.request(method, path, json=body)
                assert_json_error(r, 401, "unauthorized")
    assert snapshot(db_path(api)) == before


async def test_cookie_mutation_from_foreign_origin_is_403(api: Api) -> None:
    before = snapshot(db_path(api))
    for origin in ("https://evil.example", "null", api.running.internal_url + ".evil.example"):
        for method, path, body in INTERNAL_ROUTES:
            if method != "POST":
                continue
            r = await api.internal.request(method, path, json=body, headers={"Origin": origin})
            assert_json_error(r, 403, "forbidden", "cross-origin")
    assert snapshot(db_path(api)) == before


async def test_cookie_read_from_foreign_origin_is_allowed(api: Api) -> None:
    """Only mutations are refused; a GET carries no side effect."""
    r = await api.internal.get("/api/applications", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200, r.text


async def test_cookie_mutation_without_origin_passes(api: Api) -> None:
    """As from curl: no Origin header at all is not a cross-site request."""
    del api.internal.headers["Origin"]
    r = await api.internal.post("/api/applications", json={"name": "from-curl"})
    assert r.status_code == 201, r.text


INTERNAL_BAD_BODIES: list[tuple[str, str, bytes, str, tuple[str, ...]]] = [
    ("create_malformed", "/api/pipelines", b'{"applicationId": 1,', "bad_request",
     ("malformed JSON",)),
    ("create_array", "/api/pipelines", raw_json([1]), "bad_request", ("JSON object",)),
    ("create_stages_string", "/api/pipelines",
     raw_json({"applicationId": 1, "name": "p", "stages": "x"}), "bad_request", ("stages",)),
    ("create_dependsOn", "/api/pipelines",
     raw_json({"applicationId": 1, "name": "p",
               "stages": [{**STAGE, "options": {"dependsOn": [1]}}]}),
     "bad_request", ("dependsOn",)),
    ("cancel_missing_id", "/api/pipelines/cancel", raw_json({}), "bad_request",
     ("pipelineId",)),
    ("cancel_id_string", "/api/pipelines/cancel", raw_json({"pipelineId": "1"}), "bad_request",
     ("pipelineId",)),
    ("apikey_missing_app", "/api/apikeys", raw_json({"name": "k"}), "bad_request",
     ("applicationId",)),
    ("application_name_missing", "/api/applications", raw_json({}), "bad_request", ("name",)),
]


@pytest.mark.parametrize(("path", "content", "code", "fragments"),
                         [c[1:] for c in INTERNAL_BAD_BODIES],
                         ids=[c[0] for c in INTERNAL_BAD_BODIES])
async def test_internal_bad_body_is_400_json(api: Api, path: str, content: bytes, code: str,
                                             fragments: tuple[str, ...]) -> None:
    before = snapshot(db_path(api))
    r = await api.internal.post(path, content=content,
                                headers={"Content-Type": "application/json"})
    assert_json_error(r, 400, code, *fragments)
    assert snapshot(db_path(api)) == before


async def test_internal_body_over_one_mib_is_413_json(api: Api) -> None:
    before = snapshot(db_path(api))
    body = raw_json({"applicationId": api.application_id, "name": "p",
                     "stages": [{**STAGE, "input": "x" * MIB}]})
    r = await api.internal.post("/api/pipelines", content=body,
                                headers={"Content-Type": "application/json"})
    assert_json_error(r, 413, "payload_too_large")
    assert snapshot(db_path(api)) == before


async def test_internal_unknown_pipeline_is_404_json(api: Api) -> None:
    before = snapshot(db_path(api))
    r = await api.internal.get("/api/pipelines/999999")
    assert_json_error(r, 404, "not_found", "999999")
    r = await api.internal.post("/api/pipelines/cancel", json={"pipelineId": 999999})
    assert_json_error(r, 404, "not_found", "999999")
    assert snapshot(db_path(api)) == before


# -- the snapshot helper sees what it should -------------------------------------------------

async def test_snapshot_sees_a_change_and_ignores_only_last_used_at(api: Api) -> None:
    before = snapshot(db_path(api))
    assert "api_keys" in before and "pipelines" in before and "stages" in before
    await api.create([STAGE])
    with trio.fail_after(10):  # dispatch done: nothing writes in the background any more
        await api.running.services.engine.broker.wait_ready(api.application_id, "h")
    after = snapshot(db_path(api))
    assert after != before
    assert len(after["pipelines"]) == len(before["pipelines"]) + 1
    conn = sqlite3.connect(db_path(api), timeout=10)
    try:
        with conn:
            conn.execute("UPDATE api_keys SET last_used_at = 12345")
        assert snapshot(db_path(api)) == after
        with conn:
            conn.execute("UPDATE api_keys SET name = name || '!'")
        assert snapshot(db_path(api)) != after
    finally:
        conn.close()


# -- bodies that are JSON-ish but must still be a clean 400 ----------------------------------

# NaN/Infinity are not JSON and 1e400 overflows to inf: once they passed every range check,
# and a NaN waitSeconds crashed the handler-queue actor until the server went down.
_OPTS = b'{"name": "p", "stages": [{"stageName": "a", "stageHandlerName": "h", "options": '


EDGE_CASES = [
    pytest.param("/pipelines",
                 b'{"name": "p", "stages": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
                 ("malformed JSON",), id="deeply_nested_json"),
    pytest.param("/pipelines", _OPTS + b'{"maxRetries": NaN}}]}', ("not valid JSON",),
                 id="nan_maxRetries"),
    pytest.param("/pipelines", _OPTS + b'{"maxRetries": 1e400}}]}', ("maxRetries",),
                 id="infinite_maxRetries"),
    pytest.param("/pipelines", _OPTS + b'{"retryInterval": NaN}}]}', ("not valid JSON",),
                 id="nan_retryInterval"),
    pytest.param("/pipelines", _OPTS + b'{"timeOut": Infinity}}]}', ("not valid JSON",),
                 id="infinite_timeOut"),
    pytest.param("/jobs/pull", b'{"handlerName": "h", "waitSeconds": NaN}', ("not valid JSON",),
                 id="nan_waitSeconds"),
    pytest.param("/jobs/pull", b'{"handlerName": "h", "maxJobs": 1e400}', ("maxJobs",),
                 id="infinite_maxJobs"),
    pytest.param("/pipelines",
                 raw_json({"name": "p", "stages": [{"stageName": "a", "stageHandlerName": "a b"}]}),
                 ("stageHandlerName",), id="handler_bad_chars"),
    pytest.param("/jobs/extend", raw_json({"token": "t", "seconds": 0}), ("seconds",),
                 id="extend_seconds_zero"),
]


@pytest.mark.parametrize(("path", "content", "fragments"), EDGE_CASES)
async def test_edge_bodies_are_400(api: Api, path: str, content: bytes,
                                   fragments: tuple[str, ...]) -> None:
    before = snapshot(db_path(api))
    r = await api.external.post(path, headers={**api.key(), "Content-Type": "application/json"},
                                content=content)
    assert_text_error(r, 400, *fragments)
    assert snapshot(db_path(api)) == before


HUGE_ID = 10**30  # beyond SQLite's 64-bit INTEGER


@pytest.mark.parametrize(("path", "body"), [
    ("/api/pipelines/cancel", {"pipelineId": HUGE_ID}),
    ("/api/pipelines/skipStage", {"stageId": HUGE_ID}),
    (f"/api/apikeys/{HUGE_ID}/disable", None),
], ids=["cancel", "skipStage", "disable_key"])
async def test_huge_integer_id_on_internal_api_is_a_clean_4xx(
        api: Api, path: str, body: dict[str, Any] | None) -> None:
    before = snapshot(db_path(api))
    r = await api.internal.post(path, json=body)
    assert r.status_code in (400, 404), r.text
    assert_json_error(r, r.status_code, "bad_request" if r.status_code == 400 else "not_found")
    assert snapshot(db_path(api)) == before


async def test_unknown_route_and_method_are_text_plain(api: Api) -> None:
    r = await api.external.get("/no/such/route")
    assert_text_error(r, 404)
    r = await api.external.get("/pipelines", headers=api.key())
    assert_text_error(r, 405)


async def test_repeated_failed_logins_are_throttled(api: Api) -> None:
    """20 wrong passwords in a row for one account from one address must hit a 429."""
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anonymous:
        codes = []
        for _ in range(20):
            r = await anonymous.post("/api/auth/login",
                                     json={"email": "admin@example.com", "password": "wrong"})
            codes.append(r.status_code)
            if r.status_code == 429:
                break
    assert 429 in codes, codes
