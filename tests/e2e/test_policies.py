"""Policies on the internal API (SPEC §6, §7): CRUD, status actions, duplicate, delete, the
versioned audit trail, trigger insights and KPIs, and validation that changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Api
from dbsnapshot import query, snapshot

RATE = {"limit": 10, "windowSeconds": 60, "keyBy": "tenant"}
RETRY = {"maxAttempts": 3, "backoff": "fixed", "baseDelayMs": 100}


def db(api: Api) -> str:
    return api.running.services.settings.sqlite_path


async def create(api: Api, **over: Any) -> dict[str, Any]:
    body = {"applicationId": api.application_id, "name": "limit", "type": "rate_limit",
            "rule": RATE, **over}
    r = await api.internal.post("/api/policies", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def audit(api: Api, pid: int) -> list[dict[str, Any]]:
    r = await api.internal.get(f"/api/policies/{pid}/audit")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_create_get_and_defaults(api: Api) -> None:
    p = await create(api, targeting={"pipelines": ["orders"], "environment": "prod"})
    assert p["applicationId"] == api.application_id
    assert (p["name"], p["type"], p["status"], p["version"]) == ("limit", "rate_limit", "active", 1)
    assert p["rule"] == RATE
    assert p["targeting"] == {"pipelines": ["orders"], "stages": [], "handlers": [],
                              "tagsInclude": [], "tagsExclude": [], "environment": "prod"}
    assert p["createdBy"] == p["updatedBy"] == "admin@example.com"
    assert p["triggers24h"] == 0 and p["lastTriggeredAt"] is None
    r = await api.internal.get(f"/api/policies/{p['id']}")
    assert r.status_code == 200 and r.json() == p
    for kind, rule in [("retry", RETRY), ("timeout", {"timeoutMs": 500, "appliesTo": "step"}),
                       ("circuit_breaker", {"failureThreshold": 3, "windowSeconds": 60,
                                            "openSeconds": 30, "halfOpenMaxCalls": 1})]:
        made = await create(api, name=kind, type=kind, rule=rule, status="disabled")
        assert (made["type"], made["rule"], made["status"]) == (kind, rule, "disabled")


async def test_admin_may_create_a_global_policy(api: Api) -> None:
    p = await create(api, applicationId=None)
    assert p["applicationId"] is None
    listed = (await api.internal.get("/api/policies")).json()["items"]
    assert [x["id"] for x in listed] == [p["id"]]


async def test_update_bumps_the_version_and_records_a_diff(api: Api) -> None:
    p = await create(api)
    body = {"name": "limit 2", "type": "rate_limit", "rule": {**RATE, "limit": 20},
            "targeting": {"handlers": ["h"]}, "version": 1}
    r = await api.internal.put(f"/api/policies/{p['id']}", json=body)
    assert r.status_code == 200, r.text
    u = r.json()
    assert (u["version"], u["name"], u["rule"]["limit"]) == (2, "limit 2", 20)
    assert u["applicationId"] == api.application_id and u["status"] == "active"
    events = await audit(api, p["id"])
    assert [(e["kind"], e["version"]) for e in events] == [("updated", 2), ("created", 1)]
    details = events[0]["details"]
    assert details["before"] == {"name": "limit", "rule": RATE,
                                 "targeting": {**p["targeting"]}}
    assert details["after"]["name"] == "limit 2"
    assert details["after"]["rule"] == {**RATE, "limit": 20}
    assert details["after"]["targeting"]["handlers"] == ["h"]
    assert events[0]["actor"] == "admin@example.com"
    assert events[1]["details"]["after"]["name"] == "limit"

    # The same content again changes nothing: no new version, no event.
    r = await api.internal.put(f"/api/policies/{p['id']}", json={**body, "version": 2})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert len(await audit(api, p["id"])) == 2

    # A type change is validated against the new type.
    r = await api.internal.put(f"/api/policies/{p['id']}",
                               json={"name": "r", "type": "retry", "rule": RETRY})
    assert r.status_code == 200 and (r.json()["type"], r.json()["version"]) == ("retry", 3)


async def test_stale_version_is_a_conflict_and_changes_nothing(api: Api) -> None:
    p = await create(api)
    await api.internal.post(f"/api/policies/{p['id']}/disable")
    before = snapshot(db(api))
    r = await api.internal.put(f"/api/policies/{p['id']}",
                               json={"name": "x", "type": "rate_limit", "rule": RATE, "version": 1})
    assert r.status_code == 409
    assert "version 2" in r.json()["error"]["message"]
    assert snapshot(db(api)) == before


async def test_status_actions_and_their_trail(api: Api) -> None:
    p = await create(api)
    pid = p["id"]
    steps = [("pause", "paused"), ("resume", "active"), ("disable", "disabled"),
             ("enable", "active")]
    for version, (action, status) in enumerate(steps, start=2):
        r = await api.internal.post(f"/api/policies/{pid}/{action}")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["version"]) == (status, version)
    events = await audit(api, pid)
    assert [e["kind"] for e in events] == ["enabled", "disabled", "resumed", "paused", "created"]
    assert events[0]["details"] == {"before": {"status": "disabled"}, "after": {"status": "active"}}
    assert [e["version"] for e in events] == [5, 4, 3, 2, 1]


@pytest.mark.parametrize(("setup", "action", "message"), [
    ([], "enable", "policy is already active"),
    ([], "resume", "policy is already active"),
    (["disable"], "disable", "policy is already disabled"),
    (["pause"], "pause", "policy is already paused"),
    (["disable"], "pause", "cannot pause a disabled policy"),
    (["disable"], "resume", "cannot resume a disabled policy"),
])
async def test_no_op_and_invalid_transitions_are_409(api: Api, setup: list[str], action: str,
                                                     message: str) -> None:
    p = await create(api)
    for step in setup:
        assert (await api.internal.post(f"/api/policies/{p['id']}/{step}")).status_code == 200
    before = snapshot(db(api))
    r = await api.internal.post(f"/api/policies/{p['id']}/{action}")
    assert r.status_code == 409
    assert r.json()["error"]["message"].startswith(message)
    assert snapshot(db(api)) == before


async def test_duplicate(api: Api) -> None:
    p = await create(api, name="Limit", targeting={"stages": ["s"]})
    r = await api.internal.post(f"/api/policies/{p['id']}/duplicate")
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["id"] != p["id"]
    assert (c["name"], c["status"], c["version"]) == ("Limit (copy)", "disabled", 1)
    assert (c["rule"], c["targeting"], c["applicationId"]) == (
        p["rule"], p["targeting"], p["applicationId"])
    again = (await api.internal.post(f"/api/policies/{p['id']}/duplicate")).json()
    assert again["name"] == "Limit (copy 2)"
    events = await audit(api, c["id"])
    assert [e["kind"] for e in events] == ["duplicated"]
    assert events[0]["details"]["sourcePolicyId"] == p["id"]
    assert events[0]["details"]["sourceVersion"] == 1
    assert events[0]["details"]["after"]["status"] == "disabled"
    # the source is untouched
    assert (await api.internal.get(f"/api/policies/{p['id']}")).json()["version"] == 1


async def test_delete_keeps_the_audit_trail(api: Api) -> None:
    p = await create(api)
    r = await api.internal.delete(f"/api/policies/{p['id']}")
    assert r.status_code == 204 and r.content == b""
    assert (await api.internal.get(f"/api/policies/{p['id']}")).status_code == 404
    assert (await api.internal.get("/api/policies")).json()["totalCount"] == 0
    for method, path in [("DELETE", ""), ("PUT", ""), ("POST", "/enable"), ("POST", "/duplicate"),
                         ("GET", "/insights")]:
        r = await api.internal.request(method, f"/api/policies/{p['id']}{path}",
                                       json={"name": "x", "type": "rate_limit", "rule": RATE})
        assert r.status_code == 404, (method, path, r.text)
    r = await api.internal.get(f"/api/policies/{p['id']}/audit")
    assert r.status_code == 200 and r.json()["deleted"] is True
    events = r.json()["items"]
    assert [e["kind"] for e in events] == ["deleted", "created"]
    assert events[0]["details"]["before"]["name"] == "limit"
    assert events[0]["version"] == 1


async def test_list_search_filters_sorting_and_paging(api: Api) -> None:
    a = await create(api, name="Alpha limit")
    b = await create(api, name="beta retry", type="retry", rule=RETRY, status="paused")
    c = await create(api, name="Gamma 100%_limit", type="timeout",
                     rule={"timeoutMs": 5, "appliesTo": "step"})

    async def ids(**params: Any) -> list[int]:
        r = await api.internal.get("/api/policies", params=params)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]  # newest change first
    assert await ids(search="LIMIT") == [c["id"], a["id"]]
    assert await ids(search="100%_") == [c["id"]]  # LIKE wildcards are literal
    assert await ids(search="%") == [c["id"]]
    assert await ids(type="retry") == [b["id"]]
    assert await ids(status="paused") == [b["id"]]
    assert await ids(sortBy="name") == [a["id"], b["id"], c["id"]]
    assert await ids(sortBy="name", sortDir="desc") == [c["id"], b["id"], a["id"]]
    assert await ids(sortBy="type") == [a["id"], b["id"], c["id"]]
    assert await ids(applicationId=api.application_id, sortBy="updatedAt", sortDir="asc") == [
        a["id"], b["id"], c["id"]]
    assert await ids(applicationId=999999) == []
    r = await api.internal.get("/api/policies", params={"pageSize": 2, "pageNumber": 2,
                                                        "sortBy": "name"})
    assert r.json()["totalCount"] == 3 and [x["id"] for x in r.json()["items"]] == [c["id"]]


@pytest.mark.parametrize(("params", "message"), [
    ({"type": "x"}, "type: must be one of"), ({"status": "deleted"}, "status: must be one of"),
    ({"sortBy": "id"}, "sortBy: must be one of name, updatedAt, type"),
    ({"sortDir": "up"}, "sortDir: must be asc or desc"),
    ({"pageSize": 0}, "pageNumber must be >= 1"), ({"pageNumber": "x"}, "must be integers"),
    ({"applicationId": "x"}, "applicationId must be an integer"),
])
async def test_bad_list_parameters(api: Api, params: dict[str, Any], message: str) -> None:
    r = await api.internal.get("/api/policies", params=params)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


@pytest.mark.parametrize(("body", "message"), [
    ({"name": ""}, "name is required"),
    ({"name": None}, "name is required"),
    ({"name": 5}, "name: expected a string"),
    ({"type": None}, "type is required"),
    ({"type": "quota"}, "type: must be one of rate_limit, retry, timeout, circuit_breaker"),
    ({"rule": None}, "rule is required"),
    ({"rule": {**RATE, "limit": 0}}, "rule.limit: must be greater than 0"),
    ({"rule": {**RATE, "keyBy": "custom"}}, "rule.keyField is required when keyBy is custom"),
    ({"rule": {**RATE, "burst": 1}}, "rule.burst: must be at least limit (10)"),
    ({"type": "retry", "rule": {**RETRY, "maxAttempts": 101}},
     "rule.maxAttempts: must be between 1 and 100"),
    ({"type": "retry", "rule": {**RETRY, "maxDelayMs": 5}}, "rule.maxDelayMs: must be at least"),
    ({"type": "retry", "rule": {**RETRY, "jitter": 2}}, "rule.jitter"),
    ({"type": "timeout", "rule": {"timeoutMs": 1, "appliesTo": "all"}}, "rule.appliesTo"),
    ({"type": "circuit_breaker", "rule": {"failureThreshold": 0}}, "rule.failureThreshold"),
    ({"targeting": {"pipelines": "x"}}, "targeting.pipelines: expected an array of strings"),
    ({"targeting": {"environment": 1}}, "targeting.environment"),
    ({"status": "deleted"}, "status: must be one of active, paused, disabled"),
    ({"applicationId": "one"}, "applicationId: expected an integer"),
])
async def test_invalid_create_is_400_and_changes_nothing(api: Api, body: dict[str, Any],
                                                         message: str) -> None:
    existing = await create(api)
    before = snapshot(db(api))
    full = {"applicationId": api.application_id, "name": "n", "type": "rate_limit",
            "rule": RATE, **body}
    r = await api.internal.post("/api/policies", json=full)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith(message)
    # the same body as an update of an existing policy is refused the same way
    if "applicationId" not in body and "status" not in body:
        r = await api.internal.put(f"/api/policies/{existing['id']}", json=full)
        assert r.status_code == 400 and r.json()["error"]["message"].startswith(message)
    assert snapshot(db(api)) == before


async def test_malformed_bodies_and_unknown_ids(api: Api) -> None:
    before = snapshot(db(api))
    r = await api.internal.post("/api/policies", content=b"{nope",
                                headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]["message"]
    r = await api.internal.post("/api/policies", json=[1])
    assert r.status_code == 400
    r = await api.internal.post("/api/policies", json={"applicationId": 424242, "name": "n",
                                                       "type": "rate_limit", "rule": RATE})
    assert r.status_code == 404
    for method, path in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/pause"),
                         ("POST", "/duplicate"), ("GET", "/audit"), ("GET", "/insights")]:
        r = await api.internal.request(method, f"/api/policies/9999{path}",
                                       json={"name": "n", "type": "rate_limit", "rule": RATE})
        assert r.status_code == 404, (method, path)
        assert r.json()["error"]["message"] == "policy 9999 not found"
    assert snapshot(db(api)) == before


async def test_not_logged_in_is_401(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.running.internal_url) as anon:
        for method, path in [("GET", "/api/policies"), ("POST", "/api/policies"),
                             ("GET", "/api/policies/targets"), ("POST", "/api/policies/preview"),
                             ("GET", "/api/policies/1/audit")]:
            assert (await anon.request(method, path)).status_code == 401


async def _trigger(api: Api, pid: int, when: float, stage_id: int | None = None,
                   details: str | None = None) -> None:
    await api.running.services.store.run(lambda c: c.execute(
        "INSERT INTO policy_events (policy_id, created_at, kind, policy_version, stage_id,"
        " details) VALUES (?, ?, 'triggered', 1, ?, ?)", (pid, when, stage_id, details)))


async def test_insights_are_empty_without_triggers(api: Api) -> None:
    p = await create(api)
    r = await api.internal.get(f"/api/policies/{p['id']}/insights")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["total"] == 0 and doc["byStage"] == [] and doc["byHandler"] == []
    assert doc["bucketSeconds"] == 3600 and doc["lastTriggeredAt"] is None
    assert len(doc["series"]) in (24, 25)
    assert all(b["count"] == 0 for b in doc["series"])
    r = await api.internal.get(f"/api/policies/{p['id']}/insights",
                               params={"range": "7d", "bucket": "1d"})
    assert r.status_code == 200 and len(r.json()["series"]) in (7, 8)


async def test_triggers_feed_insights_and_list_kpis(api: Api) -> None:
    pipeline = await api.create([{"stageName": "charge", "stageHandlerName": "payments"}])
    stage_id = pipeline["stages"][0]["id"]
    p = await create(api)
    now = api.running.services.clock.now()
    await _trigger(api, p["id"], now - 60, stage_id)
    await _trigger(api, p["id"], now - 120, stage_id)
    await _trigger(api, p["id"], now - 3 * 3600, None, '{"stageName":"gone","handler":"old"}')
    await _trigger(api, p["id"], now - 2 * 86400)  # outside 24h
    item = (await api.internal.get("/api/policies")).json()["items"][0]
    assert item["triggers24h"] == 3 and item["lastTriggeredAt"] is not None
    doc = (await api.internal.get(f"/api/policies/{p['id']}/insights")).json()
    assert doc["total"] == 3
    assert sum(b["count"] for b in doc["series"]) == 3
    # the two recent ones fall in the last two hourly buckets, whatever the minute is now
    assert sum(b["count"] for b in doc["series"][-2:]) == 2
    assert doc["byStage"] == [{"stageName": "charge", "count": 2}, {"stageName": "gone", "count": 1}]
    assert doc["byHandler"] == [{"handler": "payments", "count": 2}, {"handler": "old", "count": 1}]
    # triggered events are not part of the change trail
    assert [e["kind"] for e in await audit(api, p["id"])] == ["created"]
    wide = (await api.internal.get(f"/api/policies/{p['id']}/insights",
                                   params={"range": "3d"})).json()
    assert wide["total"] == 4


@pytest.mark.parametrize(("params", "message"), [
    ({"range": "forever"}, "range: expected a duration"),
    ({"range": "10s"}, "range: must be between"),
    ({"range": "365d"}, "range: must be between"),
    ({"range": "30d", "bucket": "1m"}, "more than 1000 buckets"),
    ({"bucket": "5s"}, "bucket: must be between"),
])
async def test_bad_insight_parameters(api: Api, params: dict[str, str], message: str) -> None:
    p = await create(api)
    r = await api.internal.get(f"/api/policies/{p['id']}/insights", params=params)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


async def test_every_change_is_one_event_with_the_version(api: Api) -> None:
    p = await create(api)
    await api.internal.put(f"/api/policies/{p['id']}",
                           json={"name": "n2", "type": "rate_limit", "rule": RATE})
    await api.internal.post(f"/api/policies/{p['id']}/pause")
    rows = query(db(api), "SELECT kind, policy_version, actor FROM policy_events"
                          " WHERE policy_id = ? ORDER BY id", p["id"])
    assert [tuple(r) for r in rows] == [("created", 1, "admin@example.com"),
                                        ("updated", 2, "admin@example.com"),
                                        ("paused", 3, "admin@example.com")]
    assert query(db(api), "SELECT version FROM policies WHERE id = ?", p["id"])[0][0] == 3
