"""Keyword filters, application logs, and one worker's detail, events and heartbeats."""

from __future__ import annotations

import uuid

from conftest import Api
from test_admin_support import error, worker


async def test_keywords_distinct_keys_and_values(api: Api) -> None:
    for customer, env in (("acme", "prod"), ("globex", "prod"), ("acme", "test")):
        await api.create([{"stageName": "a", "stageHandlerName": "h"}], pipelineKeywords=[
            {"key": "customer", "value": customer}, {"key": "env", "value": env}])
    r = await api.internal.get("/api/keywords")
    assert r.status_code == 200, r.text
    assert r.json() == [{"key": "customer", "values": ["acme", "globex"]},
                        {"key": "env", "values": ["prod", "test"]}]
    r = await api.internal.get("/api/keywords", params={"applicationId": api.application_id})
    assert len(r.json()) == 2
    error(await api.internal.get("/api/keywords", params={"applicationId": 999}), 404)
    error(await api.internal.get("/api/keywords", params={"applicationId": "x"}), 400)


async def _log(api: Api, message: str, level: str, created: str) -> None:
    r = await api.external.post("/logs", headers=api.key(), json={
        "message": message, "logLevel": level, "created": created,
        "keywords": {"order": message}})
    assert r.status_code == 200, r.text


async def test_application_logs_paged_newest_first_with_filters(api: Api) -> None:
    await _log(api, "first 100%", "Information", "2030-01-01T00:00:01Z")
    await _log(api, "second", "Warning", "2030-01-01T00:00:02Z")
    await _log(api, "third", "Error", "2030-01-01T00:00:03Z")
    r = await api.internal.get("/api/logs")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["totalCount"], doc["pageNumber"], doc["pageSize"]) == (3, 1, 50)
    assert [x["message"] for x in doc["items"]] == ["third", "second", "first 100%"]
    top = doc["items"][0]
    assert (top["logLevel"], top["keywords"], top["applicationId"]) == (
        "Error", {"order": "third"}, api.application_id)
    assert top["created"] == "2030-01-01T00:00:03.000Z"

    async def messages(**params: object) -> list[str]:
        r = await api.internal.get("/api/logs", params=params)
        assert r.status_code == 200, r.text
        return [x["message"] for x in r.json()["items"]]

    assert await messages(pageSize=1, pageNumber=2) == ["second"]
    assert await messages(level="warn") == ["second"]
    assert await messages(level=["Error", "warning"]) == ["third", "second"]
    assert await messages(search="100%") == ["first 100%"]  # % is literal
    assert await messages(search="%") == ["first 100%"]
    assert await messages(search="SECOND") == ["second"]  # case-insensitive
    assert await messages(applicationId=api.application_id, level="Error") == ["third"]
    for params in ({"level": "loud"}, {"pageSize": 0}, {"pageSize": 201},
                   {"pageNumber": "one"}, {"pageNumber": 0}):
        error(await api.internal.get("/api/logs", params=params), 400)
    error(await api.internal.get("/api/logs", params={"applicationId": 999}), 404)


async def test_worker_detail_events_and_heartbeats(api: Api) -> None:
    wid = await worker(api, name="w1")
    r = await api.internal.get(f"/api/workers/{wid}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["id"], doc["name"], doc["state"], doc["effectiveState"]) == (
        wid, "w1", "ready", "ready")
    assert doc["handlers"] == ["h"] and doc["metadata"] == {"zone": "eu"}
    assert doc["processed"] == 3
    assert "session" not in str(sorted(k for k in doc if k != "sessionExpiresAt")).lower()

    events = (await api.internal.get(f"/api/workers/{wid}/events")).json()
    assert [e["eventType"] for e in events][:2] == ["custom", "state_changed"]
    assert events[0]["details"] == {"n": 1} and events[-1]["eventType"] == "started"
    r = await api.internal.get(f"/api/workers/{wid}/events", params={"limit": 1})
    assert [e["eventType"] for e in r.json()] == ["custom"]
    beats = (await api.internal.get(f"/api/workers/{wid}/heartbeats")).json()
    assert len(beats) == 1
    assert (beats[0]["state"], beats[0]["cpuPercent"], beats[0]["processed"]) == ("ready", 12.5, 3)

    for suffix in ("", "/events", "/heartbeats"):
        error(await api.internal.get(f"/api/workers/{uuid.uuid4()}{suffix}"), 404)
        assert "UUID" in error(await api.internal.get(f"/api/workers/not-a-uuid{suffix}"), 400)
    for limit in (0, 1001, "many"):
        error(await api.internal.get(f"/api/workers/{wid}/events", params={"limit": limit}), 400)
        error(await api.internal.get(f"/api/workers/{wid}/heartbeats",
                                     params={"limit": limit}), 400)
